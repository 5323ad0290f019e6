/**
 * The BIRD 2 executable: where it is (a missing one names the Debian package) and its
 * parse-only mode (`bird -p -c FILE`), which checks a configuration file without starting a
 * daemon or touching any namespace.
 */
import { execFile } from 'node:child_process';
import { KernelError } from '../errors.js';
import { resolveProgram } from './program-path.js';

export const BIRD_PACKAGE = 'bird2';

/** Absolute path of `bird` (or of `program` when given); MissingProgramError names "bird2". */
export function resolveBird(program = 'bird'): string {
  return resolveProgram(program, BIRD_PACKAGE);
}

/** BIRD's parser rejected a configuration; `line`/`column` point into the file when BIRD says. */
export class BirdConfigError extends KernelError {
  readonly line?: number;
  readonly column?: number;
  constructor(file: string, detail: string) {
    super(`bird parse ${file}`, detail.trim());
    const m = /:(\d+):(\d+) /.exec(detail);
    if (m) {
      this.line = Number(m[1]);
      this.column = Number(m[2]);
    }
  }
}

/** Check a configuration file with BIRD's own parser (bounded to 10 s); throws BirdConfigError. */
export function birdParseCheck(file: string, program = 'bird'): Promise<void> {
  const bird = resolveBird(program);
  return new Promise((resolve, reject) => {
    execFile(bird, ['-p', '-c', file], { timeout: 10_000, env: { PATH: process.env.PATH ?? '' } }, (err, _stdout, stderr) => {
      if (!err) resolve();
      else reject(new BirdConfigError(file, String(stderr) || err.message));
    });
  });
}
