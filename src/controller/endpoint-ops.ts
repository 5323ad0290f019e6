/** Endpoints: allocate addresses (round-robin, compare-and-set), record, then driver join. */
import type { ControllerContext } from './context.js';
import { endpointCtx, networkCtx, runHooks } from './context.js';
import { newId, now } from './ids.js';
import type { EndpointRecord, IpamPoolConfig, NetworkRecord, SandboxRecord } from '../model/types.js';
import { AddressInUseError, ConflictError, ErrorList, InvalidArgumentError, NotFoundError, WeftError, asWeftError } from '../errors.js';
import type { Driver } from '../drivers/driver.js';
import { validateIfname } from '../config/validate.js';
import { validateAlias } from '../config/dns-name.js';
import { checkStaticAddress } from '../ipam/allocator.js';
import { ownerOf, probeFreeAddress } from './address-probe.js';
import { addressWithPrefix, parseCidr } from '../ipam/cidr.js';
import { macFromIPv4, parseMac, randomMac } from '../ipam/mac.js';
import { json, keys, withRetry } from '../store/records.js';
import type { KvCommit } from '../store/store.js';
import { scheduleSandboxFiles } from './sandbox-files.js';
import { EXTERNAL_OWNER_PREFIX } from './ipam-ops.js';
import { normalizeAddress } from '../ipam/address.js';
import { hasForeignDefaultRoute } from './default-route.js';
import { IFNAMES } from '../drivers/ifnames.js';
import { clusterPoolId } from './cluster-port.js';
import { markPhase } from '../phase-trace.js';

export interface EndpointRequest {
  aliases?: string[];
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  ifname?: string;
  /**
   * External owner ("ext:…") that already reserved the requested addresses for this endpoint
   * (Docker's IPAM driver reserves before the network driver connects). Such an address is
   * used without being claimed again; it stays owned, and released, by that owner.
   */
  reservedBy?: string;
  /**
   * Host-side interface that already exists for this endpoint (a runtime-placed pair, made
   * at Docker's Join before the container's namespace existed to record a sandbox for).
   */
  hostIfname?: string;
  /** The container runtime placed the sandbox end (see EndpointRecord.placement). */
  placement?: 'runtime';
}

const poolOf = (net: NetworkRecord, fam: 4 | 6): IpamPoolConfig | undefined =>
  net.ipam.config.find((p) => (fam === 6) === p.subnet.includes(':'));

function nextIfname(prefix: string, taken: Set<string>): string {
  for (let i = 0; i < 1000; i++) if (!taken.has(`${prefix}${i}`)) return `${prefix}${i}`;
  throw new InvalidArgumentError('ifname', 'no free interface name');
}

/** Dynamic candidates found held outside weft (a driver's LAN probe) before allocation gives up. */
const MAX_HELD_IN_A_ROW = 16;
/**
 * A global network's addresses: one each from this host's cluster IPAM blocks (no cluster-wide
 * lock); static addresses are not offered there. Returns what to give back if a later step fails.
 */
async function allocateClusterAddresses(
  ctx: ControllerContext,
  net: NetworkRecord,
  ep: EndpointRecord,
  req: EndpointRequest,
): Promise<{ pool: string; address: string }[]> {
  const cluster = ctx.records.cluster;
  if (!cluster) throw new InvalidArgumentError('scope', 'global-scope networks need a cluster store, and this weftd has none configured');
  if (req.ipv4 || req.ipv6)
    throw new InvalidArgumentError(
      req.ipv4 ? 'ip' : 'ip6',
      `network "${net.name}" is global: addresses come from per-host blocks, not --ip`,
    );
  const got: { pool: string; address: string }[] = [];
  try {
    for (const fam of [4, 6] as const) {
      const pool = poolOf(net, fam);
      if (!pool) continue;
      const id = clusterPoolId(net.id, fam);
      const addr = await cluster.allocate(id, ep.id);
      got.push({ pool: id, address: addr });
      const cidr = addressWithPrefix(addr, parseCidr(pool.subnet, 'subnet').prefix);
      if (fam === 4) [ep.ipv4, ep.gateway4] = [cidr, pool.gateway];
      else [ep.ipv6, ep.gateway6] = [cidr, pool.gateway];
    }
  } catch (err) {
    await giveBack(ctx, got, ep, err);
  }
  return got;
}

