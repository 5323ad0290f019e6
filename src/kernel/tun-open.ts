/**
 * Opening a TUN device on the calling thread (its network namespace is where the device is
 * made). Shared by the main thread and the netns worker.
 */
import { InvalidArgumentError, KernelError, KernelUnsupportedError } from '../errors.js';
import { libc } from './libc.js';

const O_RDWR = 2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const TUNSETIFF = 0x400454ca;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
const IFNAMSIZ = 16;
const ENOENT = 2;

/** Interface names reach the kernel: ≤ 15 bytes, no "/", no whitespace, not "." or "..". */
export function checkIfName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name) || name === '.' || name === '..') {
    throw new InvalidArgumentError('name', `"${name}" is not a valid interface name (1–15 of A-Z a-z 0-9 _ . -)`);
  }
  return name;
}

/** A non-blocking fd for the L3 TUN device `name` (IFF_TUN | IFF_NO_PI), created in this thread's namespace. */
export function openTunHere(name: string): number {
  checkIfName(name);
  const c = libc();
  const fd = c.open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const e = c.errno();
    if (e === ENOENT) throw new KernelUnsupportedError('tun', '/dev/net/tun is missing');
    throw new KernelError(`tun open ${name}`, `open /dev/net/tun: ${c.lastError()}`, { errno: e });
  }
  const ifr = Buffer.alloc(40); // struct ifreq: name[16] then a union whose first member is short flags
  ifr.write(name, 0, IFNAMSIZ - 1, 'ascii');
  ifr.writeUInt16LE(IFF_TUN | IFF_NO_PI, IFNAMSIZ);
  if (c.ioctlPtr(fd, TUNSETIFF, ifr) !== 0) {
    const e = c.errno();
    const msg = c.lastError();
    c.close(fd);
    throw new KernelError(`tun open ${name}`, `TUNSETIFF: ${msg}`, { errno: e });
  }
  return fd;
}
