/**
 * Bring the kernel in line with the store: at start (after a crash, restart or reboot) and
 * periodically. Ensures, never re-creates what exists, so live traffic is not interrupted.
 */
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ControllerContext } from './context.js';
import { runHooks } from './context.js';
import { removeSandbox, sandboxAlive } from './sandbox-ops.js';
import { releaseEndpointRecords, hostIfnameOf } from './endpoint-ops.js';
import { EXTERNAL_OWNER_PREFIX } from './ipam-ops.js';
import { deleteOwnedLink, isWeftLink, ownerMark, parseMark } from '../drivers/link-ownership.js';
import type { LinkInfo } from '../kernel/netlink/types.js';

/**
 * Whether a host link is a leftover of weft's: made by weft (its mark) and owned by no record.
 * Docker's veths are left to the Docker driver, which knows their records.
 */
export function orphanWeftLink(
  l: LinkInfo,
  known: { networks: Set<string>; endpoints: Set<string>; wantIfs: Set<string>; wantBridges: Set<string> },
): boolean {
  if (!isWeftLink(l)) return false;
  const mark = parseMark(l.alias);
  if (mark?.kind === 'network') return !known.networks.has(mark.id);
  if (mark?.kind === 'endpoint') return !known.endpoints.has(mark.id);
  if (mark !== undefined) return false;
  // Made by weft but not yet named (a crash between the two calls): wanted names are kept.
  return !known.wantIfs.has(l.name) && !known.wantBridges.has(l.name);
}

export interface ReconcileReport {
  networksEnsured: number;
  endpointsEnsured: number;
  sandboxesReaped: string[];
  orphansRemoved: string[];
  errors: string[];
}

/**
 * Runs one unit of reconcile work. At start the whole pass runs under one lock (`direct`); the
 * periodic pass takes the engine lock per unit so API requests are never stuck behind it, and
 * each unit re-reads its records first (they may have changed while it waited).
 */
export type Step = <T>(fn: () => Promise<T>) => Promise<T>;
const direct: Step = (fn) => fn();

/** Reap sandboxes whose process or namespace is gone; returns their names. */
export async function reapDeadSandboxes(ctx: ControllerContext, step: Step = direct): Promise<string[]> {
  const reaped: string[] = [];
  const all = await ctx.records.sandboxes();
  const ids = new Set(all.map((s) => s.id));
  for (const candidate of all) {
    const orphanedJoiner = candidate.kind === 'container' && candidate.containerOf !== undefined && !ids.has(candidate.containerOf);
    if (!orphanedJoiner && sandboxAlive(ctx, candidate)) continue;
    await step(async () => {
      const sb = (await ctx.records.sandbox(candidate.id))?.value;
      if (!sb || (!orphanedJoiner && sandboxAlive(ctx, sb))) return;
      await removeSandbox(ctx, sb).catch(() => undefined);
      reaped.push(sb.name);
    });
  }
  return reaped;
}

/**
 * One pass. `full` also ensures every network and endpoint in the kernel and sweeps leftovers;
 * `hooks` re-announces everything to the services (DNS, firewall) — needed at start only.
 */