/** Release cluster addresses after a failed connect; throws the failure (with any release failure). */
async function giveBack(
  ctx: ControllerContext,
  got: { pool: string; address: string }[],
  ep: EndpointRecord,
  err: unknown,
): Promise<never> {
  const undo = new ErrorList(`connect failed and releasing its cluster addresses failed too`);
  undo.add(err);
  for (const g of got) await undo.run(() => ctx.records.cluster!.release(g.pool, g.address, ep.id));
  throw undo.combined();
}

/** Choose addresses and build the commit that claims them; pure apart from store reads. */
async function allocate(
  ctx: ControllerContext,
  driver: Driver,
  net: NetworkRecord,
  ep: EndpointRecord,
  req: EndpointRequest,
): Promise<KvCommit> {
  const commit: KvCommit = { checks: [], puts: [] };
  const source = driver.addresses;
  if (source && req.ipv4) throw new InvalidArgumentError('ip', `network "${net.name}" assigns addresses from its own allocator`);
  let gateway4: string | undefined;
  for (const fam of [4, 6] as const) {
    const pool = (await driver.addressPool?.(networkCtx(ctx, net), fam)) ?? poolOf(net, fam);
    const asked = fam === 4 ? req.ipv4 : req.ipv6;
    if (!pool) {
      if (asked) throw new InvalidArgumentError(fam === 4 ? 'ip' : 'ip6', `network "${net.name}" has no IPv${fam} subnet`);
      continue;
    }
    let addr: string;
    let held = false;
    if (asked) {
      const wanted = normalizeAddress(asked, fam === 4 ? 'ip' : 'ip6');
      const owner = await ownerOf(ctx, net, fam, wanted);
      // An address Docker's IPAM reserved for this very endpoint is used, not claimed again.
      held = owner !== undefined && !!req.reservedBy?.startsWith(EXTERNAL_OWNER_PREFIX) && owner === req.reservedBy;
      addr = held ? wanted : checkStaticAddress(pool, wanted, owner === undefined ? new Set() : new Set([wanted]));
      const holder = held ? undefined : await driver.addressInUse?.(networkCtx(ctx, net), fam, addr);
      if (holder) throw new AddressInUseError(`${addr} (held on the LAN by ${holder})`);
    } else if (fam === 4 && source) {
      // A store-less driver's own allocator decides; the store keeps a mirror for the invariants.
      const got = await source.allocate(networkCtx(ctx, net), ep.id);
      addr = got.address;
      gateway4 = got.gateway;
    } else {
      const probe = driver.addressInUse?.bind(driver);
      let heldInARow = 0;
      addr = await probeFreeAddress(
        ctx,
        net,
        fam,
        pool,
        probe &&
          (async (a) => {
            if ((await probe(networkCtx(ctx, net), fam, a)) === undefined) return false;
            // Each probe takes its listening window: give up early on a range the LAN fills.
            if (++heldInARow >= MAX_HELD_IN_A_ROW)
              throw new ConflictError(
                fam === 4 ? 'ip' : 'ip6',
                `${heldInARow} candidate addresses in a row (up to ${a}) are held on the LAN; does the LAN's DHCP server hand out ${pool.ipRange ?? pool.subnet} too?`,
              );
            return true;
          }),
      );
      commit.puts!.push({ key: keys.ipamLast(net.id, fam), value: json(addr) });
    }
    if (!held) {
      commit.checks!.push({ key: keys.ipamAddr(net.id, fam, addr), version: 0 });
      commit.puts!.push({ key: keys.ipamAddr(net.id, fam, addr), value: json(ep.id) });
    }
    const prefix = parseCidr(pool.subnet, 'subnet').prefix;
    if (fam === 4) {
      ep.ipv4 = addressWithPrefix(addr, prefix);
      ep.gateway4 = gateway4 ?? pool.gateway;
    } else {
      ep.ipv6 = addressWithPrefix(addr, prefix);
      ep.gateway6 = pool.gateway;
    }
  }
  return commit;
}

