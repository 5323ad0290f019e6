/**
 * Address pools handed to a remote IPAM client (Docker's IPAM driver protocol). A pool is
 * refcounted in the store (Docker: "identical requests return the same pool"); once a network
 * is created for it, endpoint addresses are reservations in that network's own allocation
 * space (ipam-ops, owners "ext:docker:…"), so weft and Docker never hand out one address twice.
 * Until then (gateway, aux addresses) and for networks of other drivers, the pool record
 * keeps its addresses itself.
 */
import { randomBytes } from 'node:crypto';
import type { ControllerContext } from './context.js';
import { releaseOwner, reserveAddress } from './ipam-ops.js';
import { InvalidArgumentError, IpamOverlapError, NotFoundError } from '../errors.js';
import { checkStaticAddress, nextFreeAddress } from '../ipam/allocator.js';
import { cidrContainsCidr, cidrOverlaps, formatCidr, parseCidr } from '../ipam/cidr.js';
import { pickSubnet } from '../ipam/default-pools.js';
import { resolvePoolConfig } from '../ipam/pool-config.js';
import { withRetry } from '../store/records.js';
import type { IpamPoolConfig, NetworkRecord } from '../model/types.js';
import { dockerKeys, getRecord, listRecords, putRecord, type DockerPoolRecord } from './runtime-records.js';

/** Owners of addresses reserved through the Docker integration. */
export const DOCKER_OWNER_PREFIX = 'ext:docker:';

export interface PoolRequest {
  addressSpace: string;
  v6: boolean;
  /** CIDR asked for; without it a free subnet is picked from the default pools. */
  pool?: string;
  subPool?: string;
}

export interface AddressRequest {
  poolId: string;
  /** A specific address (no prefix). */
  address?: string;
  /** The request is for the network's gateway. */
  gateway: boolean;
}

const fam = (p: DockerPoolRecord): 4 | 6 => (p.pool.includes(':') ? 6 : 4);

function poolConfigOf(p: DockerPoolRecord): IpamPoolConfig {
  return resolvePoolConfig({ subnet: p.pool, ...(p.subPool ? { ipRange: p.subPool } : {}), ...(p.gateway ? { gateway: p.gateway } : {}) });
}

async function poolRecord(ctx: ControllerContext, id: string): Promise<{ value: DockerPoolRecord; version: number }> {
  const p = await getRecord<DockerPoolRecord>(ctx.records.store, dockerKeys.pool(id));
  if (!p) throw new NotFoundError('pool', id);
  return p;
}

export function listPools(ctx: ControllerContext): Promise<DockerPoolRecord[]> {
  return listRecords<DockerPoolRecord>(ctx.records.store, dockerKeys.pools);
}

/** Hand out a pool (the same one again for an identical request); returns its id and CIDR. */
export async function requestPool(ctx: ControllerContext, req: PoolRequest): Promise<{ id: string; pool: string }> {
  const space = req.addressSpace;
  if (!req.pool && req.subPool) throw new InvalidArgumentError('SubPool', 'a sub-pool needs a pool');
  return ctx.records.store.withLock('docker-ipam', async () => {
    const pools = await listPools(ctx);
    const nets = await ctx.records.networks();
    let pool: string;
    let subPool: string | undefined;
    if (req.pool) {
      const c = parseCidr(req.pool, 'Pool', { strict: true });
      pool = formatCidr(c);
      if (req.subPool) {
        const s = parseCidr(req.subPool, 'SubPool', { strict: true });
        if (!cidrContainsCidr(c, s)) throw new InvalidArgumentError('SubPool', `${req.subPool} is not inside ${pool}`);
        subPool = formatCidr(s);
      }
      const same = pools.find((p) => p.addressSpace === space && p.pool === pool && p.subPool === subPool);
      if (same) {
        same.refs++;
        await putRecord(ctx.records.store, dockerKeys.pool(same.id), same, (await poolRecord(ctx, same.id)).version);
        return { id: same.id, pool: same.pool };
      }
      const clash = pools.find((p) => p.addressSpace === space && cidrOverlaps(parseCidr(p.pool, 'pool'), c));
      if (clash) throw new IpamOverlapError(pool, `pool ${clash.pool} already requested`);
      const netClash = nets
        .flatMap((n) => n.ipam.config.map((p) => ({ n, p })))
        .find(({ p }) => cidrOverlaps(parseCidr(p.subnet, 'subnet'), c));
      if (netClash) throw new IpamOverlapError(pool, `${netClash.p.subnet} of network "${netClash.n.name}"`);
      resolvePoolConfig({ subnet: pool, ...(subPool ? { ipRange: subPool } : {}) });
    } else {
      const family = req.v6 ? 6 : 4;
      const taken = [...pools.map((p) => p.pool), ...nets.flatMap((n) => n.ipam.config.map((p) => p.subnet)), ...ctx.hostRoutes()];
      pool = pickSubnet(family === 4 ? ctx.config.poolsV4 : ctx.config.poolsV6, family, taken);
    }
    const id = `${space}/${pool}${subPool ? `/${subPool}` : ''}`;
    const rec: DockerPoolRecord = {
      id,
      addressSpace: space,
      pool,
      v6: pool.includes(':'),
      refs: 1,
      addresses: [],
      ...(subPool ? { subPool } : {}),
    };
    await putRecord(ctx.records.store, dockerKeys.pool(id), rec, 0);
    return { id, pool };
  });
}

