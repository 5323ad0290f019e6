/**
 * Bring the kernel in line with the store: at start (after a crash, restart or reboot) and
 * periodically. Ensures, never re-creates what exists, so live traffic is not interrupted.
 */
import type { ControllerContext } from './context.js';
import { runHooks } from './context.js';
import { removeSandbox, sandboxAlive } from './sandbox-ops.js';
import { releaseEndpointRecords, hostIfnameOf } from './endpoint-ops.js';
import { keys } from '../store/records.js';
import { EXTERNAL_OWNER_PREFIX } from './ipam-ops.js';

export interface ReconcileReport {
  networksEnsured: number;
  endpointsEnsured: number;
  sandboxesReaped: string[];
  orphansRemoved: string[];
  errors: string[];
}

/** Reap sandboxes whose process or namespace is gone; returns their names. */
export async function reapDeadSandboxes(ctx: ControllerContext): Promise<string[]> {
  const reaped: string[] = [];
  const all = await ctx.records.sandboxes();
  const ids = new Set(all.map((s) => s.id));
  for (const sb of all) {
    const orphanedJoiner = sb.kind === 'container' && sb.containerOf !== undefined && !ids.has(sb.containerOf);
    if (!orphanedJoiner && sandboxAlive(ctx, sb)) continue;
    await removeSandbox(ctx, sb).catch(() => undefined);
    reaped.push(sb.name);
  }
  return reaped;
}

/**
 * One pass. `full` also ensures every network and endpoint in the kernel and sweeps leftovers;
 * `hooks` re-announces everything to the services (DNS, firewall) — needed at start only.
 */
export async function reconcile(ctx: ControllerContext, opts: { full: boolean; hooks: boolean }): Promise<ReconcileReport> {
  const report: ReconcileReport = { networksEnsured: 0, endpointsEnsured: 0, sandboxesReaped: [], orphansRemoved: [], errors: [] };
  report.sandboxesReaped = await reapDeadSandboxes(ctx);
  if (!opts.full) return report;

  const nets = await ctx.records.networks();
  const netById = new Map(nets.map((n) => [n.id, n]));
  for (const net of nets) {
    try {
      await ctx.drivers.get(net.driver).setup({ kernel: ctx.kernel }, net);
      if (opts.hooks) await runHooks(ctx, 'networkUp', net);
      report.networksEnsured++;
    } catch (err) {
      report.errors.push(`network ${net.name}: ${(err as Error).message}`);
    }
  }
  const sandboxes = new Map((await ctx.records.sandboxes()).map((s) => [s.id, s]));
  const endpoints = await ctx.records.endpoints();
  for (const ep of endpoints) {
    const sb = sandboxes.get(ep.sandboxId);
    const net = netById.get(ep.networkId);
    if (!sb || !net) {
      await releaseEndpointRecords(ctx, ep);
      if (ep.hostIfname) ctx.kernel.host().deleteLink(ep.hostIfname, { ignoreMissing: true });
      report.orphansRemoved.push(`endpoint ${ep.id.slice(0, 12)}`);
      continue;
    }
    try {
      await ctx.drivers.get(net.driver).setupEndpoint({ kernel: ctx.kernel, network: net, endpoint: ep, sandbox: sb });
      if (opts.hooks) await runHooks(ctx, 'endpointUp', net, ep, sb);
      report.endpointsEnsured++;
    } catch (err) {
      report.errors.push(`endpoint ${sb.name}/${net.name}: ${(err as Error).message}`);
    }
  }
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
  // Kernel objects that carry weft's names but have no record are weft's leftovers.
  const wantIfs = new Set(endpoints.map((e) => e.hostIfname ?? hostIfnameOf(e.id)));
  const wantBridges = new Set(nets.map((n) => n.driverState.bridgeName).filter((b): b is string => !!b));
  for (const l of ctx.kernel.host().links()) {
    const ours = (/^wfv[0-9a-f]{12}$/.test(l.name) && !wantIfs.has(l.name)) || (/^wf-[0-9a-f]{12}$/.test(l.name) && l.kind === 'bridge' && !wantBridges.has(l.name));
    if (ours) {
      ctx.kernel.host().deleteLink(l.index, { ignoreMissing: true });
      report.orphansRemoved.push(`link ${l.name}`);
    }
  }
  void keys;
  return report;
}