/** Connect a sandbox to a network: allocate, record, set up in the kernel; undo on failure. */
export async function connectEndpoint(
  ctx: ControllerContext,
  sb: SandboxRecord,
  net: NetworkRecord,
  req: EndpointRequest,
  /** `filesByCaller`: the caller writes the sandbox's files itself (a create, before its command starts). */
  opts: { filesByCaller?: boolean } = {},
): Promise<EndpointRecord> {
  if (sb.kind === 'host' || sb.kind === 'container') {
    throw new InvalidArgumentError('network', `sandbox "${sb.name}" shares another namespace (${sb.kind} mode) and cannot join networks`);
  }
  if (net.driver === 'host')
    throw new InvalidArgumentError('network', 'the host network is a sandbox mode (--network host), not something to connect to');
  const driver = ctx.drivers.get(net.driver);
  const aliases = (req.aliases ?? []).map((a, i) => validateAlias(`aliases[${i}]`, a));
  const mac = req.mac === undefined ? undefined : parseMac(req.mac, 'mac');
  if (!driver.usesIpam && (req.ipv4 || req.ipv6)) throw new InvalidArgumentError('ip', `network "${net.name}" does not assign addresses`);
  const foreignDefault = driver.usesIpam && !net.internal && (await hasForeignDefaultRoute(ctx, sb));
  // In a namespace weft did not make, names its own interfaces already use are not free.
  const present = sb.kind === 'external' && driver.usesIpam ? (await ctx.kernel.inNetns(sb.netnsPath)).links().map((l) => l.name) : [];

  // A global endpoint's record is committed while the driver joins (see connectGlobal): this
  // resolves once it landed, to its failure if it failed (it never rejects).
  let recorded: Promise<WeftError | undefined> = Promise.resolve(undefined);
  const ep = await withRetry(async () => {
    const mine = await ctx.records.endpointsOfSandbox(sb.id);
    if (mine.some((e) => e.networkId === net.id))
      throw new ConflictError('network', `sandbox "${sb.name}" is already connected to network "${net.name}"`);
    const prefix = net.driverState.ifacePrefix ?? 'eth';
    const ifname =
      req.ifname === undefined
        ? nextIfname(prefix, new Set([...mine.map((e) => e.ifname), ...present]))
        : validateIfname('ifname', req.ifname);
    if (mine.some((e) => e.ifname === ifname))
      throw new ConflictError('ifname', `sandbox "${sb.name}" already has an interface "${ifname}"`);
    const nets = await Promise.all(mine.map((e) => ctx.records.network(e.networkId)));
    const hasDefault = mine.some((e, i) => e.defaultRoute && nets[i] && !nets[i].value.internal);
    const id = newId();
    const rec: EndpointRecord = {
      id,
      networkId: net.id,
      sandboxId: sb.id,
      ifname,
      aliases,
      defaultRoute: !hasDefault && !foreignDefault && !net.internal && driver.usesIpam,
      requested: {},
      created: now(),
    };
    if (driver.usesIpam)
      rec.hostIfname =
        req.hostIfname === undefined ? (driver.hostVeth ?? IFNAMES.hostVeth).of(id) : validateIfname('hostIfname', req.hostIfname);
    if (req.placement === 'runtime') rec.placement = 'runtime';
    if (req.ipv4) rec.requested.ipv4 = req.ipv4;
    if (req.ipv6) rec.requested.ipv6 = req.ipv6;
    if (mac) rec.requested.mac = mac;
    if (net.scope === 'global') {
      const g = await connectGlobal(ctx, sb, net, rec, req, driver.usesIpam, mac);
      recorded = g.recorded;
      return g.rec;
    }
    const commit = driver.usesIpam ? await allocate(ctx, driver, net, rec, req) : { checks: [], puts: [] };
    const fixed = driver.fixedMac?.(networkCtx(ctx, net));
    if (fixed && mac && fixed !== mac)
      throw new InvalidArgumentError(
        'mac',
        `network "${net.name}" gives every endpoint the MAC ${fixed} (${net.driver} ${net.driverState.mode ?? ''})`,
      );
    if (driver.usesIpam) rec.macAddress = fixed ?? mac ?? (rec.ipv4 ? macFromIPv4(rec.ipv4.split('/')[0]!) : randomMac());
    if (!(await ctx.records.sandbox(sb.id))) throw new NotFoundError('sandbox', sb.name);
    commit.checks!.push({ key: keys.endpoint(id), version: 0 });
    commit.puts!.push({ key: keys.endpoint(id), value: json(rec) });
    commit.puts!.push({ key: keys.sandboxEndpoint(sb.id, id), value: json(net.id) });
    await ctx.records.commitOrConflict(commit, `connect ${sb.name} to ${net.name}`);
    return rec;
  });

  try {
    await driver.join(endpointCtx(ctx, net, ep, sb));
    markPhase('endpoint.joined', () => ({ sandbox: sb.name, endpoint: ep.id }));
    const recordFailed = await recorded;
    if (recordFailed !== undefined) throw recordFailed;
    await runHooks(ctx, 'endpointUp', net, ep, sb);
    markPhase('endpoint.up', () => ({ sandbox: sb.name, endpoint: ep.id }));
  } catch (err) {
    const undo = new ErrorList(`connect ${sb.name} to ${net.name} failed and its rollback failed too`);
    undo.add(err);
    // The record's commit must have landed (or failed) before its release, else a late put
    // would bring back a record of an endpoint that no longer exists.
    const recordFailed = await recorded;
    if (recordFailed !== undefined && recordFailed !== err) undo.add(recordFailed);
    await undo.run(() => driver.leave(endpointCtx(ctx, net, ep, sb)));
    await undo.run(() => runHooks(ctx, 'endpointDown', net, ep, sb));
    // A failed record commit has already given back its addresses and index (connectGlobal).
    if (recordFailed === undefined) await undo.run(() => releaseEndpointRecords(ctx, ep, net));
    throw undo.combined();
  }
  if (!opts.filesByCaller) scheduleSandboxFiles(ctx, sb);
  return ep;
}

