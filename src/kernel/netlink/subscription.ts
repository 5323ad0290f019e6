/**
 * A netlink multicast listener: an AF_NETLINK socket bound and joined to some groups, drained
 * on the event loop (libuv's poll through koffi, no timer, no blocking). `Rtnl.subscribe`
 * (rtnetlink events) and `watchNftables` (nf_tables events) both listen this way.
 */
import koffi from 'koffi';
import { KernelError } from '../../errors.js';
import type { Libc } from '../libc.js';
import { parseMessages, type NlMsg } from './codec.js';
import * as C from './constants.js';

const RECV_SIZE = 64 * 1024;
const EINTR = 4;
const ENOBUFS = 105;
/**
 * One receive buffer for every subscription: each drains synchronously, start to end, so none
 * is ever used by two at once.
 */
const SHARED_EVENT_BUF = Buffer.allocUnsafe(RECV_SIZE);

/** A live subscription; `close()` stops it and releases the socket. */
export interface NetlinkSubscription {
  close(): void;
}

export interface NetlinkListenOpts {
  /** Multicast groups to join, by name (for errors) and number. */
  groups: readonly { name: string; id: number }[];
  /** An error message's operation, named with its socket and namespace. */
  where(op: string): string;
  /** Every message the kernel sent. */
  onMessage(m: NlMsg): void;
  /** The kernel dropped messages (the socket buffer filled): the listener must re-read. */
  onOverrun(): void;
  /** Ask for this receive buffer (bytes), above the system limit if allowed. */
  rcvbuf?: number;
  /** Keep the process alive while listening (default false). */
  ref?: boolean;
}

function setIntOpt(c: Libc, fd: number, level: number, name: number, v: number): boolean {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return c.setsockopt(fd, level, name, b, 4) === 0;
}

/** Bind `fd` (a non-blocking netlink socket this call now owns: closed on failure), join the groups and listen. */
export function listenNetlink(c: Libc, fd: number, o: NetlinkListenOpts): NetlinkSubscription {
  try {
    const addr = Buffer.alloc(12);
    addr.writeUInt16LE(C.AF_NETLINK, 0);
    if (c.bind(fd, addr, 12) !== 0) throw new KernelError(o.where('bind'), c.lastError(), { errno: c.errno() });
    for (const g of o.groups) {
      if (!setIntOpt(c, fd, C.SOL_NETLINK, C.NETLINK_ADD_MEMBERSHIP, g.id)) {
        throw new KernelError(o.where(`join ${g.name}`), c.lastError(), { errno: c.errno() });
      }
    }
    if (o.rcvbuf !== undefined && !setIntOpt(c, fd, C.SOL_SOCKET, C.SO_RCVBUFFORCE, o.rcvbuf)) {
      setIntOpt(c, fd, C.SOL_SOCKET, C.SO_RCVBUF, o.rcvbuf);
    }
  } catch (err) {
    c.close(fd);
    throw err;
  }
  const buf = SHARED_EVENT_BUF;
  let open = true;
  const drain = (): void => {
    while (open) {
      const n = c.recv(fd, buf, RECV_SIZE, C.MSG_DONTWAIT);
      if (n < 0) {
        const e = c.errno();
        if (e === EINTR) continue;
        if (e === ENOBUFS) {
          o.onOverrun();
          continue;
        }
        return; // EAGAIN: drained
      }
      for (const m of parseMessages(buf, Math.min(n, RECV_SIZE))) o.onMessage(m);
    }
  };
  const handle = koffi.node.poll(fd, { readable: true }, drain);
  if (!o.ref) handle.unref();
  return {
    close(): void {
      if (!open) return;
      open = false;
      handle.stop();
      handle.close();
      c.close(fd);
    },
  };
}
