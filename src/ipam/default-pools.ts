/**
 * Default address pools: where a network's subnet comes from when none is given. Pure — the
 * caller passes the subnets already taken (other networks, host routes).
 */
import { InvalidArgumentError, IpamExhaustedError } from '../errors.js';
import type { Family } from './address.js';
import { type Cidr, cidrSize, formatCidr, parseCidr, tryParseAddress } from './cidr.js';

/** A base prefix carved into /size subnets (Docker's --default-address-pool base=…,size=…). */
export interface AddressPool {
  base: string;
  size: number;
}

/**
 * 3840 /24s. Docker's defaults give only 31 networks (/16s and /20s); /24s go much further.
 * 172.17.0.0/16 is left out: it belongs to the default `bridge` network.
 */
export const DEFAULT_POOLS_V4: AddressPool[] = [
  { base: '172.18.0.0/15', size: 24 },
  { base: '172.20.0.0/14', size: 24 },
  { base: '172.24.0.0/13', size: 24 },
  { base: '192.168.0.0/16', size: 24 },
];

/** One ULA /48 (RFC 4193) carved into 65536 /64s. */
export const DEFAULT_POOLS_V6: AddressPool[] = [{ base: 'fd7e:57ef::/48', size: 64 }];

const FIELD = 'default-address-pool';

/** Parse "base=10.0.0.0/8,size=24". Errors name `default-address-pool`. */
export function parseAddressPoolSpec(spec: string): AddressPool {
  const kv = new Map<string, string>();
  for (const part of String(spec).split(',')) {
    const eq = part.indexOf('=');
    const key = eq === -1 ? '' : part.slice(0, eq).trim();
    if (eq === -1 || (key !== 'base' && key !== 'size')) {
      throw new InvalidArgumentError(FIELD, `"${part}" is not base=CIDR or size=N (in "${spec}")`);
    }
    if (kv.has(key)) throw new InvalidArgumentError(FIELD, `"${key}" given twice in "${spec}"`);
    kv.set(key, part.slice(eq + 1).trim());
  }
  const baseText = kv.get('base');
  const sizeText = kv.get('size');
  if (baseText === undefined || sizeText === undefined) {
    throw new InvalidArgumentError(FIELD, `"${spec}" needs both base=CIDR and size=N`);
  }
  const base = parseCidr(baseText, FIELD, { strict: true });
  return { base: formatCidr(base), size: checkSize(base, sizeText) };
}

function checkSize(base: Cidr, text: string): number {
  // /31 and /127 are the smallest subnets a network accepts (see pool-config.ts).
  const max = base.family === 4 ? 31 : 127;
  const size = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(size >= base.prefix && size <= max)) {
    throw new InvalidArgumentError(FIELD, `size "${text}" must be an integer from ${base.prefix} (the base's prefix) to ${max}`);
  }
  return size;
}

// "a.b.c.d" or "a.b.c.d/len", as strict as parseCidr; lets the common IPv4 case skip bigint
// garbage (pickSubnet may see thousands of routes and subnets).
const V4_TAKEN_RE = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})(?:\/(0|[1-9]\d?))?$/;

function v4Interval(t: string): [bigint, bigint] | undefined {
  const m = V4_TAKEN_RE.exec(t);
  if (!m) return undefined;
  const prefix = m[5] === undefined ? 32 : Number(m[5]);
  const a = Number(m[1]);
  const b = Number(m[2]);
  const c = Number(m[3]);
  const d = Number(m[4]);
  if (a > 255 || b > 255 || c > 255 || d > 255 || prefix > 32) return undefined;
  const span = 2 ** (32 - prefix);
  const start = Math.floor((((a * 256 + b) * 256 + c) * 256 + d) / span) * span;
  return [BigInt(start), BigInt(start + span - 1)];
}

/** Taken prefixes of one family as sorted, merged inclusive intervals. */
function takenIntervals(taken: readonly string[], family: Family): [bigint, bigint][] {
  const iv: [bigint, bigint][] = [];
  for (const t of taken) {
    const fast = v4Interval(t);
    if (fast) {
      if (family === 4) iv.push(fast);
      continue;
    }
    // Host routes come as bare addresses ("fd00::7") as well as prefixes.
    const bare = t.includes('/') ? undefined : tryParseAddress(t);
    const c = bare
      ? { family: bare.family, network: bare.value, prefix: bare.family === 4 ? 32 : 128, host: bare.value }
      : parseCidr(t, 'taken');
    if (c.family === family) iv.push([c.network, c.network + cidrSize(c) - 1n]);
  }
  iv.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const [s, e] of iv) {
    const top = merged[merged.length - 1];
    if (top && s <= top[1] + 1n) {
      if (e > top[1]) top[1] = e;
    } else merged.push([s, e]);
  }
  return merged;
}

/**
 * The first /size block of the pools of `family` that overlaps nothing in `taken` (CIDRs or
 * bare addresses; other families are ignored). Blocks hidden by a taken prefix are jumped over,
 * not tried one by one. Throws IpamExhaustedError when every block is taken.
 */
export function pickSubnet(pools: readonly AddressPool[], family: Family, taken: readonly string[]): string {
  const busy = takenIntervals(taken, family);
  for (const pool of pools) {
    const base = parseCidr(pool.base, FIELD);
    if (base.family !== family) continue;
    checkSize(base, String(pool.size));
    const step = 1n << BigInt((family === 4 ? 32 : 128) - pool.size);
    const end = base.network + cidrSize(base) - 1n;
    let i = firstEndingAtOrAfter(busy, base.network);
    let cand = base.network;
    while (cand + step - 1n <= end) {
      while (i < busy.length && busy[i]![1] < cand) i++;
      if (i === busy.length || busy[i]![0] > cand + step - 1n) {
        return formatCidr({ family, network: cand, prefix: pool.size, host: cand });
      }
      // Jump to the first block boundary past the taken interval.
      cand = ((busy[i]![1] + 1n + step - 1n) / step) * step;
    }
  }
  throw new IpamExhaustedError('default address pools');
}

/** Index of the first interval whose end is ≥ v (binary search). */
function firstEndingAtOrAfter(busy: [bigint, bigint][], v: bigint): number {
  let lo = 0;
  let hi = busy.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (busy[mid]![1] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
