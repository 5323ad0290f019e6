/**
 * The one invariant table: what the controller keeps true about its own records (below) plus
 * what each driver keeps true about its kernel objects (Driver.invariants). `weft doctor` runs
 * every check; reconcile runs every check and, where one fails, its repair. Both walk the same
 * table in the same order, so they cannot disagree about what "healthy" means.
 */
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ControllerContext } from './context.js';
import { driverCtx } from './context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { HostContext, Invariant, ModelView, RuntimePeer } from '../drivers/driver.js';
import { json, keys } from '../store/records.js';
import type { DriverScope } from '../drivers/driver.js';
import { EXTERNAL_OWNER_PREFIX } from './ipam-ops.js';
import { ErrorList } from '../errors.js';
import { dockerKeys, listRecords, type DockerEndpointRecord } from './runtime-records.js';
import { sandboxAlive } from './sandbox-ops.js';

export interface Allocation {
  key: string;
  version: number;
  scope: DriverScope;
  networkId: string;
  family: 4 | 6;
  address: string;
  owner: string;
}

/** Everything the table looks at, read once per pass (or per unit of a locked pass). */
export interface ModelSnapshot extends ModelView {
  networks: NetworkRecord[];
  endpoints: EndpointRecord[];
  sandboxes: SandboxRecord[];
  allocations: Allocation[];
  /** Sandbox→endpoint index entries whose endpoint is gone. */
  staleIndex: string[];
  /** Namespace files and sandbox directories under the run dir with no sandbox record. */
  runDirOrphans: { dir: 'netns' | 'sandboxes'; name: string }[];
}

const ALLOC = /^ipam\/([^/]+)\/([46])\/a\/(.+)$/;

/** Pairs made at a runtime's Join: their host ends are wanted even before they are endpoints. */
async function runtimePeers(ctx: ControllerContext): Promise<RuntimePeer[]> {
  return (await listRecords<DockerEndpointRecord>(ctx.records.store, dockerKeys.endpoints)).flatMap((r) =>
    r.hostIfname ? [{ networkId: r.networkId, hostIfname: r.hostIfname, peerName: r.srcName, mac: r.mac }] : [],
  );
}

