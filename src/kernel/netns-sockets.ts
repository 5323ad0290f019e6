/**
 * Listening sockets inside another network namespace (overlay's embedded DNS: the gateway
 * address lives in the network's own namespace, not in the daemon's). A socket belongs to the
 * namespace of the thread that made it, so both are made on the netns worker thread and bound
 * there; the main thread then adopts the fds (dgram `bind({fd})`, net `listen({fd})`).
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { KernelError } from '../errors.js';
import type { Libc } from './libc.js';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;

/** A UDP and a TCP socket bound to one address and port (fds owned by the caller). */
export interface BoundSockets {
  udp: number;
  tcp: number;
}

/** struct sockaddr_in / sockaddr_in6 for address:port. */
export function sockaddr(address: string, port: number): Buffer {
  if (net.isIPv4(address)) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    Buffer.from(address.split('.').map(Number)).copy(b, 4);
    return b;
  }
  if (!net.isIPv6(address)) throw new KernelError('bind in netns', `"${address}" is not an IP address`);
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  Buffer.from(ipaddr.parse(address).toByteArray()).copy(b, 8);
  return b;
}

/**
 * Make and bind both sockets in the calling thread's namespace (run on the netns worker after
 * setns). On any failure nothing stays open and the error carries the errno.
 */
export function bindHere(c: Libc, address: string, port: number): BoundSockets {
  const op = `bind ${address}:${port} in netns`;
  const family = net.isIPv6(address) ? AF_INET6 : AF_INET;
  const addr = sockaddr(address, port);
  const opened: number[] = [];
  try {
    const make = (type: number): number => {
      const fd = c.socket(family, type | SOCK_CLOEXEC, 0);
      if (fd < 0) throw new KernelError(op, `socket: ${c.lastError()}`, { errno: c.errno() });
      opened.push(fd);
      return fd;
    };
    const udp = make(SOCK_DGRAM);
    const tcp = make(SOCK_STREAM);
    // A listener re-made right after one closed must not wait out TIME_WAIT connections.
    const one = Buffer.alloc(4);
    one.writeInt32LE(1, 0);
    if (c.setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, one, 4) !== 0) {
      throw new KernelError(op, `setsockopt SO_REUSEADDR: ${c.lastError()}`, { errno: c.errno() });
    }
    for (const fd of [udp, tcp]) {
      if (c.bind(fd, addr, addr.length) !== 0) throw new KernelError(op, c.lastError(), { errno: c.errno() });
    }
    return { udp, tcp };
  } catch (err) {
    for (const fd of opened) c.close(fd);
    throw err;
  }
}
