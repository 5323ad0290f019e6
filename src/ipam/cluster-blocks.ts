/**
 * Cluster IPAM blocks, Calico's affinity blocks: a pool (a global network's subnet) is cut into
 * fixed-size blocks (/26 for IPv4, /122 for IPv6 by default); a host claims whole blocks and
 * hands out addresses inside them with no cluster-wide lock, because only the owner normally
 * writes its block. Pure: block math, the block record, and the choices (which block to claim,
 * which address to give); the store side lives in src/cluster/block-ipam.ts.
 */
import { InvalidArgumentError } from '../errors.js';
import { formatAddress, parseAddress, type Family } from './address.js';
import { type Cidr, cidrContains, cidrSize, formatCidr, hostRange, parseCidr, splitCidr } from './cidr.js';

export const DEFAULT_BLOCK_PREFIX: Record<Family, number> = { 4: 26, 6: 122 };

/** A pool as the cluster stores it (`ipam/<pool>/config`). */
export interface ClusterPool {
  /** Store-safe name: the global network's id. */
  id: string;
  cidr: string;
  blockPrefix: number;
  /** Addresses never handed out beyond the pool's own network/broadcast (gateway, aux). */
  reserved: string[];
}

export interface BlockAllocation {
  /** Who asked (an endpoint id): release checks it, so a stale release frees nothing. */
  handle: string;
  /** Host that holds the address (differs from the owner for borrowed addresses). */
  host: string;
}

/** `ipam/<pool>/blocks/<cidr>`: the owner (null once its host is gone) and the addresses in use by offset. */
export interface BlockRecord {
  cidr: string;
  owner: string | null;
  allocations: Record<string, BlockAllocation>;
}

const POOL_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Validate a pool definition and fill in the default block size. */
export function resolveClusterPool(input: { id: string; cidr: string; blockPrefix?: number; reserved?: string[] }): ClusterPool {
  if (!POOL_ID_RE.test(input.id)) throw new InvalidArgumentError('pool', `"${input.id}" is not a valid pool name`);
  const c = parseCidr(input.cidr, 'subnet', { strict: true });
  const bits = c.family === 4 ? 32 : 128;
  const blockPrefix = input.blockPrefix ?? Math.max(DEFAULT_BLOCK_PREFIX[c.family], c.prefix);
  if (!Number.isInteger(blockPrefix) || blockPrefix < c.prefix || blockPrefix > bits) {
    throw new InvalidArgumentError('block-size', `/${blockPrefix} blocks do not fit in ${formatCidr(c)}`);
  }
  if (BigInt(bits - blockPrefix) > 16n)
    throw new InvalidArgumentError('block-size', `/${blockPrefix} blocks are too large (at most 65536 addresses)`);
  const reserved = (input.reserved ?? []).map((a) => {
    const addr = parseAddress(a, 'reserved');
    if (!cidrContains(c, addr)) throw new InvalidArgumentError('reserved', `${a} is outside ${formatCidr(c)}`);
    return formatAddress(addr);
  });
  return { id: input.id, cidr: formatCidr(c), blockPrefix, reserved: [...new Set(reserved)].sort() };
}

/** Store-key form of a block: "10.1.0.64/26" → "10.1.0.64-26" (one path segment). */
export function blockKeyName(cidr: string): string {
  return cidr.replace('/', '-');
}

export function blockFromKeyName(name: string): string {
  const i = name.lastIndexOf('-');
  return `${name.slice(0, i)}/${name.slice(i + 1)}`;
}

/** Every block of the pool, in address order. */
export function poolBlocks(pool: ClusterPool): Cidr[] {
  return [...splitCidr(parseCidr(pool.cidr, 'subnet'), pool.blockPrefix)];
}

/** The block of the pool that holds an address, or undefined if the address is outside the pool. */
export function blockOf(pool: ClusterPool, address: string): { cidr: string; offset: number } | undefined {
  const a = parseAddress(address, 'address');
  const p = parseCidr(pool.cidr, 'subnet');
  if (!cidrContains(p, a)) return undefined;
  const size = 1n << BigInt((a.family === 4 ? 32 : 128) - pool.blockPrefix);
  const network = a.value - ((a.value - p.network) % size);
  return { cidr: formatCidr({ family: a.family, network, prefix: pool.blockPrefix, host: network }), offset: Number(a.value - network) };
}

/** Offsets of a block that may never be handed out: the pool's network/broadcast and reserved addresses. */
export function reservedOffsets(pool: ClusterPool, blockCidr: string): Set<number> {
  const b = parseCidr(blockCidr, 'block');
  const p = parseCidr(pool.cidr, 'subnet');
  const { first, last } = hostRange(p);
  const out = new Set<number>();
  const size = cidrSize(b);
  const mark = (v: bigint): void => {
    if (v >= b.network && v < b.network + size) out.add(Number(v - b.network));
  };
  for (let v = p.network; v < first; v++) mark(v);
  for (let v = last + 1n; v < p.network + cidrSize(p); v++) mark(v);
  for (const r of pool.reserved) mark(parseAddress(r, 'reserved').value);
  return out;
}

