/**
 * Neighbour announcements: a gratuitous ARP (IPv4) or an unsolicited neighbour advertisement
 * (IPv6, override flag set) that tells the sandboxes on a link "this address is at this MAC".
 *
 * Why: a client that asked for an address before its owner existed holds an INCOMPLETE
 * neighbour entry and asks again only every retrans_time (1 s by default); one whose entry
 * points at an old MAC waits even longer. An announcement updates entries that exist (Linux
 * accepts it for entries it already has, without arp_accept) and creates none, so the first
 * packet after the owner appears is not held back. The frames are sent on one interface of
 * one namespace; on an overlay bridge nothing broadcast crosses the vxlan device (no flooding),
 * so an announcement never leaves its host.
 *
 * The frame builders are pure; the socket is made in the interface's namespace (by the netns
 * worker, once per namespace) and then written from the main thread without a thread hop.
 */
import { KernelError } from '../errors.js';
import type { Libc } from './libc.js';
import { ipToBytes, macToBytes } from './netlink/ip-bytes.js';
import { AF_PACKET, arpRequestFrame, BROADCAST, ETH_P_ARP, linkAddr, SOCK_CLOEXEC, SOCK_RAW } from './packet-frames.js';

const ETH_P_IPV6 = 0x86dd;
const ICMPV6 = 58;
const NEIGHBOUR_ADVERTISEMENT = 136;
const NA_OVERRIDE = 0x20;
const OPT_TARGET_LLADDR = 2;
/** ff02::1, all nodes, and its Ethernet multicast address 33:33:00:00:00:01. */
const ALL_NODES = Buffer.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const ALL_NODES_MAC = Buffer.from([0x33, 0x33, 0, 0, 0, 1]);

/** One address and the MAC that holds it. */
export interface NeighbourAnnouncement {
  ip: string;
  mac: string;
}

/** Gratuitous ARP request: who-has IP tell IP, at MAC; broadcast from `source` (the sending link's MAC). */
export function gratuitousArpFrame(source: Uint8Array, mac: Uint8Array, ip: Uint8Array): Buffer {
  // A request rather than a reply (RFC 5227 §3); target address = sender address.
  return arpRequestFrame(source, mac, ip, ip);
}

/** The Internet checksum (RFC 1071) of the given parts, as if they were one buffer. */
export function internetChecksum(parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) sum += (p[i]! << 8) | (i + 1 < p.length ? p[i + 1]! : 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Unsolicited neighbour advertisement (RFC 4861 §7.2.6): from the address itself to all nodes,
 * hop limit 255, override set, solicited clear, with the target link-layer address option.
 */
export function unsolicitedNaFrame(source: Uint8Array, mac: Uint8Array, ip: Uint8Array): Buffer {
  const icmp = Buffer.alloc(32);
  icmp.writeUInt8(NEIGHBOUR_ADVERTISEMENT, 0);
  icmp.writeUInt8(NA_OVERRIDE, 4);
  Buffer.from(ip).copy(icmp, 8);
  icmp.writeUInt8(OPT_TARGET_LLADDR, 24);
  icmp.writeUInt8(1, 25); // option length in units of 8 bytes
  Buffer.from(mac).copy(icmp, 26);
  const pseudo = Buffer.alloc(40);
  Buffer.from(ip).copy(pseudo, 0);
  ALL_NODES.copy(pseudo, 16);
  pseudo.writeUInt32BE(icmp.length, 32);
  pseudo.writeUInt8(ICMPV6, 39);
  icmp.writeUInt16BE(internetChecksum([pseudo, icmp]), 2);

  const f = Buffer.alloc(14 + 40 + icmp.length);
  ALL_NODES_MAC.copy(f, 0);
  Buffer.from(source).copy(f, 6);
  f.writeUInt16BE(ETH_P_IPV6, 12);
  f.writeUInt32BE(0x60000000, 14); // version 6, no traffic class or flow label
  f.writeUInt16BE(icmp.length, 18);
  f.writeUInt8(ICMPV6, 20);
  f.writeUInt8(255, 21); // hop limit: receivers drop neighbour discovery with any other
  Buffer.from(ip).copy(f, 22);
  ALL_NODES.copy(f, 38);
  icmp.copy(f, 54);
  return f;
}

/** The frame that announces one entry: gratuitous ARP for IPv4, unsolicited NA for IPv6. */
export function announcementFrame(sourceMac: string, a: NeighbourAnnouncement): Buffer {
  const source = macToBytes(sourceMac, 'mac');
  const mac = macToBytes(a.mac, 'mac');
  const ip = ipToBytes(a.ip, 'address');
  return ip.length === 4 ? gratuitousArpFrame(source, mac, ip) : unsolicitedNaFrame(source, mac, ip);
}

/** A send-only packet socket (protocol 0: it receives nothing) in the calling thread's namespace. */
export function packetSocketHere(c: Libc): number {
  const fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new KernelError('packet socket', c.lastError(), { errno: c.errno() });
  return fd;
}

/**
 * Send each entry's announcement once on interface `ifindex`, with `sourceMac` as the
 * Ethernet source, through `fd` (a packet socket of the interface's namespace: made there once,
 * usable from any thread). Every failure is a KernelError with its errno.
 */
export function announceOn(c: Libc, fd: number, ifindex: number, sourceMac: string, entries: NeighbourAnnouncement[]): void {
  const op = `neighbour announcement on ifindex ${ifindex}`;
  for (const f of entries.map((e) => announcementFrame(sourceMac, e))) {
    const v6 = f.readUInt16BE(12) === ETH_P_IPV6;
    const sa = linkAddr(ifindex, v6 ? ETH_P_IPV6 : ETH_P_ARP, v6 ? ALL_NODES_MAC : BROADCAST);
    if (c.sendto(fd, f, f.length, 0, sa, sa.length) < 0) throw new KernelError(op, `sendto: ${c.lastError()}`, { errno: c.errno() });
  }
}
