/**
 * One weftd per state: an exclusive flock(2) on `weftd.lock` in the state directory (and in
 * the runtime directory, whose namespaces and sandbox files the reconciler also sweeps). Two
 * daemons on one state would run two reconcilers against one kernel and unlink each other's
 * sockets. The lock dies with the process (the kernel drops it when the fd closes), so a crashed
 * daemon never leaves a stale lock behind; the file itself is never unlinked (unlinking a lock
 * file lets a third process lock a new inode while the second still holds the old one).
 */
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ConflictError, KernelError } from '../errors.js';
import { libc } from './libc.js';

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const EINTR = 4;
export const LOCK_FILE = 'weftd.lock';

export interface StateLock {
  /** The lock files held. */
  readonly paths: string[];
  release(): void;
}

/** The pid recorded in a lock file, if it names one. */
function holderOf(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    // Unreadable holder: the message says "unknown" rather than guessing.
    return undefined;
  }
}

function lockOne(dir: string, what: string, mode: number): number {
  mkdirSync(dir, { recursive: true, mode });
  const file = path.join(dir, LOCK_FILE);
  // O_NOFOLLOW: a symlink planted at the lock path must not make weftd truncate another file.
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  const c = libc();
  for (;;) {
    if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) break;
    const e = c.errno();
    if (e === EINTR) continue;
    closeSync(fd);
    if (e === EWOULDBLOCK) {
      const pid = holderOf(file);
      throw new ConflictError(
        what,
        `another weftd (pid ${pid ?? 'unknown'}) is running on ${what} ${dir}: one daemon per state; stop it first or use another --${what}`,
      );
    }
    throw new KernelError(`lock ${file}`, c.lastError(), { errno: e });
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  return fd;
}

/**
 * Lock the state directory and the runtime directory for this process, or throw a
 * ConflictError naming the pid of the daemon that holds them.
 */
export function acquireStateLock(dirs: { stateDir: string; runDir: string }): StateLock {
  // Modes as the engine makes these directories (the runtime one is traversable by sandboxes).
  const want: Array<[string, string, number]> = [[path.resolve(dirs.stateDir), 'state-dir', 0o700]];
  if (path.resolve(dirs.runDir) !== want[0]![0]) want.push([path.resolve(dirs.runDir), 'run-dir', 0o711]);
  const fds: number[] = [];
  try {
    for (const [dir, what, mode] of want) fds.push(lockOne(dir, what, mode));
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
  let released = false;
  return {
    paths: want.map(([d]) => path.join(d, LOCK_FILE)),
    release() {
      if (released) return;
      released = true;
      for (const fd of fds) closeSync(fd);
    },
  };
}
