/**
 * IP addresses as (family, bigint). Parsing is deliberately strict — own parser rather than
 * ipaddr.js, whose IPv4 parser accepts hex, octal and "long" forms ("0x7f.1") that have no place
 * in a network config. Pure.
 */
import { InvalidArgumentError } from '../errors.js';

export type Family = 4 | 6;

/** One IP address. `value` is the address as an unsigned integer (32 or 128 bits). */
export interface Addr {
  family: Family;
  value: bigint;
}

/** Number of bits in an address of this family. */
export function familyBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** Largest address value of this family. */
export function maxAddressValue(family: Family): bigint {
  return family === 4 ? 0xffff_ffffn : (1n << 128n) - 1n;
}

// Leading zeros are refused: "010" is octal to some parsers and decimal to others.
const V4_RE = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const HEX_GROUP_RE = /^[0-9a-fA-F]{1,4}$/;

function parseV4(s: string): number | undefined {
  const m = V4_RE.exec(s);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

function parseGroups(part: string): number[] | undefined {
  if (part === '') return [];
  const out: number[] = [];
  for (const g of part.split(':')) {
    if (!HEX_GROUP_RE.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

/** Returns the value and whether a dotted IPv4 tail was used ("::ffff:1.2.3.4"). */
function parseV6(s: string): { value: bigint; dotted: boolean } | undefined {
  if (s.length > 45) return undefined;
  let body = s;
  let dotted = false;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) !== -1) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    body = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
    dotted = true;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0] ?? '');
  if (!head) return undefined;
  let groups: number[];
  if (halves.length === 1) {
    if (head.length !== 8) return undefined;
    groups = head;
  } else {
    const tail = parseGroups(halves[1] ?? '');
    if (!tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return { value, dotted };
}

/** Parse without throwing; undefined for anything parseAddress would reject. */
export function tryParseAddress(s: string): Addr | undefined {
  if (typeof s !== 'string') return undefined;
  if (!s.includes(':')) {
    const v = parseV4(s);
    return v === undefined ? undefined : { family: 4, value: BigInt(v) };
  }
  const r = parseV6(s);
  if (!r || isMappedOrCompat(r.value, r.dotted)) return undefined;
  return { family: 6, value: r.value };
}

// ::ffff:a.b.c.d (mapped) is an IPv4 address in disguise; ::a.b.c.d (compatible) is deprecated.
// Both would let one host address be written two ways, so both are refused.
function isMappedOrCompat(value: bigint, dotted: boolean): boolean {
  const high = value >> 32n;
  return high === 0xffffn || (dotted && high === 0n);
}

/** Parse an IPv4 or IPv6 address (no prefix, no zone). Errors name `field`. */
export function parseAddress(s: string, field: string): Addr {
  const a = tryParseAddress(s);
  if (a) return a;
  const shown = JSON.stringify(String(s));
  if (typeof s === 'string' && s.includes('%')) {
    throw new InvalidArgumentError(field, `${shown}: IPv6 zone indexes are not allowed`);
  }
  if (typeof s === 'string' && s.includes('/')) {
    throw new InvalidArgumentError(field, `${shown} is a CIDR; expected an address without a prefix length`);
  }
  const r = typeof s === 'string' && s.includes(':') ? parseV6(s) : undefined;
  if (r && isMappedOrCompat(r.value, r.dotted)) {
    throw new InvalidArgumentError(field, `${shown}: IPv4-mapped/compatible IPv6 addresses are not allowed; use the IPv4 address`);
  }
  throw new InvalidArgumentError(field, `${shown} is not a valid IP address`);
}

/** Dotted quad of a 32-bit value given as a number (hot path of the allocator). */
export function formatV4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** IPv6 text in RFC 5952 canonical form: lowercase, no leading zeros, longest zero run as "::". */
export function formatV6(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // Longest run of two or more zero groups; the first one wins a tie (RFC 5952 §4.2.3).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Canonical text of an address. */
export function formatAddress(a: Addr): string {
  return a.family === 4 ? formatV4(Number(a.value)) : formatV6(a.value);
}

/** Canonical form of an address string (e.g. "FD00:0::1" → "fd00::1"). */
export function normalizeAddress(s: string, field: string): string {
  return formatAddress(parseAddress(s, field));
}
