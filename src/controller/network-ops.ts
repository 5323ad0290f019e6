/** Network lifecycle: create (validate → allocate subnets → record → driver setup), remove, prune. */
import type { ControllerContext } from './context.js';
import { networkCtx, runHooks } from './context.js';
import { newId, now } from './ids.js';
import type { EndpointRecord, IpamPoolConfig, NetworkRecord } from '../model/types.js';
import { clusterPoolId } from './cluster-port.js';
import { NetworkCreateInput, parseInput } from './inputs.js';
import {
  ConflictError,
  ErrorList,
  InUseError,
  InvalidArgumentError,
  IpamOverlapError,
  NotFoundError,
  StoreConflictError,
  WeftError,
} from '../errors.js';
import { validateLabels, validateName } from '../config/validate.js';
import { resolvePoolConfig } from '../ipam/pool-config.js';
import { pickSubnet } from '../ipam/default-pools.js';
import { cidrOverlaps, parseCidr } from '../ipam/cidr.js';
import { clusterBlockPrefixes } from '../ipam/cluster-blocks.js';
import { json, keys } from '../store/records.js';
import type { ClusterClaim } from '../drivers/driver.js';

/** Find a network by name, full id or unique id prefix. */
export async function resolveNetwork(ctx: ControllerContext, ref: string): Promise<NetworkRecord> {
  // Local first, so a local network is found (inspect, rm, connect) while the cluster store is away.
  const local = ctx.records.scopes.local;
  const own = await local.network((await local.networkIdByName(ref)) ?? ref);
  if (own) return own.value;
  let away: WeftError | undefined;
  try {
    const direct = await ctx.records.network((await ctx.records.networkIdByName(ref)) ?? ref);
    if (direct) return direct.value;
  } catch (err) {
    if (!(err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE')) throw err;
    away = err;
  }
  if (/^[0-9a-f]{3,63}$/.test(ref)) {
    const matches = (await ctx.records.networks()).filter((n) => n.id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new InvalidArgumentError('network', `"${ref}" matches ${matches.length} networks; give more of the id`);
  }
  // Not local, and the global scope could not be asked: it may be a global network.
  if (away) throw away;
  throw new NotFoundError('network', ref);
}

const familyOf = (cidr: string): 4 | 6 => (cidr.includes(':') ? 6 : 4);

/**
 * Guard of global subnet claims in the cluster store. Every global network create reads it
 * before listing the networks it checks for overlap, and commits only if it is unchanged,
 * writing it in the same transaction: of two hosts creating overlapping global networks at the
 * same time, the second commit fails and its retry sees the first network (IpamOverlapError).
 * The local `networks` lock cannot do this: it is per host.
 */
export const SUBNET_CLAIMS_KEY = 'claims/subnets';
const GLOBAL_CREATE_ATTEMPTS = 5;

/** Every subnet in use by another network, for overlap checks. */
function takenSubnets(existing: readonly NetworkRecord[]): { subnet: string; network: string }[] {
  return existing.flatMap((n) => n.ipam.config.map((p) => ({ subnet: p.subnet, network: n.name })));
}

function buildPools(
  ctx: ControllerContext,
  input: NetworkCreateInput,
  existing: readonly NetworkRecord[],
  usesIpam: boolean,
  ownAddressSpace: boolean,
): IpamPoolConfig[] {
  const pools = input.ipam.config.map((p, i) => {
    try {
      return resolvePoolConfig(p);
    } catch (err) {
      if (err instanceof WeftError && input.ipam.config.length > 1 && err.field) {
        throw new InvalidArgumentError(`ipam.config[${i}].${err.field}`, err.message);
      }
      throw err;
    }
  });
  if (!usesIpam) {
    if (pools.length > 0) throw new InvalidArgumentError('subnet', `driver "${input.driver}" does not use IP addresses`);
    return [];
  }
  for (const fam of [4, 6] as const) {
    if (pools.filter((p) => familyOf(p.subnet) === fam).length > 1) {
      throw new InvalidArgumentError('subnet', `at most one IPv${fam} subnet per network`);
    }
  }
  if (pools.some((p) => familyOf(p.subnet) === 6) && !input.enableIPv6) {
    throw new InvalidArgumentError('ipv6', 'an IPv6 subnet was given but IPv6 is not enabled (--ipv6)');
  }
  const taken = takenSubnets(existing);
  // A driver whose networks are separate address spaces only clashes with other drivers' subnets.
  const clashable = takenSubnets(ownAddressSpace ? existing.filter((n) => n.driver !== input.driver) : existing);
  for (const p of pools) {
    const clash = clashable.find((t) => cidrOverlaps(parseCidr(t.subnet, 'subnet'), parseCidr(p.subnet, 'subnet')));
    if (clash) throw new IpamOverlapError(p.subnet, `${clash.subnet} of network "${clash.network}"`);
  }
  const avoid = [...taken.map((t) => t.subnet), ...pools.map((p) => p.subnet)];
  if (!pools.some((p) => familyOf(p.subnet) === 4)) {
    const subnet = pickSubnet(ctx.config.poolsV4, 4, [...avoid, ...ctx.hostRoutes().filter((r) => familyOf(r) === 4)]);
    pools.unshift(resolvePoolConfig({ subnet }));
  }
  if (input.enableIPv6 && !pools.some((p) => familyOf(p.subnet) === 6)) {
    const subnet = pickSubnet(ctx.config.poolsV6, 6, [...avoid, ...ctx.hostRoutes().filter((r) => familyOf(r) === 6)]);
    pools.push(resolvePoolConfig({ subnet }));
  }
  return pools;
}

/** Create a network; nothing is left behind if any step fails. */
export async function createNetwork(
  ctx: ControllerContext,
  raw: unknown,
  opts: { predefined?: boolean; id?: string; runtimePlaced?: boolean } = {},
): Promise<NetworkRecord> {
  const input = parseInput(NetworkCreateInput, raw);
  validateName('name', input.name);
  const driver = ctx.drivers.get(input.driver);
  if (!driver.userCreatable && !opts.predefined) {
    throw new InvalidArgumentError('driver', `networks of driver "${input.driver}" cannot be created (only the predefined one exists)`);
  }
  if (input.ipam.driver !== 'default')
    throw new InvalidArgumentError('ipam-driver', `unknown IPAM driver "${input.ipam.driver}" (known: default)`);
  if (Object.keys(input.ipam.options).length > 0 && driver.scope !== 'global')
    throw new InvalidArgumentError('ipam-opt', 'the default IPAM driver takes no options on a local network');
  const labels = validateLabels('label', input.labels);

  if (driver.scope === 'global' && !ctx.records.cluster)
    throw new InvalidArgumentError(
      'scope',
      `driver "${input.driver}" makes global-scope networks, which need a cluster store: start weftd with --cluster-store etcd://IP:2379`,
    );

  // One attempt: read the guard (global scope), list, check, commit — or StoreConflictError.
  const attempt = async (): Promise<{ rec: NetworkRecord; claims: ClusterClaim[] }> => {
    const guard = driver.scope === 'global' ? await ctx.records.storeOf('global').get(SUBNET_CLAIMS_KEY) : undefined;
    const existing = await ctx.records.networks();
    // Claims other networks hold in the cluster store (a VNI…), so validate picks a free one.
    const claimed =
      driver.scope === 'global' && driver.claimPrefix !== undefined
        ? new Set((await ctx.records.storeOf('global').list(driver.claimPrefix)).map((e) => e.key))
        : undefined;
    if ((await ctx.records.networkIdByNameFor(driver.scope, input.name)) !== undefined) {
      throw new ConflictError('name', `network with name "${input.name}" already exists`);
    }
    const rec: NetworkRecord = {
      id: opts.id ?? newId(),
      name: input.name,
      driver: input.driver,
      created: now(),
      scope: driver.scope,
      internal: input.internal,
      enableIPv6: input.enableIPv6,
      attachable: input.attachable,
      labels,
      options: input.options,
      ipam: {
        driver: 'default',
        options: input.ipam.options,
        config: buildPools(ctx, input, existing, driver.usesIpam, driver.ownAddressSpace === true),
      },
      driverState: {},
    };
    if (opts.predefined) rec.predefined = true;
    const v = driver.validate(rec, existing, claimed);
    rec.options = v.options;
    rec.driverState = v.driverState;
    if (v.ipam) rec.ipam.config = v.ipam;
    // Checked before anything is written: a block size that does not fit is refused here.
    if (rec.scope === 'global')
      clusterBlockPrefixes(
        rec.ipam.options,
        rec.ipam.config.map((p) => p.subnet),
      );
    if (opts.runtimePlaced) {
      const refusal = driver.runtimePlacement
        ? driver.runtimePlacement.refuse?.(rec)
        : 'its endpoints cannot be placed by a container runtime (Docker moves the interface Join names)';
      if (refusal) throw new InvalidArgumentError('driver', `driver "${rec.driver}": ${refusal}`);
    }

    const claim =
      rec.scope === 'global'
        ? {
            checks: [{ key: SUBNET_CLAIMS_KEY, version: guard?.version ?? 0 }],
            puts: [{ key: SUBNET_CLAIMS_KEY, value: json({ network: rec.id, subnets: rec.ipam.config.map((p) => p.subnet) }) }],
          }
        : { checks: [], puts: [] };
    const claims = rec.scope === 'global' ? (driver.clusterClaims?.(rec) ?? []) : [];
    // One transaction: the record, its name, the subnet guard and the driver's claims (a VNI…),
    // each only if nobody holds it yet.
    try {
      await ctx.records.commitOrConflict(
        {
          checks: [
            { key: keys.networkName(rec.name), version: 0 },
            { key: keys.network(rec.id), version: 0 },
            ...claim.checks,
            ...claims.map((c) => ({ key: c.key, version: 0 })),
          ],
          puts: [
            { key: keys.network(rec.id), value: json(rec) },
            { key: keys.networkName(rec.name), value: json(rec.id) },
            ...claim.puts,
            ...claims.map((c) => ({ key: c.key, value: json(rec.id) })),
          ],
        },
        `network create ${rec.name}`,
        rec.scope,
      );
    } catch (err) {
      // A driver claim taken meanwhile is the user's conflict, named; anything else is retried.
      if (err instanceof StoreConflictError) {
        for (const c of claims) {
          const held = await ctx.records.storeOf('global').get(c.key);
          if (held) throw new ConflictError(c.field, `${c.taken} (held by network ${String(JSON.parse(held.value)).slice(0, 12)})`);
        }
      }
      throw err;
    }
    return { rec, claims };
  };

  return ctx.records.store.withLock('networks', async () => {
    let made: { rec: NetworkRecord; claims: ClusterClaim[] } | undefined;
    for (let i = 1; !made; i++) {
      try {
        made = await attempt();
      } catch (err) {
        // Another host claimed subnets (or the name) meanwhile: check again against what it committed.
        if (!(err instanceof StoreConflictError) || driver.scope !== 'global' || i >= GLOBAL_CREATE_ATTEMPTS) throw err;
      }
    }
    const { rec, claims } = made;
    try {
      if (rec.scope === 'global') await defineClusterPools(ctx, rec);
      await driver.networkUp(networkCtx(ctx, rec));
      await runHooks(ctx, 'networkUp', rec);
    } catch (err) {
      // Undo everything, keep going past failures, and report every one of them.
      const undo = new ErrorList(`network create ${rec.name} failed and its rollback failed too`);
      undo.add(err);
      await undo.run(() => driver.networkDown(networkCtx(ctx, rec)));
      await undo.run(() => runHooks(ctx, 'networkDown', rec));
      if (rec.scope === 'global') await undo.run(() => deleteClusterPools(ctx, rec));
      await undo.run(() =>
        ctx.records.storeOf(rec.scope).commit({ deletes: [keys.network(rec.id), keys.networkName(rec.name), ...claims.map((c) => c.key)] }),
      );
      throw undo.combined();
    }
    return rec;
  });
}

/** Remove a network that has no endpoints. */
export async function removeNetwork(ctx: ControllerContext, ref: string, opts: { allowPredefined?: boolean } = {}): Promise<NetworkRecord> {
  const net = await resolveNetwork(ctx, ref);
  if (net.predefined && !opts.allowPredefined)
    throw new InvalidArgumentError('network', `"${net.name}" is a predefined network and cannot be removed`);
  return ctx.records.store.withLock('networks', async () => {
    // A global network counts every host's endpoints.
    const eps = await ctx.records.networkEndpoints(net);
    if (eps.length > 0) throw new InUseError(`network "${net.name}" has ${eps.length} active endpoint(s)${onHosts(eps)}`);
    const driver = ctx.drivers.get(net.driver);
    // If the kernel part fails nothing has changed; after it, the rest keeps going past failures.
    await driver.networkDown(networkCtx(ctx, net));
    const errors = new ErrorList(`network rm ${net.name}`);
    await errors.run(() => runHooks(ctx, 'networkDown', net));
    const store = ctx.records.storeOf(net.scope);
    if (net.scope === 'global') {
      // The record first: a pool left behind by a failure holds nothing and is harmless. Its
      // claims (a VNI…) go in the same transaction, so the VNI is free exactly when the network is gone.
      const claims = (driver.clusterClaims?.(net) ?? []).map((c) => c.key);
      await store.commit({ deletes: [keys.network(net.id), keys.networkName(net.name), ...claims] });
      await errors.run(() => deleteClusterPools(ctx, net));
    } else {
      const ipamKeys = (await store.list(keys.ipamNetwork(net.id))).map((e) => e.key);
      await store.commit({ deletes: [keys.network(net.id), keys.networkName(net.name), ...ipamKeys] });
    }
    errors.throwIfAny();
    return net;
  });
}

/** " on host(s) a, b" for endpoints that carry their host (global networks). */
function onHosts(eps: readonly EndpointRecord[]): string {
  const hosts = [...new Set(eps.flatMap((e) => (e.host ? [e.host] : [])))];
  return hosts.length === 0 ? '' : ` on host(s) ${hosts.join(', ')}`;
}

/** A global network's subnets become cluster IPAM pools; the gateway and aux addresses are never handed out. */
async function defineClusterPools(ctx: ControllerContext, net: NetworkRecord): Promise<void> {
  const cluster = ctx.records.cluster!;
  const prefixes = clusterBlockPrefixes(
    net.ipam.options,
    net.ipam.config.map((p) => p.subnet),
  );
  for (const p of net.ipam.config) {
    const fam = familyOf(p.subnet);
    const blockPrefix = prefixes[fam];
    await cluster.definePool({
      id: clusterPoolId(net.id, fam),
      cidr: p.subnet,
      reserved: [p.gateway, ...Object.values(p.auxAddresses)],
      ...(blockPrefix === undefined ? {} : { blockPrefix }),
    });
  }
}

async function deleteClusterPools(ctx: ControllerContext, net: NetworkRecord): Promise<void> {
  const errors = new ErrorList(`removing the cluster address pools of ${net.name}`);
  for (const p of net.ipam.config) await errors.run(() => ctx.records.cluster!.deletePool(clusterPoolId(net.id, familyOf(p.subnet))));
  errors.throwIfAny();
}

/** Remove every user network without endpoints; returns the names removed. */
export async function pruneNetworks(ctx: ControllerContext): Promise<string[]> {
  const eps = [...(await ctx.records.endpointsComplete()), ...(await ctx.records.clusterEndpoints())];
  const used = new Set(eps.map((e) => e.networkId));
  const removed: string[] = [];
  for (const n of await ctx.records.networks()) {
    if (n.predefined || used.has(n.id)) continue;
    try {
      await removeNetwork(ctx, n.id);
      removed.push(n.name);
    } catch (err) {
      if (!(err instanceof InUseError) && !(err instanceof NotFoundError)) throw err;
    }
  }
  return removed;
}

/** Make sure the predefined networks exist (bridge, host, none), as Docker has them. */
export async function ensurePredefinedNetworks(ctx: ControllerContext): Promise<void> {
  const want: { name: string; driver: string; body: Record<string, unknown> }[] = [
    { name: 'none', driver: 'null', body: {} },
    { name: 'host', driver: 'host', body: {} },
  ];
  // Local networks: made on a first start while the cluster store is away too.
  for (const w of want) {
    if ((await ctx.records.networkIdByNameFor('local', w.name)) === undefined) {
      await createNetwork(ctx, { name: w.name, driver: w.driver, ...w.body }, { predefined: true });
    }
  }
  if ((await ctx.records.networkIdByNameFor('local', 'bridge')) === undefined) {
    const existing = await ctx.records.networks();
    const wanted = parseCidr(ctx.config.defaultBridgeSubnet, 'default-bridge-subnet');
    const busy = [...takenSubnets(existing).map((t) => t.subnet), ...ctx.hostRoutes().filter((r) => familyOf(r) === 4)].some((s) =>
      cidrOverlaps(parseCidr(s, 'route'), wanted),
    );
    const config = busy ? [] : [{ subnet: ctx.config.defaultBridgeSubnet }];
    await createNetwork(
      ctx,
      { name: 'bridge', driver: 'bridge', options: { 'com.docker.network.bridge.name': ctx.config.defaultBridgeName }, ipam: { config } },
      { predefined: true },
    );
  }
}
