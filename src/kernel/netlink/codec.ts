/**
 * Netlink wire format, pure: building one request (header, family struct, attributes with
 * nesting and 4-byte alignment) and parsing the messages of a received datagram.
 * Host byte order is little-endian on every platform weft runs on (x86_64, aarch64).
 */
import {
  NLA_F_NESTED,
  NLA_TYPE_MASK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
} from './constants.js';

/** Round up to the netlink alignment (4). */
export const align4 = (n: number): number => (n + 3) & ~3;

/** Builds one netlink message into a growable buffer that is reused between requests. */
export class NlBuilder {
  buf: Buffer;
  off = 0;
  private readonly open: number[] = [];

  constructor(size = 4096) {
    this.buf = Buffer.alloc(size);
  }

  /** Start a message: writes the nlmsghdr (length and seq are filled in by `finish`). */
  start(type: number, flags: number): this {
    this.off = 0;
    this.open.length = 0;
    this.ensure(NLMSG_HDRLEN);
    this.buf.fill(0, 0, NLMSG_HDRLEN);
    this.buf.writeUInt16LE(type, 4);
    this.buf.writeUInt16LE(flags, 6);
    this.off = NLMSG_HDRLEN;
    return this;
  }

  private ensure(n: number): void {
    if (this.off + n + 4 <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.off + n + 64));
    this.buf.copy(bigger, 0, 0, this.off);
    this.buf = bigger;
  }

  /** Reserve `len` zeroed bytes (padded to 4) and return their offset, for a family struct. */
  reserve(len: number): number {
    const at = this.off;
    const padded = align4(len);
    this.ensure(padded);
    this.buf.fill(0, at, at + padded);
    this.off += padded;
    return at;
  }

  /** struct ifinfomsg (16 bytes). */
  ifinfomsg(m: { family?: number; type?: number; index?: number; flags?: number; change?: number }): this {
    const at = this.reserve(16);
    this.buf.writeUInt8(m.family ?? 0, at);
    this.buf.writeUInt16LE(m.type ?? 0, at + 2);
    this.buf.writeInt32LE(m.index ?? 0, at + 4);
    this.buf.writeUInt32LE((m.flags ?? 0) >>> 0, at + 8);
    this.buf.writeUInt32LE((m.change ?? 0) >>> 0, at + 12);
    return this;
  }

  /** struct ifaddrmsg (8 bytes). */
  ifaddrmsg(m: { family: number; prefixlen?: number; flags?: number; scope?: number; index?: number }): this {
    const at = this.reserve(8);
    this.buf.writeUInt8(m.family, at);
    this.buf.writeUInt8(m.prefixlen ?? 0, at + 1);
    this.buf.writeUInt8((m.flags ?? 0) & 0xff, at + 2);
    this.buf.writeUInt8(m.scope ?? 0, at + 3);
    this.buf.writeUInt32LE(m.index ?? 0, at + 4);
    return this;
  }

  /** struct rtmsg (12 bytes). */
  rtmsg(m: {
    family: number;
    dstLen?: number;
    srcLen?: number;
    tos?: number;
    table?: number;
    protocol?: number;
    scope?: number;
    type?: number;
    flags?: number;
  }): this {
    const at = this.reserve(12);
    const b = this.buf;
    b.writeUInt8(m.family, at);
    b.writeUInt8(m.dstLen ?? 0, at + 1);
    b.writeUInt8(m.srcLen ?? 0, at + 2);
    b.writeUInt8(m.tos ?? 0, at + 3);
    b.writeUInt8(m.table ?? 0, at + 4);
    b.writeUInt8(m.protocol ?? 0, at + 5);
    b.writeUInt8(m.scope ?? 0, at + 6);
    b.writeUInt8(m.type ?? 0, at + 7);
    b.writeUInt32LE((m.flags ?? 0) >>> 0, at + 8);
    return this;
  }

  /** struct ndmsg (12 bytes). */
  ndmsg(m: { family: number; index?: number; state?: number; flags?: number; type?: number }): this {
    const at = this.reserve(12);
    const b = this.buf;
    b.writeUInt8(m.family, at);
    b.writeInt32LE(m.index ?? 0, at + 4);
    b.writeUInt16LE(m.state ?? 0, at + 8);
    b.writeUInt8(m.flags ?? 0, at + 10);
    b.writeUInt8(m.type ?? 0, at + 11);
    return this;
  }

  /** An attribute with raw bytes. */
  attr(type: number, data: Uint8Array): this {
    const len = 4 + data.length;
    this.ensure(align4(len));
    const at = this.off;
    this.buf.writeUInt16LE(len, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.set(data, at + 4);
    this.buf.fill(0, at + len, at + align4(len));
    this.off += align4(len);
    return this;
  }

  private fixed(type: number, size: number, write: (at: number) => void): this {
    this.ensure(8 + size);
    const at = this.off;
    this.buf.writeUInt16LE(4 + size, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.fill(0, at + 4, at + 4 + align4(size));
    write(at + 4);
    this.off += 4 + align4(size);
    return this;
  }

  u8(type: number, v: number): this {
    return this.fixed(type, 1, (at) => this.buf.writeUInt8(v, at));
  }
  u16(type: number, v: number): this {
    return this.fixed(type, 2, (at) => this.buf.writeUInt16LE(v, at));
  }
  /** 16 bits in network byte order (ports). */
  be16(type: number, v: number): this {
    return this.fixed(type, 2, (at) => this.buf.writeUInt16BE(v, at));
  }
  u32(type: number, v: number): this {
    return this.fixed(type, 4, (at) => this.buf.writeUInt32LE(v >>> 0, at));
  }
  s32(type: number, v: number): this {
    return this.fixed(type, 4, (at) => this.buf.writeInt32LE(v, at));
  }
  /** A NUL-terminated string. */
  str(type: number, s: string): this {
    const n = Buffer.byteLength(s);
    return this.fixed(type, n + 1, (at) => {
      this.buf.write(s, at);
      this.buf.writeUInt8(0, at + n);
    });
  }

  /**
   * Open a nested attribute; close it with `end()`. NLA_F_NESTED is off by default, as in
   * iproute2: the legacy policies (IFLA_LINKINFO, VETH_INFO_PEER) predate it.
   */
  begin(type: number, nestedFlag = false): this {
    this.ensure(4);
    this.open.push(this.off);
    this.buf.writeUInt16LE(nestedFlag ? type | NLA_F_NESTED : type, this.off + 2);
    this.off += 4;
    return this;
  }

  end(): this {
    const at = this.open.pop();
    if (at === undefined) throw new Error('netlink builder: end() without begin()');
    this.buf.writeUInt16LE(this.off - at, at);
    return this;
  }

  /** Nested attribute whose contents are written by `fill`. */
  nest(type: number, fill: (b: this) => void, nestedFlag = false): this {
    this.begin(type, nestedFlag);
    fill(this);
    return this.end();
  }

  /** Set length and sequence number; returns a view of the finished message. */
  finish(seq: number): Buffer {
    if (this.open.length) throw new Error('netlink builder: unclosed nested attribute');
    this.buf.writeUInt32LE(this.off, 0);
    this.buf.writeUInt32LE(seq >>> 0, 8);
    return this.buf.subarray(0, this.off);
  }
}

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The bytes after the nlmsghdr (a view into the receive buffer: decode before reusing it). */
  payload: Buffer;
}

