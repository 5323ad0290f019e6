/** IP addresses, CIDRs and MACs to and from their netlink byte forms. */
import ipaddr from 'ipaddr.js';
import { InvalidArgumentError } from '../../errors.js';
import { AF_INET, AF_INET6 } from './constants.js';

export interface ParsedCidr {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Buffer;
  prefix: number;
}

export const afOf = (family: 4 | 6): number => (family === 4 ? AF_INET : AF_INET6);
export const familyOfAf = (af: number): 4 | 6 | undefined => (af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined);

/** Bytes of an IPv4 (dotted quad only) or IPv6 address. */
export function ipToBytes(ip: string, field = 'address'): Buffer {
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) return Buffer.from(ipaddr.IPv4.parse(ip).toByteArray());
  if (ip.includes(':') && ipaddr.IPv6.isValid(ip)) return Buffer.from(ipaddr.IPv6.parse(ip).toByteArray());
  throw new InvalidArgumentError(field, `"${ip}" is not an IP address`);
}

/** Text form of 4 or 16 address bytes (IPv6 in RFC 5952 short form). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) return ipaddr.fromByteArray(Array.from(b)).toString();
  throw new Error(`address of ${b.length} bytes`);
}

/** "10.1.0.2/24" → family, bytes, prefix. A bare address gets the full-length prefix. */
export function parseCidr(cidr: string, field = 'cidr'): ParsedCidr {
  const slash = cidr.indexOf('/');
  const ip = slash < 0 ? cidr : cidr.slice(0, slash);
  const bytes = ipToBytes(ip, field);
  const family: 4 | 6 = bytes.length === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = cidr.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new InvalidArgumentError(field, `"${cidr}" has a bad prefix length`);
    prefix = Number(p);
  }
  return { family, bytes, prefix };
}

/** The IPv4 broadcast address of `bytes/prefix` (all host bits set). */
export function broadcastOf(bytes: Buffer, prefix: number): Buffer {
  const v = bytes.readUInt32BE(0);
  const host = prefix >= 32 ? 0 : 0xffffffff >>> prefix;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((v | host) >>> 0, 0);
  return out;
}

/** "aa:bb:cc:dd:ee:ff" → 6 bytes. */
export function macToBytes(mac: string, field = 'mac'): Buffer {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) throw new InvalidArgumentError(field, `"${mac}" is not a MAC address`);
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

/** Lower-case colon-separated hex of a link-layer address of any length. */
export function bytesToMac(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (i ? ':' : '') + (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}