function runDirEntries(ctx: ControllerContext, dir: 'netns' | 'sandboxes'): string[] {
  try {
    return readdirSync(path.join(ctx.config.runDir, dir));
  } catch (err) {
    // Not made yet (no sandbox was ever created): nothing to sweep.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function snapshot(ctx: ControllerContext): Promise<ModelSnapshot> {
  const networks = await ctx.records.networks();
  const sandboxes = await ctx.records.sandboxes();
  const endpoints = await ctx.records.endpoints();
  const allocations: Allocation[] = [];
  // Per-address allocation keys exist in the local scope only: a global network's addresses
  // live in cluster IPAM blocks, which the cluster agent keeps (journal, reclaim).
  for (const scope of ['local'] as const) {
    for (const e of await ctx.records.storeOf(scope).list('ipam/')) {
      const m = ALLOC.exec(e.key);
      if (!m) continue;
      allocations.push({
        key: e.key,
        version: e.version,
        scope,
        networkId: m[1]!,
        family: m[2] === '6' ? 6 : 4,
        address: m[3]!,
        owner: JSON.parse(e.value) as string,
      });
    }
  }
  const epIds = new Set(endpoints.map((e) => e.id));
  const staleIndex = (await ctx.records.store.list('index/sandbox-endpoints/'))
    .map((e) => e.key)
    .filter((k) => !epIds.has(k.split('/').pop()!));
  const live = new Set(sandboxes.map((s) => s.id));
  const runDirOrphans = (['netns', 'sandboxes'] as const).flatMap((dir) =>
    runDirEntries(ctx, dir)
      .filter((name) => /^[0-9a-f]{64}$/.test(name) && !live.has(name))
      .map((name) => ({ dir, name })),
  );
  return { networks, sandboxes, endpoints, allocations, staleIndex, runDirOrphans, runtimePeers: await runtimePeers(ctx) };
}

/** An invariant of the controller's own records. Repairs add what they did to `done`, for the report. */
export interface ModelInvariant {
  readonly id: string;
  readonly holds: string;
  check(ctx: ControllerContext, s: ModelSnapshot): Promise<string[]>;
  /** Undefined when only an operator can decide (e.g. which of two endpoints keeps an address). */
  repair?(ctx: ControllerContext, s: ModelSnapshot, done: string[]): Promise<void>;
}

const ipOf = (cidr: string): string => cidr.split('/')[0]!;

const allocationOwners: ModelInvariant = {
  id: 'ipam.allocation-owner',
  holds: 'every allocated address belongs to an existing endpoint or to an external owner (CNI IPAM, Docker IPAM)',
  async check(_ctx, s) {
    const ids = new Set(s.endpoints.map((e) => e.id));
    return s.allocations
      .filter((a) => !ids.has(a.owner) && !a.owner.startsWith(EXTERNAL_OWNER_PREFIX))
      .map((a) => `allocation ${a.key} has no endpoint`);
  },
  async repair(ctx, s, done) {
    const ids = new Set(s.endpoints.map((e) => e.id));
    for (const a of s.allocations) {
      if (ids.has(a.owner) || a.owner.startsWith(EXTERNAL_OWNER_PREFIX)) continue;
      // Compare-and-delete: an endpoint that claimed the address since the snapshot keeps it.
      if (await ctx.records.storeOf(a.scope).commit({ checks: [{ key: a.key, version: a.version }], deletes: [a.key] }))
        done.push(`allocation ${a.key}`);
    }
  },
};

const endpointAddresses: ModelInvariant = {
  id: 'ipam.endpoint-addresses',
  holds: "every endpoint's address is allocated to it (or to the external owner that reserved it), and to no other endpoint",
  async check(_ctx, s) {
    const v: string[] = [];
    const byKey = new Map(s.allocations.map((a) => [`${a.networkId}/${a.family}/${a.address}`, a]));
    const netName = new Map(s.networks.map((n) => [n.id, n.name]));
    const sbName = new Map(s.sandboxes.map((x) => [x.id, x.name]));
    const seen = new Set<string>();
    const global = new Set(s.networks.filter((n) => n.scope === 'global').map((n) => n.id));
    for (const ep of s.endpoints) {
      if (global.has(ep.networkId)) continue;
      for (const [fam, cidr] of [
        [4, ep.ipv4],
        [6, ep.ipv6],
      ] as const) {
        if (!cidr) continue;
        const addr = ipOf(cidr);
        const k = `${ep.networkId}/${fam}/${addr}`;
        if (seen.has(k)) v.push(`address ${addr} on network ${netName.get(ep.networkId) ?? ep.networkId} is held by two endpoints`);
        seen.add(k);
        const a = byKey.get(k);
        if (!a)
          v.push(
            `endpoint ${sbName.get(ep.sandboxId) ?? '?'}/${netName.get(ep.networkId) ?? '?'}: address ${addr} has no allocation record`,
          );
        // An address an external owner reserved for this endpoint (Docker's IPAM) stays theirs.
        else if (a.owner !== ep.id && !a.owner.startsWith(EXTERNAL_OWNER_PREFIX))
          v.push(`address ${addr}: allocation belongs to another endpoint`);
      }
    }
    return v;
  },
  async repair(ctx, s, done) {
    // A missing allocation is claimed for its endpoint, if still free; clashes are an operator's call.
    const byKey = new Set(s.allocations.map((a) => `${a.networkId}/${a.family}/${a.address}`));
    const nets = new Map(s.networks.map((n) => [n.id, n]));
    for (const ep of s.endpoints) {
      const net = nets.get(ep.networkId);
      if (!net || net.scope === 'global') continue;
      for (const [fam, cidr] of [
        [4, ep.ipv4],
        [6, ep.ipv6],
      ] as const) {
        if (!cidr || byKey.has(`${ep.networkId}/${fam}/${ipOf(cidr)}`)) continue;
        const key = keys.ipamAddr(ep.networkId, fam, ipOf(cidr));
        if (await ctx.records.storeOf(net.scope).commit({ checks: [{ key, version: 0 }], puts: [{ key, value: json(ep.id) }] }))
          done.push(`allocation ${key} restored`);
      }
    }
  },
};

const sandboxIndex: ModelInvariant = {
  id: 'index.sandbox-endpoints',
  holds: "every entry of a sandbox's endpoint index names an existing endpoint",
  async check(_ctx, s) {
    return s.staleIndex.map((k) => `index entry ${k} has no endpoint`);
  },
  async repair(ctx, s, done) {
    if (s.staleIndex.length > 0) await ctx.records.store.commit({ deletes: s.staleIndex });
    done.push(...s.staleIndex.map((k) => `index ${k}`));
  },
};

const runDir: ModelInvariant = {
  id: 'rundir.owned',
  holds: 'every namespace file and sandbox directory under the run directory belongs to a sandbox',
  async check(_ctx, s) {
    return s.runDirOrphans.map((o) => `${o.dir}/${o.name.slice(0, 12)} has no sandbox record`);
  },
  async repair(ctx, s, done) {
    // A crash between making them and recording the sandbox leaves these behind.
    const errors = new ErrorList('removing leftovers under the run directory');
    for (const o of s.runDirOrphans) {
      const p = path.join(ctx.config.runDir, o.dir, o.name);
      const removed = await errors.run(() => (o.dir === 'netns' ? ctx.kernel.deleteNetns(p) : rm(p, { recursive: true, force: true })));
      if (removed) done.push(`${o.dir === 'netns' ? 'netns' : 'sandbox dir'} ${o.name.slice(0, 12)}`);
    }
    errors.throwIfAny();
  },
};

/** The controller's sweep invariants, run after every network and endpoint was seen to. */
export const MODEL_INVARIANTS: readonly ModelInvariant[] = [allocationOwners, endpointAddresses, sandboxIndex, runDir];

/** Every driver's host-wide invariants (leftover kernel objects carrying its names). */
export function hostInvariants(ctx: ControllerContext): { driver: string; inv: Invariant<HostContext> }[] {
  return ctx.drivers.all().flatMap((d) => d.invariants.host.map((inv) => ({ driver: d.name, inv })));
}

export const hostCtx = (ctx: ControllerContext, model: ModelView): HostContext => ({ ...driverCtx(ctx), model });

/** Problems with one sandbox's existence (its process or namespace gone, or its host sandbox gone). */
export function sandboxGone(ctx: ControllerContext, sb: SandboxRecord, ids: ReadonlySet<string>): boolean {
  const orphanedJoiner = sb.kind === 'container' && sb.containerOf !== undefined && !ids.has(sb.containerOf);
  return orphanedJoiner || !sandboxAlive(ctx, sb);
}

/** An endpoint whose network or sandbox record is gone. */
export function endpointDangling(
  ep: EndpointRecord,
  nets: ReadonlyMap<string, NetworkRecord>,
  sbs: ReadonlyMap<string, SandboxRecord>,
): string[] {
  const v: string[] = [];
  if (!nets.has(ep.networkId)) v.push(`endpoint ${ep.id.slice(0, 12)}: network ${ep.networkId.slice(0, 12)} does not exist`);
  if (!sbs.has(ep.sandboxId)) v.push(`endpoint ${ep.id.slice(0, 12)}: sandbox ${ep.sandboxId.slice(0, 12)} does not exist`);
  return v;
}
