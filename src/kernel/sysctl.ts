/**
 * Network sysctls, per namespace. /proc/sys/net shows the namespace of the *thread* that
 * opens the file, so another namespace's values are read and written on the netns worker.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, KernelError } from '../errors.js';
import { libc } from './libc.js';
import { netnsCall, openNetnsFd } from './netns.js';

const SEGMENT = /^[A-Za-z0-9_@+-][A-Za-z0-9_@.+-]*$/;
/** Keys whose 4th part is an interface name, which may itself contain dots ("eth0.100"). */
const PER_IF = /^net\.(ipv4|ipv6)\.(conf|neigh)\.(.+)\.([^.]+)$/;

/**
 * /proc/sys path of a network sysctl key: "net.ipv4.ip_forward", "net.ipv6.conf.eth0.100.mtu"
 * or the slash form "net/ipv6/conf/eth0.100/mtu".
 */
export function sysctlFile(key: string): string {
  let parts: string[];
  if (key.includes('/')) parts = key.split('/');
  else {
    const m = PER_IF.exec(key);
    parts = m ? ['net', m[1]!, m[2]!, m[3]!, m[4]!] : key.split('.');
  }
  if (parts[0] !== 'net' || parts.length < 3 || !parts.every((p) => SEGMENT.test(p) && p !== '.' && p !== '..')) {
    throw new InvalidArgumentError('sysctl', `"${key}" is not a network sysctl key`);
  }
  return `/proc/sys/${parts.join('/')}`;
}

function fsError(op: string, err: unknown): KernelError {
  const e = err as NodeJS.ErrnoException;
  return new KernelError(op, e.code ?? e.message, { cause: err, ...(typeof e.errno === 'number' ? { errno: -e.errno } : {}) });
}

async function inNetns<T>(netnsPath: string, run: (nsFd: number) => Promise<T>): Promise<T> {
  const nsFd = openNetnsFd(netnsPath);
  try {
    return await run(nsFd);
  } finally {
    libc().close(nsFd);
  }
}

/** Write a sysctl in the namespace at `netnsPath`, or the process's own when undefined. */
export async function writeSysctlIn(netnsPath: string | undefined, key: string, value: string): Promise<void> {
  const file = sysctlFile(key);
  if (netnsPath === undefined) {
    try {
      writeFileSync(file, value);
    } catch (err) {
      throw fsError(`sysctl write ${file}`, err);
    }
    return;
  }
  await inNetns(netnsPath, (nsFd) => netnsCall<void>({ op: 'sysctl-write', nsFd, file, value }));
}

/** Read a sysctl (trimmed) in the namespace at `netnsPath`, or the process's own. */
export async function readSysctlIn(netnsPath: string | undefined, key: string): Promise<string> {
  const file = sysctlFile(key);
  if (netnsPath === undefined) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw fsError(`sysctl read ${file}`, err);
    }
  }
  return (await inNetns(netnsPath, (nsFd) => netnsCall<string>({ op: 'sysctl-read', nsFd, file }))).trim();
}
