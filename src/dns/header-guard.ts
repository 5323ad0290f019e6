/**
 * The first look at a datagram, from its 12-byte header alone, before any decoding. A decoder
 * trusts the section counts; a 12-byte packet claiming 65535 records of each kind made the
 * decoder work for ~11 ms per packet, so 200 such packets a second silenced a network's DNS.
 * Here the counts are checked against the bytes actually present (every question needs at
 * least 5, every record at least 11), and the shapes a stub resolver never sends are answered
 * (or dropped) without decoding. Pure.
 */
import { RCODE, type Rcode } from './answer.js';

export const HEADER_LEN = 12;
/** Smallest encodings: root name (1) + type + class (4); a record adds TTL + RDLENGTH (6). */
const MIN_QUESTION = 5;
const MIN_RECORD = 11;
/** Records beyond the question a query may carry (EDNS OPT, a cookie, TSIG…): a few, not thousands. */
export const MAX_EXTRA_RECORDS = 8;

export interface DnsHeader {
  id: number;
  /** True for responses (QR set). */
  response: boolean;
  opcode: number;
  /** RD as sent (copied into replies). */
  rd: boolean;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export function readHeader(msg: Buffer): DnsHeader | undefined {
  if (msg.length < HEADER_LEN) return undefined;
  const b2 = msg[2]!;
  return {
    id: msg.readUInt16BE(0),
    response: (b2 & 0x80) !== 0,
    opcode: (b2 >> 3) & 0x0f,
    rd: (b2 & 0x01) !== 0,
    qdcount: msg.readUInt16BE(4),
    ancount: msg.readUInt16BE(6),
    nscount: msg.readUInt16BE(8),
    arcount: msg.readUInt16BE(10),
  };
}

/**
 * What to do with a datagram before decoding it: 'drop' (responses, runts: answering could
 * start a loop or has no ID), a header-only error reply, or 'decode' when the header describes
 * a single-question query that fits in the bytes given.
 */
export function screen(msg: Buffer): 'drop' | 'decode' | { rcode: Rcode } {
  const h = readHeader(msg);
  if (!h || h.response) return 'drop';
  if (h.opcode !== 0) return { rcode: RCODE.NOTIMP };
  const extra = h.ancount + h.nscount + h.arcount;
  if (h.qdcount !== 1 || extra > MAX_EXTRA_RECORDS) return { rcode: RCODE.FORMERR };
  if (HEADER_LEN + MIN_QUESTION * h.qdcount + MIN_RECORD * extra > msg.length) return { rcode: RCODE.FORMERR };
  return 'decode';
}

/**
 * A reply built from the query's header alone: same ID and opcode, RD copied, QR and the rcode
 * set, no sections. Costs nothing to make, so refusing or rejecting is never expensive.
 */
export function headerOnlyReply(msg: Buffer, rcode: Rcode): Buffer {
  const out = Buffer.alloc(HEADER_LEN);
  out[0] = msg[0]!;
  out[1] = msg[1]!;
  out[2] = 0x80 | (msg[2]! & 0x79); // QR, opcode and RD kept; AA and TC clear
  out[3] = 0x80 | rcode; // RA: weft recurses through its upstreams
  return out;
}