/**
 * Record a global network's endpoint: the sandbox's index entry here first, then addresses from
 * this host's cluster blocks, then the endpoint (with this host's id and address) in the cluster
 * store. A failure at any step undoes the earlier ones; a crash between them leaves an index
 * entry naming no endpoint (swept by the index invariant) or an address whose handle names no
 * endpoint (held by the journal of this host's blocks).
 *
 * The endpoint's commit is started, not awaited (`recorded`): the driver's join needs only the
 * addresses, so the kernel work runs while the record travels to etcd — one store round trip
 * (an fsync on etcd's disk) fewer on the way to the reply that `weft run` waits for. `recorded`
 * never rejects: it resolves to the failure, after giving back the addresses and the index.
 */
async function connectGlobal(
  ctx: ControllerContext,
  sb: SandboxRecord,
  net: NetworkRecord,
  rec: EndpointRecord,
  req: EndpointRequest,
  usesIpam: boolean,
  mac: string | undefined,
): Promise<{ rec: EndpointRecord; recorded: Promise<WeftError | undefined> }> {
  const cluster = ctx.records.cluster;
  if (!cluster) throw new InvalidArgumentError('scope', 'global-scope networks need a cluster store, and this weftd has none configured');
  cluster.assertAvailable();
  if (!(await ctx.records.sandbox(sb.id))) throw new NotFoundError('sandbox', sb.name);
  rec.host = cluster.hostId;
  rec.hostAddress = cluster.hostAddress;
  // Every host enforces policy for its own endpoints against all others: they select by these.
  rec.networkName = net.name;
  rec.driver = net.driver;
  rec.labels = { ...sb.labels };
  // Other hosts answer this name (and the aliases) in their embedded DNS, from this record alone.
  rec.sandboxName = sb.name;
  const index = { key: keys.sandboxEndpoint(sb.id, rec.id), value: json(net.id) };
  await ctx.records.commitOrConflict({ checks: [{ key: index.key, version: 0 }], puts: [index] }, `index ${sb.name} on ${net.name}`);
  markPhase('endpoint.indexed', () => ({ sandbox: sb.name }));
  let got: { pool: string; address: string }[] = [];
  const undo = async (err: unknown): Promise<unknown> => {
    const list = new ErrorList(`connect ${sb.name} to ${net.name} failed and its rollback failed too`);
    list.add(err);
    for (const g of got) await list.run(() => cluster.release(g.pool, g.address, rec.id));
    await list.run(() => ctx.records.store.commit({ deletes: [index.key] }));
    return list.combined();
  };
  try {
    got = usesIpam ? await allocateClusterAddresses(ctx, net, rec, req) : [];
    markPhase('endpoint.addressed', () => ({ sandbox: sb.name }));
    if (usesIpam) rec.macAddress = mac ?? (rec.ipv4 ? macFromIPv4(rec.ipv4.split('/')[0]!) : randomMac());
  } catch (err) {
    throw await undo(err);
  }
  const key = ctx.records.endpointKey(net, rec.id);
  const recorded = ctx.records
    .commitOrConflict({ checks: [{ key, version: 0 }], puts: [{ key, value: json(rec) }] }, `connect ${sb.name} to ${net.name}`, 'global')
    .then(
      () => void markPhase('endpoint.recorded', () => ({ sandbox: sb.name, endpoint: rec.id, ip: rec.ipv4 })),
      async (err: unknown) => asWeftError(await undo(err)),
    );
  return { rec, recorded };
}

/**
 * Delete an endpoint's record and give back its addresses. `net` says where they live; an
 * endpoint whose network record is gone can only be local (a global network's endpoints are
 * removed with it by the cluster store's own sweep).
 */