export async function reconcile(
  ctx: ControllerContext,
  opts: { full: boolean; hooks: boolean },
  step: Step = direct,
): Promise<ReconcileReport> {
  const report: ReconcileReport = { networksEnsured: 0, endpointsEnsured: 0, sandboxesReaped: [], orphansRemoved: [], errors: [] };
  report.sandboxesReaped = await reapDeadSandboxes(ctx, step);
  if (!opts.full) return report;

  for (const { id } of await ctx.records.networks()) {
    await step(async () => {
      const net = (await ctx.records.network(id))?.value;
      if (!net) return;
      try {
        await ctx.drivers.get(net.driver).setup({ kernel: ctx.kernel }, net);
        if (opts.hooks) await runHooks(ctx, 'networkUp', net);
        report.networksEnsured++;
      } catch (err) {
        report.errors.push(`network ${net.name}: ${(err as Error).message}`);
      }
    });
  }
  for (const { id } of await ctx.records.endpoints()) {
    await step(async () => {
      const ep = (await ctx.records.endpoint(id))?.value;
      if (!ep) return;
      const sb = (await ctx.records.sandbox(ep.sandboxId))?.value;
      const net = (await ctx.records.network(ep.networkId))?.value;
      if (!sb || !net) {
        await releaseEndpointRecords(ctx, ep);
        if (ep.hostIfname) deleteOwnedLink(ctx.kernel.host(), ep.hostIfname, [ownerMark('endpoint', ep.id)]);
        report.orphansRemoved.push(`endpoint ${ep.id.slice(0, 12)}`);
        return;
      }
      try {
        await ctx.drivers.get(net.driver).setupEndpoint({ kernel: ctx.kernel, network: net, endpoint: ep, sandbox: sb });
        if (opts.hooks) await runHooks(ctx, 'endpointUp', net, ep, sb);
        report.endpointsEnsured++;
      } catch (err) {
        report.errors.push(`endpoint ${sb.name}/${net.name}: ${(err as Error).message}`);
      }
    });
  }
  await step(() => sweepLeftovers(ctx, report));
  return report;
}

/** Records and kernel objects that nothing owns any more (crashes between steps). */
async function sweepLeftovers(ctx: ControllerContext, report: ReconcileReport): Promise<void> {
  const nets = await ctx.records.networks();
  const sandboxes = new Map((await ctx.records.sandboxes()).map((s) => [s.id, s]));
  const endpoints = await ctx.records.endpoints();
  // Allocations whose endpoint no longer exists (a crash between steps) are given back.
  const epIds = new Set(endpoints.map((e) => e.id));
  for (const e of await ctx.records.store.list('ipam/')) {
    if (!e.key.includes('/a/')) continue;
    const owner = JSON.parse(e.value) as string;
    if (!epIds.has(owner) && !owner.startsWith(EXTERNAL_OWNER_PREFIX)) {
      await ctx.records.store.commit({ checks: [{ key: e.key, version: e.version }], deletes: [e.key] });
      report.orphansRemoved.push(`allocation ${e.key}`);
    }
  }
  for (const e of await ctx.records.store.list('index/sandbox-endpoints/')) {
    const epId = e.key.split('/').pop()!;
    if (!epIds.has(epId)) await ctx.records.store.commit({ deletes: [e.key] });
  }
  // Links weft made (marked as weft's) that no record owns any more are weft's leftovers.
  // A link without weft's mark is never touched, whatever its name.
  const wantIfs = new Set(endpoints.map((e) => e.hostIfname ?? hostIfnameOf(e.id)));
  const wantBridges = new Set(nets.map((n) => n.driverState.bridgeName).filter((b): b is string => !!b));
  for (const l of ctx.kernel.host().links()) {
    if (orphanWeftLink(l, { networks: new Set(nets.map((n) => n.id)), endpoints: epIds, wantIfs, wantBridges })) {
      ctx.kernel.host().deleteLink(l.index, { ignoreMissing: true });
      report.orphansRemoved.push(`link ${l.name}`);
    }
  }
  await sweepRunDir(ctx, new Set(sandboxes.keys()), report);
}

/**
 * Namespace files and sandbox directories under the runtime directory that no record owns
 * (a crash between making them and recording them) are removed.
 */
async function sweepRunDir(ctx: ControllerContext, live: Set<string>, report: ReconcileReport): Promise<void> {
  for (const [dir, isNetns] of [
    [path.join(ctx.config.runDir, 'netns'), true],
    [path.join(ctx.config.runDir, 'sandboxes'), false],
  ] as const) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (live.has(name) || !/^[0-9a-f]{64}$/.test(name)) continue;
      const p = path.join(dir, name);
      if (isNetns) await ctx.kernel.deleteNetns(p).catch(() => undefined);
      else await rm(p, { recursive: true, force: true });
      report.orphansRemoved.push(`${isNetns ? 'netns' : 'sandbox dir'} ${name.slice(0, 12)}`);
    }
  }
}
