/**
 * Is this pid still the process we started? A pid file alone cannot say: pids are reused. The
 * argument vector (/proc/PID/cmdline) and the network namespace (/proc/PID/ns/net) must both
 * match before weft adopts or signals a process it finds by pid.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAlive } from './proc.js';

/** The argument vector of a running process, or undefined if it is gone (or a kernel thread). */
export function readCmdline(pid: number): string[] | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined; // the process is gone
  }
  if (raw === '') return undefined;
  // Arguments are NUL-terminated: drop the empty string after the last NUL.
  const parts = raw.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Inode of the network namespace a process lives in, or undefined if it is gone. */
export function processNetnsInode(pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return undefined; // gone
  }
}

/** Why `pid` is not the expected process, or undefined when it is (alive, same argv, same namespace). */
export function identityMismatch(pid: number, expected: { argv: readonly string[]; netnsInode?: number }): string | undefined {
  if (!isAlive(pid)) return `pid ${pid} is not running`;
  const argv = readCmdline(pid);
  if (!argv) return `pid ${pid} has no command line`;
  if (argv.length !== expected.argv.length || argv.some((a, i) => a !== expected.argv[i])) {
    return `pid ${pid} runs ${JSON.stringify(argv.slice(0, 3))}…, not ${JSON.stringify(expected.argv.slice(0, 3))}…`;
  }
  if (expected.netnsInode !== undefined) {
    const ino = processNetnsInode(pid);
    if (ino !== expected.netnsInode) return `pid ${pid} runs in another network namespace`;
  }
  return undefined;
}
