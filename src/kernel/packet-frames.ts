/**
 * What the kernel boundary's raw Ethernet senders share (ARP probes, neighbour announcements):
 * packet-socket constants, the link-layer address to send to, and the ARP frame layout.
 */

export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const ETH_P_ARP = 0x0806;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;
/** Ethernet's minimum frame (without FCS): shorter ARP frames are padded to it. */
export const FRAME_MIN = 60;
export const BROADCAST = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** sockaddr_ll for sending on ifindex, EtherType `protocol`, to `dest` (default broadcast). */
export function linkAddr(ifindex: number, protocol: number = ETH_P_ARP, dest: Uint8Array = BROADCAST): Buffer {
  const sa = Buffer.alloc(20);
  sa.writeUInt16LE(AF_PACKET, 0);
  sa.writeUInt16BE(protocol, 2);
  sa.writeInt32LE(ifindex, 4);
  sa.writeUInt16LE(1, 8); // ARPHRD_ETHER
  sa.writeUInt8(6, 11); // halen
  Buffer.from(dest).copy(sa, 12);
  return sa;
}

/** A broadcast ARP request (Ethernet/IPv4) from `ethSource`: sender `sha`/`spa`, target address `tpa`, target MAC zero. */
export function arpRequestFrame(ethSource: Uint8Array, sha: Uint8Array, spa: Uint8Array, tpa: Uint8Array): Buffer {
  const f = Buffer.alloc(FRAME_MIN);
  BROADCAST.copy(f, 0);
  Buffer.from(ethSource).copy(f, 6);
  f.writeUInt16BE(ETH_P_ARP, 12);
  f.writeUInt16BE(1, 14); // hardware: Ethernet
  f.writeUInt16BE(0x0800, 16); // protocol: IPv4
  f.writeUInt8(6, 18);
  f.writeUInt8(4, 19);
  f.writeUInt16BE(ARPOP_REQUEST, 20);
  Buffer.from(sha).copy(f, 22);
  Buffer.from(spa).copy(f, 28);
  Buffer.from(tpa).copy(f, 38);
  return f;
}
