/**
 * A child's stdout/stderr file with a size bound. The child writes the file directly (a pipe
 * through weftd would break, and stall the child, when weftd restarts), so the bound is kept by
 * copy-and-truncate: when the file passes its limit, it is copied to FILE.1 and truncated. The
 * child opened it with O_APPEND, so its next write lands at the new end. Lines written between
 * the copy and the truncate are lost; that is the price of never signalling the child.
 */
import { closeSync, copyFileSync, openSync, readSync, statSync, truncateSync, fstatSync } from 'node:fs';

/** Current size of a file, 0 when it does not exist. */
function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0; // not created yet
  }
}

export class BoundedLog {
  constructor(
    readonly file: string,
    readonly maxBytes: number,
  ) {}

  /** A fresh O_APPEND descriptor for a child's stdout and stderr; the caller closes it after spawn. */
  openForChild(): number {
    this.rotateIfFull();
    return openSync(this.file, 'a', 0o640);
  }

  /** Rotate when over the bound; returns whether it rotated. */
  rotateIfFull(): boolean {
    if (sizeOf(this.file) <= this.maxBytes) return false;
    copyFileSync(this.file, `${this.file}.1`);
    truncateSync(this.file, 0);
    return true;
  }

  /** The last `bytes` of the log (for error messages), '' when there is none. */
  tail(bytes = 2048): string {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return ''; // no log yet
    }
    try {
      const size = fstatSync(fd).size;
      const len = Math.min(bytes, size);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  }
}
