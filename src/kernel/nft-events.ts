/**
 * nf_tables change notifications of the calling process's network namespace, on one
 * NETLINK_NETFILTER socket joined to NFNLGRP_NFTABLES: what `nft monitor` prints, without a
 * child process. The kernel sends them for every committed change, iptables-nft's included, so
 * a listener learns that someone touched a table instead of listing it on a timer.
 */
import koffi from 'koffi';
import { KernelError } from '../errors.js';
import { libc } from './libc.js';
import { parseMessages } from './netlink/codec.js';
import * as C from './netlink/constants.js';
import { decodeNftEvent, NETLINK_NETFILTER, NFNLGRP_NFTABLES, type NftEvent } from './netlink/nft-event-msg.js';

export type { NftEvent } from './netlink/nft-event-msg.js';

const RECV_SIZE = 64 * 1024;
const EINTR = 4;
const ENOBUFS = 105;

/** A live subscription; `close()` stops it and releases the socket. */
export interface NftWatch {
  close(): void;
}

/**
 * Call `onEvent` for every table/chain/rule change in this namespace, and with 'overrun' when
 * the kernel dropped notifications (the socket buffer filled): then the listener must re-read.
 * Does not keep the process alive.
 */
export function watchNftables(onEvent: (e: NftEvent | 'overrun') => void): NftWatch {
  const c = libc();
  const fd = c.socket(C.AF_NETLINK, C.SOCK_RAW | C.SOCK_CLOEXEC | C.SOCK_NONBLOCK, NETLINK_NETFILTER);
  if (fd < 0) throw new KernelError('nfnetlink socket', c.lastError(), { errno: c.errno() });
  try {
    const addr = Buffer.alloc(12);
    addr.writeUInt16LE(C.AF_NETLINK, 0);
    if (c.bind(fd, addr, 12) !== 0) throw new KernelError('nfnetlink bind', c.lastError(), { errno: c.errno() });
    const g = Buffer.alloc(4);
    g.writeInt32LE(NFNLGRP_NFTABLES, 0);
    if (c.setsockopt(fd, C.SOL_NETLINK, C.NETLINK_ADD_MEMBERSHIP, g, 4) !== 0) {
      throw new KernelError('nfnetlink join NFNLGRP_NFTABLES', c.lastError(), { errno: c.errno() });
    }
  } catch (err) {
    c.close(fd);
    throw err;
  }
  const buf = Buffer.allocUnsafe(RECV_SIZE);
  let open = true;
  const drain = (): void => {
    while (open) {
      const n = c.recv(fd, buf, RECV_SIZE, C.MSG_DONTWAIT);
      if (n < 0) {
        const e = c.errno();
        if (e === EINTR) continue;
        if (e === ENOBUFS) {
          onEvent('overrun');
          continue;
        }
        return; // EAGAIN: drained
      }
      for (const m of parseMessages(buf, Math.min(n, RECV_SIZE))) {
        const ev = decodeNftEvent(m);
        if (ev) onEvent(ev);
      }
    }
  };
  const handle = koffi.node.poll(fd, { readable: true }, drain);
  handle.unref();
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