/** Split a datagram into its messages; stops at a truncated one. */
export function parseMessages(buf: Buffer, len = buf.length): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= len) {
    const mlen = buf.readUInt32LE(off);
    if (mlen < NLMSG_HDRLEN || off + mlen > len) break;
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + mlen),
    });
    off += align4(mlen);
  }
  return out;
}

/** Attributes by type (flags masked off; the last of a repeated type wins). */
export type Attrs = Map<number, Buffer>;

/** Parse the attributes in `buf[start, end)`. */
export function parseAttrs(buf: Buffer, start = 0, end = buf.length): Attrs {
  const out: Attrs = new Map();
  for (const a of attrList(buf, start, end)) out.set(a.type, a.data);
  return out;
}

/** Attributes in order, for lists where a type repeats. */
export function attrList(buf: Buffer, start = 0, end = buf.length): { type: number; data: Buffer }[] {
  const out: { type: number; data: Buffer }[] = [];
  let off = start;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) break;
    out.push({ type: buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, data: buf.subarray(off + 4, off + len) });
    off += align4(len);
  }
  return out;
}

export const attrU8 = (a: Attrs, t: number): number | undefined => a.get(t)?.readUInt8(0);
export const attrU16 = (a: Attrs, t: number): number | undefined => a.get(t)?.readUInt16LE(0);
export const attrU32 = (a: Attrs, t: number): number | undefined => {
  const d = a.get(t);
  return d && d.length >= 4 ? d.readUInt32LE(0) : undefined;
};
export const attrS32 = (a: Attrs, t: number): number | undefined => {
  const d = a.get(t);
  return d && d.length >= 4 ? d.readInt32LE(0) : undefined;
};
/** A NUL-terminated (or not) string attribute. */
export const attrStr = (a: Attrs, t: number): string | undefined => {
  const d = a.get(t);
  if (!d) return undefined;
  const z = d.indexOf(0);
  return d.toString('utf8', 0, z < 0 ? d.length : z);
};
export const attrNested = (a: Attrs, t: number): Attrs | undefined => {
  const d = a.get(t);
  return d ? parseAttrs(d) : undefined;
};