/** Drop one reference to a pool; the last one removes it. */
export async function releasePool(ctx: ControllerContext, id: string): Promise<void> {
  await ctx.records.store.withLock('docker-ipam', async () => {
    const cur = await poolRecord(ctx, id);
    const p = cur.value;
    if (--p.refs > 0) return putRecord(ctx.records.store, dockerKeys.pool(id), p, cur.version);
    if (
      !(await ctx.records.store.commit({ checks: [{ key: dockerKeys.pool(id), version: cur.version }], deletes: [dockerKeys.pool(id)] }))
    ) {
      throw new InvalidArgumentError('PoolID', 'pool changed concurrently');
    }
  });
}

/** Hand out an address of a pool; returns it with the pool's prefix ("10.1.0.5/24"). */
export async function requestAddress(ctx: ControllerContext, req: AddressRequest): Promise<string> {
  return withRetry(async () => {
    const cur = await poolRecord(ctx, req.poolId);
    const p = cur.value;
    const prefix = parseCidr(p.pool, 'pool').prefix;
    if (req.gateway) {
      // The gateway becomes the network's own address (weft reserves it in the network).
      const gw = req.address ?? resolvePoolConfig({ subnet: p.pool }).gateway;
      poolConfigOf({ ...p, gateway: gw });
      if (p.gateway !== gw) await putRecord(ctx.records.store, dockerKeys.pool(req.poolId), { ...p, gateway: gw }, cur.version);
      return `${gw}/${prefix}`;
    }
    const net = p.networkId ? await ctx.records.network(p.networkId) : undefined;
    if (net) {
      const addr = await reserveAddress(ctx, net.value, fam(p), `${DOCKER_OWNER_PREFIX}${randomBytes(8).toString('hex')}`, req.address);
      return `${addr}/${prefix}`;
    }
    const cfg = poolConfigOf(p);
    const used = new Set(p.addresses);
    const addr = req.address ? checkStaticAddress(cfg, req.address, used) : nextFreeAddress(cfg, used, p.addresses.at(-1));
    await putRecord(ctx.records.store, dockerKeys.pool(req.poolId), { ...p, addresses: [...p.addresses, addr] }, cur.version);
    return `${addr}/${prefix}`;
  });
}

/** Give an address back (already free = success; a weft endpoint's address is not the pool's to free). */
export async function releaseAddress(ctx: ControllerContext, poolId: string, addr: string): Promise<void> {
  await withRetry(async () => {
    const cur = await poolRecord(ctx, poolId);
    const p = cur.value;
    if (p.gateway === addr) return;
    if (p.addresses.includes(addr)) {
      await putRecord(ctx.records.store, dockerKeys.pool(poolId), { ...p, addresses: p.addresses.filter((a) => a !== addr) }, cur.version);
      return;
    }
    const net = p.networkId ? await ctx.records.network(p.networkId) : undefined;
    if (!net) return;
    const owner = (await ctx.records.allocations(net.value, fam(p))).get(addr);
    if (owner?.startsWith(DOCKER_OWNER_PREFIX)) await releaseOwner(ctx, net.value, owner);
  });
}

/** Bind pools to the network created for them, or unbind them (networkId undefined). */
export async function bindPools(ctx: ControllerContext, poolCidrs: string[], networkId: string | undefined): Promise<void> {
  for (const p of await listPools(ctx)) {
    if (!poolCidrs.includes(p.pool)) continue;
    const cur = await poolRecord(ctx, p.id);
    const next = { ...cur.value };
    if (networkId) next.networkId = networkId;
    else delete next.networkId;
    await putRecord(ctx.records.store, dockerKeys.pool(p.id), next, cur.version);
  }
}

/** Owner of a Docker-reserved address in a network (used when a runtime endpoint is adopted). */
export async function dockerOwnerOf(ctx: ControllerContext, net: NetworkRecord, family: 4 | 6, addr: string): Promise<string | undefined> {
  const owner = (await ctx.records.allocations(net, family)).get(addr);
  return owner?.startsWith(DOCKER_OWNER_PREFIX) ? owner : undefined;
}
