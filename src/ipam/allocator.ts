/**
 * Address allocation over one pool. Pure: the caller brings the set of used addresses (from the
 * store) and the last address handed out, and records the result itself.
 *
 * Addresses in `used` must be in canonical form — the form every function here returns.
 */
import { AddressInUseError, InvalidArgumentError, IpamExhaustedError } from '../errors.js';
import type { IpamPoolConfig } from '../model/types.js';
import { type Family, formatAddress, formatV6, parseAddress, tryParseAddress } from './address.js';
import { type Cidr, cidrContains, cidrOverlaps, cidrSize, hostRange, parseCidr } from './cidr.js';

interface ResolvedPool {
  subnet: Cidr;
  /** Inclusive bounds addresses are handed out from: ip-range ∩ host addresses of the subnet. */
  lo: bigint;
  hi: bigint;
  reserved: Set<string>;
}

function resolve(pool: IpamPoolConfig): ResolvedPool {
  const subnet = parseCidr(pool.subnet, 'subnet');
  const hosts = hostRange(subnet);
  let lo = hosts.first;
  let hi = hosts.last;
  if (pool.ipRange !== undefined) {
    const range = parseCidr(pool.ipRange, 'ip-range');
    const last = range.network + cidrSize(range) - 1n;
    if (range.network > lo) lo = range.network;
    if (last < hi) hi = last;
  }
  return { subnet, lo, hi, reserved: reservedAddresses(pool) };
}

/**
 * Addresses never handed out: the network address (for IPv6, the subnet-router anycast
 * address), the IPv4 broadcast address, the gateway and the aux addresses.
 */
export function reservedAddresses(pool: IpamPoolConfig): Set<string> {
  const subnet = parseCidr(pool.subnet, 'subnet');
  const { first, last } = hostRange(subnet);
  const out = new Set<string>();
  if (first !== subnet.network) out.add(formatAddress({ family: subnet.family, value: subnet.network }));
  if (last !== subnet.network + cidrSize(subnet) - 1n) out.add(formatAddress({ family: subnet.family, value: last + 1n }));
  out.add(formatAddress(parseAddress(pool.gateway, 'gateway')));
  for (const a of Object.values(pool.auxAddresses)) out.add(formatAddress(parseAddress(a, 'aux-address')));
  return out;
}

// Decimal text of 0..255, so the IPv4 scan builds each candidate from a cached "a.b.c." prefix.
const DEC = Array.from({ length: 256 }, (_, i) => String(i));

/** Walk `steps` addresses from `start`, wrapping hi → lo; the first one not `taken`. */
function scanV4(lo: number, hi: number, start: number, steps: number, taken: (s: string) => boolean): string | undefined {
  let v = start;
  let prefixOf = -1;
  let prefix = '';
  for (let i = 0; i < steps; i++) {
    if (v >>> 8 !== prefixOf) {
      prefixOf = v >>> 8;
      prefix = `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.`;
    }
    const s = prefix + DEC[v & 255];
    if (!taken(s)) return s;
    v = v === hi ? lo : v + 1;
  }
  return undefined;
}

function scanV6(lo: bigint, hi: bigint, start: bigint, steps: bigint, taken: (s: string) => boolean): string | undefined {
  let v = start;
  for (let i = 0n; i < steps; i++) {
    const s = formatV6(v);
    if (!taken(s)) return s;
    v = v === hi ? lo : v + 1n;
  }
  return undefined;
}

/**
 * The next free address, round-robin like CNI host-local: scanning starts just after `last`
 * and wraps around, so a released address is not reused at once. Throws IpamExhaustedError.
 *
 * Scanning is bounded by |used| + |reserved| + 1 candidates: among that many distinct addresses
 * at least one is free, so a /64 is never walked and a small range is checked exactly.
 */
export function nextFreeAddress(pool: IpamPoolConfig, used: ReadonlySet<string>, last?: string): string {
  const { subnet, lo, hi, reserved } = resolve(pool);
  const where = pool.ipRange ?? pool.subnet;
  if (hi < lo) throw new IpamExhaustedError(where);
  let start = lo;
  const prev = last === undefined ? undefined : tryParseAddress(last);
  if (prev && prev.family === subnet.family && prev.value >= lo && prev.value < hi) start = prev.value + 1n;
  const size = hi - lo + 1n;
  const budget = BigInt(used.size + reserved.size + 1);
  const steps = size < budget ? size : budget;
  const taken = (a: string): boolean => reserved.has(a) || used.has(a);
  const found =
    subnet.family === 4 ? scanV4(Number(lo), Number(hi), Number(start), Number(steps), taken) : scanV6(lo, hi, start, steps, taken);
  if (found !== undefined) return found;
  throw new IpamExhaustedError(where);
}

/**
 * Validate a requested static address (--ip / --ip6): inside the subnet (not necessarily the
 * ip-range, as in Docker), not reserved, not in use. Returns the canonical form.
 */
export function checkStaticAddress(pool: IpamPoolConfig, addr: string, used: ReadonlySet<string>): string {
  const subnet = parseCidr(pool.subnet, 'subnet');
  const field = subnet.family === 4 ? 'ip' : 'ip6';
  const a = parseAddress(addr, field);
  const text = formatAddress(a);
  if (a.family !== subnet.family) {
    throw new InvalidArgumentError(field, `${text} is not an IPv${subnet.family} address (subnet ${pool.subnet})`);
  }
  if (!cidrContains(subnet, a)) throw new InvalidArgumentError(field, `${text} is not inside subnet ${pool.subnet}`);
  const { first, last } = hostRange(subnet);
  if (a.value < first || a.value > last) {
    const what = a.value < first ? 'network address' : 'broadcast address';
    throw new InvalidArgumentError(field, `${text} is the ${what} of ${pool.subnet}`);
  }
  if (reservedAddresses(pool).has(text) || used.has(text)) throw new AddressInUseError(text);
  return text;
}

/** The first of `existing` that overlaps `candidate`, if any (CIDR strings; families never overlap). */
export function subnetsOverlap(existing: readonly string[], candidate: string): string | undefined {
  const c = parseCidr(candidate, 'subnet');
  return existing.find((e) => cidrOverlaps(parseCidr(e, 'subnet'), c));
}

/** The pool of `family` in a network's IPAM config, if any. */
export function poolForFamily(pools: readonly IpamPoolConfig[], family: Family): IpamPoolConfig | undefined {
  return pools.find((p) => parseCidr(p.subnet, 'subnet').family === family);
}