export interface NlErrorInfo {
  /** Positive errno; 0 is a plain acknowledgement. */
  errno: number;
  /** Header of the request it answers (its seq identifies it). */
  seq: number;
  /** Extended-ack message from the kernel, e.g. "Unknown device type". */
  extAck?: string;
  /** Offset in the request of the attribute the kernel blamed. */
  badAttrOffset?: number;
}

/** An error carried by NLMSG_DONE at the end of a dump (int error, then extended-ack TLVs). */
export function parseDoneError(msg: NlMsg): NlErrorInfo | undefined {
  const p = msg.payload;
  const errno = p.length >= 4 ? -p.readInt32LE(0) || 0 : 0;
  if (errno <= 0) return undefined;
  const info: NlErrorInfo = { errno, seq: msg.seq };
  if (msg.flags & NLM_F_ACK_TLVS) {
    const text = attrStr(parseAttrs(p, 4), NLMSGERR_ATTR_MSG);
    if (text) info.extAck = text;
  }
  return info;
}

/** Decode an NLMSG_ERROR payload (struct nlmsgerr + optional extended-ack TLVs). */
export function parseError(msg: NlMsg): NlErrorInfo {
  const p = msg.payload;
  if (p.length < 4 + NLMSG_HDRLEN) return { errno: p.length >= 4 ? -p.readInt32LE(0) || 0 : 0, seq: msg.seq };
  const errno = -p.readInt32LE(0) || 0; // never -0
  const seq = p.readUInt32LE(4 + 8);
  const info: NlErrorInfo = { errno, seq };
  if (msg.flags & NLM_F_ACK_TLVS) {
    // Without NLM_F_CAPPED the kernel echoed the whole request before the TLVs.
    const echoed = msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : p.readUInt32LE(4);
    const attrs = parseAttrs(p, 4 + align4(echoed));
    const text = attrStr(attrs, NLMSGERR_ATTR_MSG);
    if (text) info.extAck = text;
    const offs = attrU32(attrs, NLMSGERR_ATTR_OFFS);
    if (offs !== undefined) info.badAttrOffset = offs;
  }
  return info;
}
