/**
 * The invariant checker (`weft doctor`): compares the store with the kernel.
 *  - every network's and endpoint's kernel objects exist as recorded (driver checks);
 *  - every weft-named kernel object has a record (no leaks);
 *  - no address is held twice, and every allocation has its endpoint and vice versa;
 *  - every sandbox recorded is alive.
 * With repair, it reconciles and reports what is left.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { ControllerContext } from './context.js';
import { orphanWeftLink, reconcile } from './reconcile.js';
import { sandboxAlive } from './sandbox-ops.js';
import { EXTERNAL_OWNER_PREFIX } from './ipam-ops.js';
import { hostNetnsIdentities } from '../kernel/netns-identity.js';
import { HostPortGuard } from './host-port-guard.js';
import { describeSocket } from '../firewall/host-listeners.js';

export interface DoctorReport {
  ok: boolean;
  violations: string[];
  repaired?: string[];
  counts: { networks: number; sandboxes: number; endpoints: number; allocations: number };
}

export async function checkInvariants(ctx: ControllerContext): Promise<DoctorReport> {
  const v: string[] = [];
  const nets = await ctx.records.networks();
  const sandboxes = await ctx.records.sandboxes();
  const endpoints = await ctx.records.endpoints();
  const netById = new Map(nets.map((n) => [n.id, n]));
  const sbById = new Map(sandboxes.map((s) => [s.id, s]));
  const allocations = (await ctx.records.store.list('ipam/')).filter((e) => e.key.includes('/a/'));

  for (const n of nets) v.push(...(await ctx.drivers.get(n.driver).check({ kernel: ctx.kernel }, n)));
  for (const sb of sandboxes) if (!sandboxAlive(ctx, sb)) v.push(`sandbox ${sb.name}: its process or namespace is gone`);
  // Attachments to the host's own namespace (refused since; records from before are reported).
  const hostNs = new Set(hostNetnsIdentities().map((x) => x.id.ino));
  for (const sb of sandboxes) {
    if (sb.kind === 'external' && sb.netnsInode !== undefined && hostNs.has(sb.netnsInode))
      v.push(`sandbox ${sb.name}: attached to the host's own network namespace (${sb.netnsPath}); detach it with weft sandbox rm`);
  }

  const seen = new Map<string, string>();
  for (const ep of endpoints) {
    const net = netById.get(ep.networkId);
    const sb = sbById.get(ep.sandboxId);
    if (!net) v.push(`endpoint ${ep.id.slice(0, 12)}: network ${ep.networkId.slice(0, 12)} does not exist`);
    if (!sb) v.push(`endpoint ${ep.id.slice(0, 12)}: sandbox ${ep.sandboxId.slice(0, 12)} does not exist`);
    for (const [fam, cidr] of [
      [4, ep.ipv4],
      [6, ep.ipv6],
    ] as const) {
      if (!cidr) continue;
      const addr = cidr.split('/')[0]!;
      const k = `${ep.networkId}/${addr}`;
      if (seen.has(k)) v.push(`address ${addr} on network ${net?.name ?? ep.networkId} is held by two endpoints`);
      seen.set(k, ep.id);
      const owner = allocations.find((a) => a.key === `ipam/${ep.networkId}/${fam}/a/${addr}`);
      if (!owner) v.push(`endpoint ${sb?.name ?? '?'}/${net?.name ?? '?'}: address ${addr} has no allocation record`);
      // An address an external owner reserved for this endpoint (Docker's IPAM, reservedBy) stays theirs.
      else if (JSON.parse(owner.value) !== ep.id && !(JSON.parse(owner.value) as string).startsWith(EXTERNAL_OWNER_PREFIX))
        v.push(`address ${addr}: allocation belongs to another endpoint`);
    }
    if (net && sb && sandboxAlive(ctx, sb)) {
      v.push(
        ...(await ctx.drivers
          .get(net.driver)
          .checkEndpoint({ kernel: ctx.kernel, network: net, endpoint: ep, sandbox: sb })
          .catch((e: Error) => [`endpoint ${sb.name}/${net.name}: ${e.message}`])),
      );
    }
  }
  const epIds = new Set(endpoints.map((e) => e.id));
  for (const a of allocations) {
    const owner = JSON.parse(a.value) as string;
    if (!epIds.has(owner) && !owner.startsWith(EXTERNAL_OWNER_PREFIX)) v.push(`allocation ${a.key} has no endpoint`);
  }

  const wantIfs = new Set(endpoints.map((e) => e.hostIfname).filter((x): x is string => !!x));
  const wantBridges = new Set(nets.map((n) => n.driverState.bridgeName).filter((x): x is string => !!x));
  const known = { networks: new Set(nets.map((n) => n.id)), endpoints: epIds, wantIfs, wantBridges };
  for (const l of ctx.kernel.host().links()) {
    // Only links carrying weft's mark can be weft's leftovers; a look-alike name is not enough.
    if (orphanWeftLink(l, known)) v.push(`link ${l.name} was made by weft (${l.alias ?? 'unnamed'}) but nothing owns it`);
  }
  // A host program that bound a published port after weft published it loses its traffic to
  // the sandbox: say so (weft does not take the port back on its own; the user decides).
  const hostPorts = new HostPortGuard();
  for (const sb of sandboxes) {
    for (const p of sb.ports ?? []) {
      const s = hostPorts.holder(p);
      if (s) v.push(`sandbox ${sb.name}: published port ${p.hostPort}/${p.protocol} is also held on the host (${describeSocket(s)})`);
    }
  }
  const live = new Set(sandboxes.map((s) => s.id));
  for (const sub of ['netns', 'sandboxes']) {
    let names: string[] = [];
    try {
      names = readdirSync(path.join(ctx.config.runDir, sub));
    } catch {
      /* none yet */
    }
    for (const n of names) if (/^[0-9a-f]{64}$/.test(n) && !live.has(n)) v.push(`${sub}/${n.slice(0, 12)} has no sandbox record`);
  }
  return {
    ok: v.length === 0,
    violations: v,
    counts: { networks: nets.length, sandboxes: sandboxes.length, endpoints: endpoints.length, allocations: allocations.length },
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
