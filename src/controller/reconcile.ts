/**
 * Bring the kernel in line with the store: at start (after a crash, restart or reboot), on
 * drift events and periodically. Walks the invariant table (invariant-table.ts): every check,
 * and the repair of each one that fails. Repairs ensure and never re-create what exists, so
 * live traffic is not interrupted.
 */
import type { ControllerContext } from './context.js';
import { endpointCtx, logOf, networkCtx, runHooks } from './context.js';
import type { DriverScope, EndpointContext, Invariant, NetworkContext } from '../drivers/driver.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import { removeSandbox } from './sandbox-ops.js';
import { releaseEndpointRecords } from './endpoint-ops.js';
import { MODEL_INVARIANTS, hostCtx, hostInvariants, sandboxGone, snapshot } from './invariant-table.js';

export interface ReconcileReport {
  networksEnsured: number;
  endpointsEnsured: number;
  sandboxesReaped: string[];
  /** What the repairs did (leftover links, allocations, records…), one line each. */
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

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Check each invariant; repair the ones that fail, then check again. Returns what is still
 * wrong after the repairs (an empty list when everything holds).
 */
export async function ensureInvariants<C>(invariants: readonly Invariant<C>[], c: C): Promise<string[]> {
  const left: string[] = [];
  for (const inv of invariants) {
    if ((await inv.check(c)).length === 0) continue;
    await inv.repair(c);
    left.push(...(await inv.check(c)));
  }
  return left;
}

/** Ensure one network's invariants; throws if one cannot be made to hold. */
export async function ensureNetwork(ctx: ControllerContext, net: NetworkRecord): Promise<void> {
  const c: NetworkContext = networkCtx(ctx, net);
  const left = await ensureInvariants(ctx.drivers.get(net.driver).invariants.network, c);
  if (left.length > 0) throw new Error(left.join('; '));
}

/** Ensure one endpoint's invariants; throws if one cannot be made to hold. */
export async function ensureEndpoint(ctx: ControllerContext, net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void> {
  const c: EndpointContext = endpointCtx(ctx, net, ep, sb);
  const left = await ensureInvariants(ctx.drivers.get(net.driver).invariants.endpoint, c);
  if (left.length > 0) throw new Error(left.join('; '));
}

/** Reap sandboxes whose process or namespace is gone; returns the names really removed. */
export async function reapDeadSandboxes(ctx: ControllerContext, step: Step = direct, errors: string[] = []): Promise<string[]> {
  const reaped: string[] = [];
  const all = await ctx.records.sandboxes();
  const ids = new Set(all.map((s) => s.id));
  for (const candidate of all) {
    if (!sandboxGone(ctx, candidate, ids)) continue;
    await step(async () => {
      const sb = (await ctx.records.sandbox(candidate.id))?.value;
      if (!sb || !sandboxGone(ctx, sb, ids)) return;
      try {
        await removeSandbox(ctx, sb);
        reaped.push(sb.name);
      } catch (err) {
        // Kept, with what is left of it, for the next pass; said once here, and in the report.
        errors.push(`reap sandbox ${sb.name}: ${messageOf(err)}`);
        logOf(ctx).warn({ sandbox: sb.name, err: messageOf(err) }, 'removing a dead sandbox failed');
      }
    });
  }
  return reaped;
}

/**
 * One pass. `full` also ensures every network and endpoint in the kernel and sweeps leftovers;
 * `hooks` re-announces everything to the services (DNS, firewall) — needed at start only, and
 * for the global scope when the cluster store first answers after a start without it.
 * `scope` limits the networks and endpoints ensured to that scope's.
 */
export async function reconcile(
  ctx: ControllerContext,
  opts: { full: boolean; hooks: boolean; scope?: DriverScope },
  step: Step = direct,
): Promise<ReconcileReport> {
  const report: ReconcileReport = { networksEnsured: 0, endpointsEnsured: 0, sandboxesReaped: [], orphansRemoved: [], errors: [] };
  report.sandboxesReaped = await reapDeadSandboxes(ctx, step, report.errors);
  if (!opts.full) return report;
  const only = opts.scope === undefined ? undefined : ctx.records.scopes.of(opts.scope);

  for (const { id } of await (only ?? ctx.records).networks()) {
    await step(async () => {
      const net = (await ctx.records.network(id))?.value;
      // A global network of a driver this host lacks is other hosts' business.
      if (!net || (net.scope === 'global' && !ctx.drivers.has(net.driver))) return;
      try {
        await ensureNetwork(ctx, net);
        if (opts.hooks) await runHooks(ctx, 'networkUp', net);
        report.networksEnsured++;
      } catch (err) {
        report.errors.push(`network ${net.name}: ${messageOf(err)}`);
      }
    });
  }
  for (const { id, networkId } of await (only ?? ctx.records).endpoints()) {
    await step(async () => {
      const ep = (await ctx.records.endpoint(id, networkId))?.value;
      if (!ep) return;
      const sb = (await ctx.records.sandbox(ep.sandboxId))?.value;
      const net = (await ctx.records.network(ep.networkId))?.value;
      if (!sb || !net) {
        // Its kernel objects carry the driver's names; the host invariants below delete them.
        await releaseEndpointRecords(ctx, ep, net);
        report.orphansRemoved.push(`endpoint ${ep.id.slice(0, 12)}`);
        return;
      }
      try {
        await ensureEndpoint(ctx, net, ep, sb);
        if (opts.hooks) await runHooks(ctx, 'endpointUp', net, ep, sb);
        report.endpointsEnsured++;
      } catch (err) {
        report.errors.push(`endpoint ${sb.name}/${net.name}: ${messageOf(err)}`);
      }
    });
  }
  try {
    await step(() => sweep(ctx, report));
  } catch (err) {
    // e.g. the cluster store is away: no sweep on a partial view; the next pass runs it.
    report.errors.push(`sweep: ${messageOf(err)}`);
  }
  return report;
}

/** The model's own invariants, then every driver's host-wide ones (leftover kernel objects). */
async function sweep(ctx: ControllerContext, report: ReconcileReport): Promise<void> {
  // One read of the model for the whole sweep: the repairs touch disjoint records (allocations,
  // index entries, run-dir files, leftover links), so none invalidates another's view.
  const s = await snapshot(ctx);
  for (const inv of MODEL_INVARIANTS) {
    if (!inv.repair) continue;
    if ((await inv.check(ctx, s)).length === 0) continue;
    try {
      await inv.repair(ctx, s, report.orphansRemoved);
    } catch (err) {
      report.errors.push(`${inv.id}: ${messageOf(err)}`);
    }
  }
  const c = hostCtx(ctx, s);
  for (const { inv } of hostInvariants(ctx)) {
    const found = await inv.check(c);
    if (found.length === 0) continue;
    try {
      await inv.repair(c);
      const left = new Set(await inv.check(c));
      report.orphansRemoved.push(...found.filter((f) => !left.has(f)));
    } catch (err) {
      report.errors.push(`${inv.id}: ${messageOf(err)}`);
    }
  }
}