export async function releaseEndpointRecords(ctx: ControllerContext, ep: EndpointRecord, net?: NetworkRecord): Promise<void> {
  if (net?.scope === 'global') return releaseGlobalEndpoint(ctx, ep, net);
  const scope = net?.scope ?? 'local';
  const store = ctx.records.storeOf(scope);
  const deletes = [keys.endpoint(ep.id)];
  for (const [fam, cidr] of [
    [4, ep.ipv4],
    [6, ep.ipv6],
  ] as const) {
    if (!cidr) continue;
    const addr = cidr.split('/')[0]!;
    const k = keys.ipamAddr(ep.networkId, fam, addr);
    const owner = await store.get(k);
    if (owner && JSON.parse(owner.value) === ep.id) deletes.push(k);
  }
  const source = net ? ctx.drivers.get(net.driver).addresses : undefined;
  if (source && net) await source.release(networkCtx(ctx, net), ep.id);
  const index = keys.sandboxEndpoint(ep.sandboxId, ep.id);
  if (scope === 'local') {
    await store.commit({ deletes: [...deletes, index] });
  } else {
    await store.commit({ deletes });
    await ctx.records.store.commit({ deletes: [index] });
  }
}

/**
 * The record goes first, then the addresses: an address whose release failed stays held (a
 * leak the journal knows about), never handed out twice while a record still names it.
 */
async function releaseGlobalEndpoint(ctx: ControllerContext, ep: EndpointRecord, net: NetworkRecord): Promise<void> {
  await ctx.records.storeOf('global').commit({ deletes: [ctx.records.endpointKey(net, ep.id)] });
  const errors = new ErrorList(`releasing the cluster addresses of endpoint ${ep.id.slice(0, 12)}`);
  for (const [fam, cidr] of [
    [4, ep.ipv4],
    [6, ep.ipv6],
  ] as const) {
    if (cidr) await errors.run(() => ctx.records.cluster!.release(clusterPoolId(net.id, fam), cidr.split('/')[0]!, ep.id));
  }
  await errors.run(() => ctx.records.store.commit({ deletes: [keys.sandboxEndpoint(ep.sandboxId, ep.id)] }));
  errors.throwIfAny();
}

/** Disconnect: kernel teardown (tolerant of what is gone), release, and move the default route if needed. */
export async function disconnectEndpoint(
  ctx: ControllerContext,
  ep: EndpointRecord,
  sb: SandboxRecord,
  opts: { sandboxGoing?: boolean } = {},
): Promise<void> {
  const net = (await ctx.records.network(ep.networkId))?.value;
  // A global endpoint's records cannot be released while the cluster store is away: refuse
  // before the kernel is touched, so nothing is left half-done.
  if (net?.scope === 'global') ctx.records.cluster?.assertAvailable();
  // If the kernel part fails nothing has changed; once it is done, the rest keeps going past
  // failures (a service that missed the change is told again at the next start).
  if (net) await ctx.drivers.get(net.driver).leave(endpointCtx(ctx, net, ep, sb));
  const errors = new ErrorList(`disconnect ${sb.name}`);
  if (net) await errors.run(() => runHooks(ctx, 'endpointDown', net, ep, sb));
  await releaseEndpointRecords(ctx, ep, net);
  if (!opts.sandboxGoing) {
    // Recorded first, then set in the kernel: a failure here is repaired by reconcile.
    if (ep.defaultRoute) await errors.run(() => moveDefaultRoute(ctx, sb));
    scheduleSandboxFiles(ctx, sb);
  }
  errors.throwIfAny();
}

/** Give the default route to the first remaining endpoint on a non-internal network. */
async function moveDefaultRoute(ctx: ControllerContext, sb: SandboxRecord): Promise<void> {
  const rest = await ctx.records.endpointsOfSandbox(sb.id);
  for (const e of rest) {
    const n = await ctx.records.network(e.networkId);
    if (!n || n.value.internal || !ctx.drivers.get(n.value.driver).usesIpam) continue;
    const cur = await ctx.records.endpoint(e.id, e.networkId);
    if (!cur) continue;
    const updated = { ...cur.value, defaultRoute: true };
    const key = ctx.records.endpointKey(n.value, e.id);
    if (
      !(await ctx.records.storeOf(n.value.scope).commit({
        checks: [{ key, version: cur.version }],
        puts: [{ key, value: json(updated) }],
      }))
    )
      continue;
    await ctx.drivers.get(n.value.driver).join(endpointCtx(ctx, n.value, updated, sb));
    await runHooks(ctx, 'endpointUp', n.value, updated, sb);
    return;
  }
}
