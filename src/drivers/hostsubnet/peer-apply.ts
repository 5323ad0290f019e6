/**
 * Applying peer plans (peer-plan.ts) through the kernel port: ensure (read first, write only
 * what differs, so a resync never re-announces a good route), remove (already gone is fine),
 * check (one sentence per missing object), and prune (entries of ours that no lease wants —
 * a dead host's, or a subnet that moved). Routes carry weft's own protocol number so prune
 * never touches a route someone else made.
 */
import type { NetlinkPort } from '../../kernel/kernel-port.js';
import { cidrContainsCidr, parseCidr } from '../../ipam/cidr.js';
import type { SubnetConfig } from '../../ipam/subnet-leases.js';
import { MAIN_TABLE, NTF_SELF, NUD_PERMANENT, type PeerPlan } from './peer-plan.js';

/** rtm_protocol of hostsubnet routes ("W"; unassigned in /etc/iproute2/rt_protos). */
export const HOSTSUBNET_RTPROTO = 0x57;

const AF_BRIDGE = 7;

export interface PeerDevices {
  /** The VTEP's ifindex (vxlan backend). */
  vtep?: number;
  underlay: number;
}

function oifOf(plan: PeerPlan, devs: PeerDevices): number {
  if (plan.route.dev === 'underlay') return devs.underlay;
  if (devs.vtep === undefined) throw new Error('vxlan peer plan without a VTEP device');
  return devs.vtep;
}

/** Problems with one peer's objects; empty = all there. */
export function checkPeer(rt: NetlinkPort, devs: PeerDevices, plan: PeerPlan): string[] {
  const out: string[] = [];
  const oif = oifOf(plan, devs);
  const r = rt.routes(4, MAIN_TABLE).find((x) => x.dst === plan.route.dst);
  if (!r || r.gateway !== plan.route.gateway || r.oif !== oif)
    out.push(`route ${plan.route.dst} via ${plan.route.gateway} missing or wrong`);
  if (plan.neigh) {
    const n = rt.neighbours(4, devs.vtep).find((x) => x.dst === plan.neigh!.dst);
    if (!n || n.lladdr !== plan.neigh.lladdr || (n.state & NUD_PERMANENT) === 0)
      out.push(`neighbour ${plan.neigh.dst} → ${plan.neigh.lladdr} missing or wrong`);
  }
  if (plan.fdb) {
    const f = rt.neighbours(AF_BRIDGE, devs.vtep).find((x) => x.lladdr === plan.fdb!.lladdr);
    if (!f || f.dst !== plan.fdb.dst) out.push(`fdb ${plan.fdb.lladdr} → ${plan.fdb.dst} missing or wrong`);
  }
  return out;
}

/** Ensure one peer's objects: FDB and neighbour first, so the route never points at an unresolved VTEP. */
export function applyPeer(rt: NetlinkPort, devs: PeerDevices, plan: PeerPlan): void {
  if (checkPeer(rt, devs, plan).length === 0) return;
  if (plan.fdb) {
    rt.addNeighbour(
      { index: devs.vtep!, family: AF_BRIDGE, lladdr: plan.fdb.lladdr, dst: plan.fdb.dst, state: NUD_PERMANENT, flags: NTF_SELF },
      { replace: true },
    );
  }
  if (plan.neigh) {
    rt.addNeighbour(
      { index: devs.vtep!, family: 4, dst: plan.neigh.dst, lladdr: plan.neigh.lladdr, state: NUD_PERMANENT },
      { replace: true },
    );
  }
  rt.addRoute(
    { dst: plan.route.dst, gateway: plan.route.gateway, oif: oifOf(plan, devs), onlink: plan.route.onlink, protocol: HOSTSUBNET_RTPROTO },
    { replace: true },
  );
}

/** Remove one peer's objects (route first: nothing is sent toward a half-removed peer). */
export function removePeer(rt: NetlinkPort, devs: PeerDevices, plan: PeerPlan): void {
  rt.deleteRoute({ dst: plan.route.dst, protocol: HOSTSUBNET_RTPROTO }, { ignoreMissing: true });
  if (plan.neigh && devs.vtep !== undefined)
    rt.deleteNeighbour({ index: devs.vtep, family: 4, dst: plan.neigh.dst }, { ignoreMissing: true });
  if (plan.fdb && devs.vtep !== undefined)
    rt.deleteNeighbour(
      { index: devs.vtep, family: AF_BRIDGE, lladdr: plan.fdb.lladdr, dst: plan.fdb.dst, flags: NTF_SELF },
      { ignoreMissing: true },
    );
}

/** Our routes into the network that no wanted plan names (plus, on the VTEP, stale neighbour/FDB entries). */
export function strayObjects(
  rt: NetlinkPort,
  cfg: SubnetConfig,
  devs: PeerDevices,
  wanted: readonly PeerPlan[],
): { routes: string[]; neighs: string[]; fdbs: { lladdr: string; dst?: string }[] } {
  const net = parseCidr(cfg.network, 'subnet');
  const wantRoutes = new Set(wanted.map((p) => p.route.dst));
  const routes = rt
    .routes(4, MAIN_TABLE)
    .filter((r) => r.protocol === HOSTSUBNET_RTPROTO && cidrContainsCidr(net, parseCidr(r.dst, 'route')) && !wantRoutes.has(r.dst))
    .map((r) => r.dst);
  if (devs.vtep === undefined) return { routes, neighs: [], fdbs: [] };
  const wantNeigh = new Set(wanted.flatMap((p) => (p.neigh ? [p.neigh.dst] : [])));
  const wantFdb = new Set(wanted.flatMap((p) => (p.fdb ? [p.fdb.lladdr] : [])));
  const neighs = rt
    .neighbours(4, devs.vtep)
    .filter((n) => (n.state & NUD_PERMANENT) !== 0 && n.dst !== undefined && !wantNeigh.has(n.dst))
    .map((n) => n.dst!);
  const fdbs = rt
    .neighbours(AF_BRIDGE, devs.vtep)
    .filter((n) => n.lladdr !== undefined && n.lladdr !== '00:00:00:00:00:00' && !wantFdb.has(n.lladdr) && (n.state & NUD_PERMANENT) !== 0)
    .map((n) => ({ lladdr: n.lladdr!, ...(n.dst === undefined ? {} : { dst: n.dst }) }));
  return { routes, neighs, fdbs };
}

/** Delete what strayObjects found. */
export function pruneStray(rt: NetlinkPort, devs: PeerDevices, stray: ReturnType<typeof strayObjects>): void {
  for (const dst of stray.routes) rt.deleteRoute({ dst, protocol: HOSTSUBNET_RTPROTO }, { ignoreMissing: true });
  if (devs.vtep === undefined) return;
  for (const dst of stray.neighs) rt.deleteNeighbour({ index: devs.vtep, family: 4, dst }, { ignoreMissing: true });
  for (const f of stray.fdbs)
    rt.deleteNeighbour(
      { index: devs.vtep, family: AF_BRIDGE, lladdr: f.lladdr, ...(f.dst ? { dst: f.dst } : {}), flags: NTF_SELF },
      { ignoreMissing: true },
    );
}
