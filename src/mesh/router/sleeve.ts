/**
 * The sleeve data path: IP packets from the TUN device go to the peer that owns the destination
 * address in the ring, through the next hop the topology gives (direct, or a relay when the
 * direct link is missing), in UDP datagrams — sealed with the hop's session keys when the mesh
 * has a password. A relay opens, decrements the inner TTL (so a transient routing loop dies out)
 * and re-seals for its next hop. Pure logic over injected lookups and send functions.
 */
import { TAG_BYTES } from '../crypto/ciphers.js';
import { DATA_HDR, KIND_BEAT, KIND_DATA, writeDataHeader } from '../wire/datagram.js';
import type { PeerConnection } from './peer-connection.js';

export interface SleeveDeps {
  self: string;
  ownerOf(addr: number): string | undefined;
  nextHop(peer: string): string | undefined;
  /** The open connection to a directly connected peer whose UDP path is up. */
  link(peer: string): PeerConnection | undefined;
  sendUdp(buf: Buffer, port: number, ip: string): void;
  deliver(pkt: Buffer): void;
}

export interface SleeveStats {
  fromTun: number;
  sent: number;
  received: number;
  delivered: number;
  relayed: number;
  noRoute: number;
  notIpv4: number;
  ttlExpired: number;
  rejected: number;
}

/** Recompute an IPv4 header checksum in place. */
function fixChecksum(p: Buffer): void {
  const ihl = (p[0]! & 0x0f) * 4;
  p.writeUInt16BE(0, 10);
  let sum = 0;
  for (let i = 0; i < ihl; i += 2) sum += p.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  p.writeUInt16BE(~sum & 0xffff, 10);
}

export class Sleeve {
  readonly stats: SleeveStats = {
    fromTun: 0,
    sent: 0,
    received: 0,
    delivered: 0,
    relayed: 0,
    noRoute: 0,
    notIpv4: 0,
    ttlExpired: 0,
    rejected: 0,
  };
  private readonly scratch = Buffer.allocUnsafe(65536);

  constructor(private readonly d: SleeveDeps) {}

  /** A packet the local stack sent into the TUN device. */
  fromTun(pkt: Buffer): void {
    this.stats.fromTun++;
    this.forward(pkt);
  }

  private forward(pkt: Buffer): void {
    if (pkt.length < 20 || pkt[0]! >> 4 !== 4) {
      this.stats.notIpv4++;
      return;
    }
    const owner = this.d.ownerOf(pkt.readUInt32BE(16));
    const via = owner && owner !== this.d.self ? this.d.nextHop(owner) : undefined;
    const link = via ? this.d.link(via) : undefined;
    if (!link || link.peerIdx === undefined) {
      this.stats.noRoute++;
      return;
    }
    this.send(link, KIND_DATA, pkt);
  }

  /** Send one datagram of `kind` over a link (a heartbeat has an empty payload). */
  send(link: PeerConnection, kind: number, payload: Buffer): void {
    const out = Buffer.allocUnsafe(DATA_HDR + payload.length + TAG_BYTES);
    writeDataHeader(out, kind, link.peerIdx!);
    let len: number;
    if (link.data) len = link.data.sealInto(out, DATA_HDR, payload);
    else {
      payload.copy(out, DATA_HDR);
      len = DATA_HDR + payload.length;
    }
    this.stats.sent++;
    this.d.sendUdp(out.subarray(0, len), link.udpPort, link.remoteIp);
  }

  /** A DATA or BEAT datagram for the session of `link`. Returns false if it did not authenticate. */
  fromUdp(frame: Buffer, link: PeerConnection): boolean {
    let payload: Buffer;
    if (link.data) {
      const n = link.data.openInto(frame, DATA_HDR, this.scratch);
      if (n < 0) {
        this.stats.rejected++;
        return false;
      }
      payload = this.scratch.subarray(0, n);
    } else {
      payload = frame.subarray(DATA_HDR);
    }
    if (frame[0] === KIND_BEAT) return true;
    this.stats.received++;
    if (payload.length < 20 || payload[0]! >> 4 !== 4) {
      this.stats.notIpv4++;
      return true;
    }
    const owner = this.d.ownerOf(payload.readUInt32BE(16));
    if (owner === this.d.self) {
      this.stats.delivered++;
      this.d.deliver(payload);
      return true;
    }
    if (payload[8]! <= 1) {
      this.stats.ttlExpired++;
      return true;
    }
    payload[8]!--;
    fixChecksum(payload);
    this.stats.relayed++;
    this.forward(payload);
    return true;
  }
}
