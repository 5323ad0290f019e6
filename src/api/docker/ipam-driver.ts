/**
 * Docker's IPAM driver protocol on top of weft's IPAM. A pool is refcounted in the store
 * (Docker: "identical requests return the same pool"); once CreateNetwork turns it into a weft
 * network, endpoint addresses are reservations in that network's own allocation space
 * (ipam-ops, owners "ext:docker:…"), so weft and Docker never hand out one address twice.
 * Until then (gateway, aux addresses) and for networks of other drivers, the pool record
 * keeps its addresses itself.
 */
import { randomBytes } from 'node:crypto';
import type { ControllerContext } from '../../controller/context.js';
import { releaseOwner, reserveAddress } from '../../controller/ipam-ops.js';
import { InvalidArgumentError, IpamOverlapError, NotFoundError } from '../../errors.js';
import { checkStaticAddress, nextFreeAddress } from '../../ipam/allocator.js';
import { cidrContainsCidr, cidrOverlaps, formatCidr, parseCidr } from '../../ipam/cidr.js';
import { normalizeAddress } from '../../ipam/address.js';
import { pickSubnet } from '../../ipam/default-pools.js';
import { resolvePoolConfig } from '../../ipam/pool-config.js';
import { withRetry } from '../../store/records.js';
import type { IpamPoolConfig } from '../../model/types.js';
import { dockerKeys, getRecord, listRecords, putRecord, type DockerPoolRecord } from './docker-records.js';

export const LOCAL_ADDRESS_SPACE = 'weft-local';
export const GLOBAL_ADDRESS_SPACE = 'weft-global';
/** Docker's option marking a RequestAddress as the network's gateway. */
const GATEWAY_REQUEST = 'com.docker.network.gateway';
export const DOCKER_OWNER_PREFIX = 'ext:docker:';

type Body = Record<string, unknown>;
const str = (b: Body, k: string): string => (typeof b[k] === 'string' ? b[k] : '');
const fam = (p: DockerPoolRecord): 4 | 6 => (p.pool.includes(':') ? 6 : 4);

function poolConfigOf(p: DockerPoolRecord): IpamPoolConfig {
  return resolvePoolConfig({ subnet: p.pool, ...(p.subPool ? { ipRange: p.subPool } : {}), ...(p.gateway ? { gateway: p.gateway } : {}) });
}

export class DockerIpam {
  constructor(private readonly ctx: ControllerContext) {}

  capabilities(): Body {
    // Our state persists, so Docker need not replay pool/address requests after it restarts.
    return { RequiresMACAddress: false, RequiresRequestReplay: false };
  }

  defaultAddressSpaces(): Body {
    return { LocalDefaultAddressSpace: LOCAL_ADDRESS_SPACE, GlobalDefaultAddressSpace: GLOBAL_ADDRESS_SPACE };
  }

  async pool(id: string): Promise<{ value: DockerPoolRecord; version: number }> {
    const p = await getRecord<DockerPoolRecord>(this.ctx.records.store, dockerKeys.pool(id));
    if (!p) throw new NotFoundError('pool', id);
    return p;
  }

  pools(): Promise<DockerPoolRecord[]> {
    return listRecords<DockerPoolRecord>(this.ctx.records.store, dockerKeys.pools);
  }