/** The address at an offset of a block. */
export function blockAddress(blockCidr: string, offset: number): string {
  const b = parseCidr(blockCidr, 'block');
  return formatAddress({ family: b.family, value: b.network + BigInt(offset) });
}

/** The lowest free offset of a block, or undefined when it is full. */
export function freeOffset(pool: ClusterPool, block: BlockRecord): number | undefined {
  const size = Number(cidrSize(parseCidr(block.cidr, 'block')));
  const reserved = reservedOffsets(pool, block.cidr);
  for (let i = 0; i < size; i++) if (!reserved.has(i) && block.allocations[String(i)] === undefined) return i;
  return undefined;
}

/** How many addresses of a block can still be handed out. */
export function freeCount(pool: ClusterPool, block: BlockRecord): number {
  const size = Number(cidrSize(parseCidr(block.cidr, 'block')));
  return size - reservedOffsets(pool, block.cidr).size - Object.keys(block.allocations).length;
}

/** A small stable hash, so hosts start their search for a free block at different places. */
function spread(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The unclaimed blocks of a pool, in the order a host should try them: starting at a place
 * derived from its id (so hosts claiming at once rarely race for the same block), wrapping.
 * Blocks with no usable address (e.g. a /32 block on the network address) are skipped.
 * At most `limit` are returned, and only as many blocks are visited as can be claimed,
 * unusable or returned: an IPv6 /64 holds 2^58 /122 blocks, which no one can list.
 */
export function claimOrder(pool: ClusterPool, claimed: ReadonlySet<string>, hostId: string, limit = 64): string[] {
  const p = parseCidr(pool.cidr, 'subnet');
  const bits = p.family === 4 ? 32 : 128;
  const count = 1n << BigInt(pool.blockPrefix - p.prefix);
  const step = 1n << BigInt(bits - pool.blockPrefix);
  // Unusable blocks: the pool's network and broadcast addresses and its reserved ones, at most.
  const bound = BigInt(claimed.size + pool.reserved.length + 2 + limit);
  const visits = count < bound ? count : bound;
  const start = BigInt(spread(hostId)) % count;
  const out: string[] = [];
  for (let i = 0n; i < visits && out.length < limit; i++) {
    const network = p.network + ((start + i) % count) * step;
    const c = formatCidr({ family: p.family, network, prefix: pool.blockPrefix, host: network });
    if (!claimed.has(c) && freeCount(pool, { cidr: c, owner: null, allocations: {} }) > 0) out.push(c);
  }
  return out;
}

/** Remove every allocation a host holds in a block; the block's fate after a host is gone. */
export function withoutHost(block: BlockRecord, hostId: string): { block: BlockRecord; removed: number; empty: boolean } {
  const allocations: Record<string, BlockAllocation> = {};
  let removed = 0;
  for (const [k, v] of Object.entries(block.allocations)) {
    if (v.host === hostId) removed++;
    else allocations[k] = v;
  }
  const owner = block.owner === hostId ? null : block.owner;
  return { block: { cidr: block.cidr, owner, allocations }, removed, empty: Object.keys(allocations).length === 0 };
}

/** IPAM options of a global network (`--ipam-opt`): the block size of its cluster pools, per family. */
export const CLUSTER_IPAM_OPTIONS = { blockSize: 'weft.ipam.block-size', blockSize6: 'weft.ipam.block-size6' } as const;

/**
 * The block prefix each pool of a global network asks for, from its IPAM options, checked
 * against the pools (a block must fit): e.g. `weft.ipam.block-size=30` gives /30 blocks of 4
 * addresses. Throws InvalidArgumentError naming the option. Pure.
 */
export function clusterBlockPrefixes(options: Record<string, string>, subnets: readonly string[]): { 4?: number; 6?: number } {
  const known = new Set<string>(Object.values(CLUSTER_IPAM_OPTIONS));
  for (const k of Object.keys(options))
    if (!known.has(k)) throw new InvalidArgumentError('ipam-opt', `unknown IPAM option "${k}" (known: ${[...known].join(', ')})`);
  const out: { 4?: number; 6?: number } = {};
  for (const [fam, key] of [
    [4, CLUSTER_IPAM_OPTIONS.blockSize],
    [6, CLUSTER_IPAM_OPTIONS.blockSize6],
  ] as const) {
    const v = options[key];
    if (v === undefined) continue;
    const n = /^\/?\d{1,3}$/.test(v) ? Number(v.replace('/', '')) : NaN;
    if (!Number.isInteger(n)) throw new InvalidArgumentError(key, `"${v}" is not a prefix length (e.g. 26)`);
    for (const cidr of subnets.filter((c) => c.includes(':') === (fam === 6))) resolveClusterPool({ id: key, cidr, blockPrefix: n });
    out[fam] = n;
  }
  return out;
}
