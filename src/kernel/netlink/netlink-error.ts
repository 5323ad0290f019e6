/** Netlink errors into `KernelError`s that name the operation, errno and kernel's message. */
import { constants } from 'node:os';
import { KernelError } from '../../errors.js';
import type { NlErrorInfo } from './codec.js';

let names: Map<number, string> | undefined;

/** "EEXIST" for 17 (from Node's table of the platform's errno names). */
export function errnoName(errnum: number): string {
  if (!names) {
    names = new Map();
    for (const [n, v] of Object.entries(constants.errno)) if (!names.has(v)) names.set(v, n);
  }
  return names.get(errnum) ?? `errno ${errnum}`;
}

/** "File exists (EEXIST)"; without `strerror` just "EEXIST". */
export function describeErrno(errnum: number, strerror?: (e: number) => string): string {
  const name = errnoName(errnum);
  const text = strerror ? strerror(errnum) : name;
  return text === name ? name : `${text} (${name})`;
}

/** e.g. `link add veth wfv123: File exists (EEXIST)`, plus the extended ack when there is one. */
export function netlinkError(op: string, e: NlErrorInfo, strerror?: (e: number) => string): KernelError {
  const base = describeErrno(e.errno, strerror);
  return new KernelError(op, e.extAck ? `${base}: ${e.extAck}` : base, { errno: e.errno });
}