  async requestPool(b: Body): Promise<Body> {
    const space = str(b, 'AddressSpace') || LOCAL_ADDRESS_SPACE;
    const v6 = b.V6 === true;
    const asked = str(b, 'Pool');
    const askedSub = str(b, 'SubPool');
    if (!asked && askedSub) throw new InvalidArgumentError('SubPool', 'a sub-pool needs a pool');
    return this.ctx.records.store.withLock('docker-ipam', async () => {
      const pools = await this.pools();
      const nets = await this.ctx.records.networks();
      let pool: string;
      let subPool: string | undefined;
      if (asked) {
        const c = parseCidr(asked, 'Pool', { strict: true });
        pool = formatCidr(c);
        if (askedSub) {
          const s = parseCidr(askedSub, 'SubPool', { strict: true });
          if (!cidrContainsCidr(c, s)) throw new InvalidArgumentError('SubPool', `${askedSub} is not inside ${pool}`);
          subPool = formatCidr(s);
        }
        const same = pools.find((p) => p.addressSpace === space && p.pool === pool && p.subPool === subPool);
        if (same) {
          same.refs++;
          await putRecord(this.ctx.records.store, dockerKeys.pool(same.id), same, (await this.pool(same.id)).version);
          return { PoolID: same.id, Pool: same.pool, Data: {} };
        }
        const clash = pools.find((p) => p.addressSpace === space && cidrOverlaps(parseCidr(p.pool, 'pool'), c));
        if (clash) throw new IpamOverlapError(pool, `pool ${clash.pool} already requested`);
        const netClash = nets
          .flatMap((n) => n.ipam.config.map((p) => ({ n, p })))
          .find(({ p }) => cidrOverlaps(parseCidr(p.subnet, 'subnet'), c));
        if (netClash) throw new IpamOverlapError(pool, `${netClash.p.subnet} of network "${netClash.n.name}"`);
        resolvePoolConfig({ subnet: pool, ...(subPool ? { ipRange: subPool } : {}) });
      } else {
        const family = v6 ? 6 : 4;
        const taken = [...pools.map((p) => p.pool), ...nets.flatMap((n) => n.ipam.config.map((p) => p.subnet)), ...this.ctx.hostRoutes()];
        pool = pickSubnet(family === 4 ? this.ctx.config.poolsV4 : this.ctx.config.poolsV6, family, taken);
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
      await putRecord(this.ctx.records.store, dockerKeys.pool(id), rec, 0);
      return { PoolID: id, Pool: pool, Data: {} };
    });
  }

  async releasePool(b: Body): Promise<Body> {
    const id = str(b, 'PoolID');
    await this.ctx.records.store.withLock('docker-ipam', async () => {
      const cur = await this.pool(id);
      const p = cur.value;
      if (--p.refs > 0) return putRecord(this.ctx.records.store, dockerKeys.pool(id), p, cur.version);
      if (
        !(await this.ctx.records.store.commit({
          checks: [{ key: dockerKeys.pool(id), version: cur.version }],
          deletes: [dockerKeys.pool(id)],
        }))
      ) {
        throw new InvalidArgumentError('PoolID', 'pool changed concurrently');
      }
    });
    return {};
  }

  async requestAddress(b: Body): Promise<Body> {
    const id = str(b, 'PoolID');
    const opts = (b.Options && typeof b.Options === 'object' ? b.Options : {}) as Record<string, unknown>;
    const asked = str(b, 'Address') ? normalizeAddress(str(b, 'Address'), 'Address') : undefined;
    const isGateway = opts.RequestAddressType === GATEWAY_REQUEST;
    return withRetry(async () => {
      const cur = await this.pool(id);
      const p = cur.value;
      const prefix = parseCidr(p.pool, 'pool').prefix;
      if (isGateway) {
        // The gateway becomes the network's own address (weft reserves it in the network).
        const gw = asked ?? resolvePoolConfig({ subnet: p.pool }).gateway;
        poolConfigOf({ ...p, gateway: gw });
        if (p.gateway !== gw) await putRecord(this.ctx.records.store, dockerKeys.pool(id), { ...p, gateway: gw }, cur.version);
        return { Address: `${gw}/${prefix}`, Data: {} };
      }
      const net = p.networkId ? await this.ctx.records.network(p.networkId) : undefined;
      if (net) {
        const addr = await reserveAddress(this.ctx, net.value, fam(p), `${DOCKER_OWNER_PREFIX}${randomBytes(8).toString('hex')}`, asked);
        return { Address: `${addr}/${prefix}`, Data: {} };
      }
      const cfg = poolConfigOf(p);
      const used = new Set(p.addresses);
      const addr = asked ? checkStaticAddress(cfg, asked, used) : nextFreeAddress(cfg, used, p.addresses.at(-1));
      await putRecord(this.ctx.records.store, dockerKeys.pool(id), { ...p, addresses: [...p.addresses, addr] }, cur.version);
      return { Address: `${addr}/${prefix}`, Data: {} };
    });
  }

  async releaseAddress(b: Body): Promise<Body> {
    const id = str(b, 'PoolID');
    const addr = normalizeAddress(str(b, 'Address').split('/')[0]!, 'Address');
    await withRetry(async () => {
      const cur = await this.pool(id);
      const p = cur.value;
      if (p.gateway === addr) return;
      if (p.addresses.includes(addr)) {
        await putRecord(
          this.ctx.records.store,
          dockerKeys.pool(id),
          { ...p, addresses: p.addresses.filter((a) => a !== addr) },
          cur.version,
        );
        return;
      }
      const net = p.networkId ? await this.ctx.records.network(p.networkId) : undefined;
      if (!net) return;
      const owner = (await this.ctx.records.allocations(net.value.id, fam(p))).get(addr);
      // Releasing what is already free is success; an address of a weft endpoint is not Docker's.
      if (owner?.startsWith(DOCKER_OWNER_PREFIX)) await releaseOwner(this.ctx, net.value, owner);
    });
    return {};
  }

  /** Bind pools to the weft network created for them (called by CreateNetwork). */
  async bind(poolCidrs: string[], networkId: string | undefined, space?: string): Promise<DockerPoolRecord[]> {
    const out: DockerPoolRecord[] = [];
    for (const p of await this.pools()) {
      if (!poolCidrs.includes(p.pool) || (space && p.addressSpace !== space)) continue;
      const cur = await this.pool(p.id);
      const next = { ...cur.value };
      if (networkId) next.networkId = networkId;
      else delete next.networkId;
      await putRecord(this.ctx.records.store, dockerKeys.pool(p.id), next, cur.version);
      out.push(next);
    }
    return out;
  }

  /** Owner of a Docker-reserved address in a weft network (for CreateEndpoint's adoption). */
  async ownerOf(networkId: string, family: 4 | 6, addr: string): Promise<string | undefined> {
    const owner = (await this.ctx.records.allocations(networkId, family)).get(addr);
    return owner?.startsWith(DOCKER_OWNER_PREFIX) ? owner : undefined;
  }
}
