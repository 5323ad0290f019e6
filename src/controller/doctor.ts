/**
 * The invariant checker (`weft doctor`): every check of the invariant table, nothing else —
 * the same table reconcile repairs from. With repair, it reconciles and reports what is left.
 */
import type { ControllerContext } from './context.js';
import { endpointCtx, networkCtx } from './context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import { reconcile } from './reconcile.js';
import { sandboxAlive } from './sandbox-ops.js';
import { MODEL_INVARIANTS, endpointDangling, hostCtx, hostInvariants, sandboxGone, snapshot } from './invariant-table.js';

export interface DoctorReport {
  ok: boolean;
  violations: string[];
  repaired?: string[];
  counts: { networks: number; sandboxes: number; endpoints: number; allocations: number };
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Problems with one endpoint's kernel objects (its driver's endpoint invariants). */
export async function checkEndpoint(ctx: ControllerContext, net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<string[]> {
  const c = endpointCtx(ctx, net, ep, sb);
  const v: string[] = [];
  for (const inv of ctx.drivers.get(net.driver).invariants.endpoint) {
    try {
      v.push(...(await inv.check(c)));
    } catch (err) {
      v.push(`endpoint ${sb.name}/${net.name}: ${messageOf(err)}`);
    }
  }
  return v;
}

export async function checkInvariants(ctx: ControllerContext): Promise<DoctorReport> {
  const v: string[] = [];
  const s = await snapshot(ctx);
  const nets = new Map(s.networks.map((n) => [n.id, n]));
  const sbs = new Map(s.sandboxes.map((x) => [x.id, x]));

  for (const n of s.networks) {
    for (const inv of ctx.drivers.get(n.driver).invariants.network) {
      try {
        v.push(...(await inv.check(networkCtx(ctx, n))));
      } catch (err) {
        v.push(`network ${n.name}: ${messageOf(err)}`);
      }
    }
  }
  const ids = new Set(sbs.keys());
  for (const sb of s.sandboxes) if (sandboxGone(ctx, sb, ids)) v.push(`sandbox ${sb.name}: its process or namespace is gone`);
  for (const ep of s.endpoints) {
    v.push(...endpointDangling(ep, nets, sbs));
    const net = nets.get(ep.networkId);
    const sb = sbs.get(ep.sandboxId);
    if (net && sb && sandboxAlive(ctx, sb)) v.push(...(await checkEndpoint(ctx, net, ep, sb)));
  }
  for (const inv of MODEL_INVARIANTS) v.push(...(await inv.check(ctx, s)));
  const hc = hostCtx(ctx, s);
  for (const { inv } of hostInvariants(ctx)) v.push(...(await inv.check(hc)));
  return {
    ok: v.length === 0,
    violations: v,
    counts: {
      networks: s.networks.length,
      sandboxes: s.sandboxes.length,
      endpoints: s.endpoints.length,
      allocations: s.allocations.length,
    },
  };
}

/** Check, and with repair reconcile then check again. */
export async function doctor(ctx: ControllerContext, repair: boolean): Promise<DoctorReport> {
  const first = await checkInvariants(ctx);
  if (!repair || first.ok) return first;
  await reconcile(ctx, { full: true, hooks: false });
  const second = await checkInvariants(ctx);
  return { ...second, repaired: first.violations.filter((x) => !second.violations.includes(x)) };
}
