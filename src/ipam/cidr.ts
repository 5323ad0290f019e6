/**
 * CIDR prefixes: parsing, containment, overlap, enumeration. All address math is bigint so
 * IPv4 and IPv6 share one code path. Pure.
 */
import { InvalidArgumentError } from '../errors.js';
import { type Addr, type Family, familyBits, formatAddress, maxAddressValue, parseAddress } from './address.js';

export { type Addr, type Family, formatAddress, normalizeAddress, parseAddress, tryParseAddress } from './address.js';

/** A prefix. `network` has the host bits cleared; `host` is the address as written. */
export interface Cidr {
  family: Family;
  network: bigint;
  prefix: number;
  /** The address part as given ("10.1.2.3/24" → 10.1.2.3); equals `network` when no host bits. */
  host: bigint;
}

export interface ParseCidrOptions {
  /** Refuse host bits ("10.1.2.3/24") instead of clearing them. */
  strict?: boolean;
}

const PREFIX_RE = /^(0|[1-9]\d{0,2})$/;

/** Netmask of a prefix as a bigint. */
export function prefixMask(family: Family, prefix: number): bigint {
  const bits = familyBits(family);
  return maxAddressValue(family) ^ ((1n << BigInt(bits - prefix)) - 1n);
}

/**
 * Parse "addr/len". Host bits are cleared unless `strict`; every CIDR a user gives as a prefix
 * (--subnet, --ip-range, pools) is parsed strictly, as Docker refuses "10.20.0.5/24".
 * Errors name `field`.
 */
export function parseCidr(s: string, field: string, opts: ParseCidrOptions = {}): Cidr {
  const shown = (): string => JSON.stringify(String(s));
  if (typeof s !== 'string') throw new InvalidArgumentError(field, `${shown()} is not a CIDR`);
  const slash = s.indexOf('/');
  if (slash === -1) throw new InvalidArgumentError(field, `${shown()} has no prefix length (expected e.g. 10.1.0.0/24)`);
  const addrText = s.slice(0, slash);
  const prefixText = s.slice(slash + 1);
  let addr: Addr;
  try {
    addr = parseAddress(addrText, field);
  } catch (err) {
    throw new InvalidArgumentError(field, `${shown()} is not a valid CIDR: ${(err as Error).message}`, err);
  }
  const bits = familyBits(addr.family);
  if (!PREFIX_RE.test(prefixText) || Number(prefixText) > bits) {
    throw new InvalidArgumentError(field, `${shown()}: prefix length must be an integer from 0 to ${bits}`);
  }
  const prefix = Number(prefixText);
  const network = addr.value & prefixMask(addr.family, prefix);
  if (opts.strict && network !== addr.value) {
    const fixed = formatCidr({ family: addr.family, network, prefix, host: network });
    throw new InvalidArgumentError(field, `${shown()} has host bits set (did you mean ${fixed}?)`);
  }
  return { family: addr.family, network, prefix, host: addr.value };
}

/** Canonical text of a prefix ("10.1.0.0/24", "fd00::/64"); host bits are not shown. */
export function formatCidr(c: Cidr): string {
  return `${formatAddress({ family: c.family, value: c.network })}/${c.prefix}`;
}

/** Canonical form of a CIDR string, host bits cleared. */
export function normalizeCidr(s: string, field: string): string {
  return formatCidr(parseCidr(s, field));
}

/** Whether the address lies inside the prefix (false across families). */
export function cidrContains(c: Cidr, a: Addr): boolean {
  return c.family === a.family && (a.value & prefixMask(c.family, c.prefix)) === c.network;
}

/** Whether `inner` lies wholly inside `outer` (a prefix contains itself). */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    inner.prefix >= outer.prefix &&
    (inner.network & prefixMask(outer.family, outer.prefix)) === outer.network
  );
}

/** Whether two prefixes share any address. Prefixes either nest or are disjoint. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return a.prefix <= b.prefix ? cidrContainsCidr(a, b) : cidrContainsCidr(b, a);
}

/** Number of addresses in the prefix. */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(familyBits(c.family) - c.prefix);
}

/** The network address. */
export function firstAddress(c: Cidr): Addr {
  return { family: c.family, value: c.network };
}

/** The last address (the IPv4 broadcast address for prefixes up to /30). */
export function lastAddress(c: Cidr): Addr {
  return { family: c.family, value: c.network + cidrSize(c) - 1n };
}

/** The n-th address of the prefix, counting the network address as 0. */
export function nthAddress(c: Cidr, n: bigint | number): Addr {
  const i = BigInt(n);
  if (i < 0n || i >= cidrSize(c)) {
    throw new InvalidArgumentError('index', `${String(n)} is outside ${formatCidr(c)}`);
  }
  return { family: c.family, value: c.network + i };
}

/**
 * Addresses that may be given to hosts: all but the network and IPv4 broadcast addresses. The
 * IPv6 network address is the subnet-router anycast address (RFC 4291 §2.6.1). Point-to-point
 * prefixes (/31 per RFC 3021, /127 per RFC 6164) and single-address prefixes reserve nothing.
 */
export function hostRange(c: Cidr): { first: bigint; last: bigint } {
  const bits = familyBits(c.family);
  const last = c.network + cidrSize(c) - 1n;
  if (c.prefix >= bits - 1) return { first: c.network, last };
  return { first: c.network + 1n, last: c.family === 4 ? last - 1n : last };
}

/** "10.1.0.5" + 24 → "10.1.0.5/24" (interface address notation). */
export function addressWithPrefix(addr: Addr | string, prefix: number): string {
  const a = typeof addr === 'string' ? parseAddress(addr, 'address') : addr;
  const bits = familyBits(a.family);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    throw new InvalidArgumentError('prefix', `${prefix} is not a valid IPv${a.family} prefix length`);
  }
  return `${formatAddress(a)}/${prefix}`;
}

/** The consecutive /newPrefix blocks of `base`, lazily (a /48 has 65536 /64s). Validates eagerly. */
export function splitCidr(base: Cidr, newPrefix: number): Generator<Cidr, void, undefined> {
  const bits = familyBits(base.family);
  if (!Number.isInteger(newPrefix) || newPrefix < base.prefix || newPrefix > bits) {
    throw new InvalidArgumentError('prefix', `cannot split ${formatCidr(base)} into /${newPrefix} blocks`);
  }
  return blocks(base, newPrefix, bits);
}

function* blocks(base: Cidr, newPrefix: number, bits: number): Generator<Cidr, void, undefined> {
  const step = 1n << BigInt(bits - newPrefix);
  const end = base.network + cidrSize(base);
  for (let n = base.network; n < end; n += step) {
    yield { family: base.family, network: n, prefix: newPrefix, host: n };
  }
}
