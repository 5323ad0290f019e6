/**
 * Finding the helper programs weft runs (bird, nsenter, wireguard-go, …) before running them,
 * so a missing one is a clear error that names the package instead of a child exiting 127.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, MissingProgramError } from '../errors.js';

// Daemons live in sbin, which a non-login root shell or a systemd unit may leave off PATH.
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false; // absent or not executable: the caller tries the next directory
  }
}

/**
 * Absolute path of `program`: an absolute path is checked as given; a bare name is looked up in
 * PATH and then the sbin directories. Throws MissingProgramError naming `packageName`.
 */
export function resolveProgram(program: string, packageName: string, searchPath = process.env.PATH ?? ''): string {
  if (program === '' || program.includes('\0'))
    throw new InvalidArgumentError('program', `${JSON.stringify(program)} is not a program name`);
  if (program.includes('/')) {
    if (!path.isAbsolute(program)) throw new InvalidArgumentError('program', `"${program}" must be a bare name or an absolute path`);
    if (isExecutableFile(program)) return program;
    throw new MissingProgramError(program, packageName);
  }
  const dirs = [...searchPath.split(':').filter((d) => path.isAbsolute(d)), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, program);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new MissingProgramError(program, packageName);
}
