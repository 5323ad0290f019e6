/**
 * nf_tables change notifications of the calling process's network namespace, on one
 * NETLINK_NETFILTER socket joined to NFNLGRP_NFTABLES: what `nft monitor` prints, without a
 * child process. The kernel sends them for every committed change, iptables-nft's included, so
 * a listener learns that someone touched a table instead of listing it on a timer.
 */
import { KernelError } from '../errors.js';
import { libc } from './libc.js';
import * as C from './netlink/constants.js';
import { listenNetlink } from './netlink/subscription.js';
import { decodeNftEvent, NETLINK_NETFILTER, NFNLGRP_NFTABLES, type NftEvent } from './netlink/nft-event-msg.js';

export type { NftEvent } from './netlink/nft-event-msg.js';

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
  return listenNetlink(c, fd, {
    groups: [{ name: 'NFNLGRP_NFTABLES', id: NFNLGRP_NFTABLES }],
    where: (op) => `nfnetlink ${op}`,
    onMessage: (m) => {
      const ev = decodeNftEvent(m);
      if (ev) onEvent(ev);
    },
    onOverrun: () => onEvent('overrun'),
  });
}
