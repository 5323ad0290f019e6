/**
 * What the overlay driver keeps true, each with a check (read-only, one sentence per
 * violation) and a repair (the driver's own ensure operations). Network-level checks look only
 * where the network's namespace exists: a host without local sandboxes carries nothing of it,
 * and the host-level sweep removes a namespace no local sandbox needs.
 */
import type { DriverInvariants, EndpointContext, HostContext, Invariant, NetworkContext, RemoteEndpoint } from '../driver.js';
import type { OverlayNs } from './overlay-objects.js';
import { clusterOf, hasNetns, liveEntries, mtuOf, openOverlay } from './overlay-objects.js';
import { desiredEntries, diffEntries, describeDiff, type PeerEntries } from './peer-plan.js';
import { OVERLAY_BRIDGE, OVERLAY_VXLAN, overlayNetnsPath } from './overlay-options.js';
import { checkLeg, ensureGatewayBridge, legClaims, wantsLeg } from './gateway-leg.js';
import { GATEWAY_BRIDGE, GATEWAY_FW_ID } from './gateway-address.js';
import { IFNAMES } from '../ifnames.js';
import { GATEWAY_MARK, markedEndpoint } from './overlay-ownership.js';
import { ownedBy } from '../link-ownership.js';
import { macOfId } from './overlay-options.js';

/** What the invariants need from the driver. */
export interface OverlayDriverView {
  ensureNetwork(c: NetworkContext): Promise<OverlayNs>;
  join(c: EndpointContext): Promise<void>;
  knownPeers(networkId: string): RemoteEndpoint[];
}

const netLabel = (c: NetworkContext): string => `network ${c.network.name}`;
const epLabel = (c: EndpointContext): string => `endpoint ${c.sandbox.name}/${c.network.name}`;

const devices = (d: OverlayDriverView): Invariant<NetworkContext> => ({
  id: 'overlay.devices',
  holds: 'where the network has local sandboxes, its namespace holds the bridge (up, gateway addresses, MTU) and the vxlan device on it',
  async check(c) {
    if (!hasNetns(c)) return [];
    const o = await openOverlay(c);
    if (!o) return [`${netLabel(c)}: ${OVERLAY_BRIDGE} or ${OVERLAY_VXLAN} missing in its namespace`];
    const problems: string[] = [];
    const mtu = mtuOf(c);
    if (!o.bridge.up) problems.push(`${netLabel(c)}: ${OVERLAY_BRIDGE} is down`);
    if (o.vxlan.kind !== 'vxlan') problems.push(`${netLabel(c)}: ${OVERLAY_VXLAN} is not a vxlan device`);
    if (o.vxlan.master !== o.bridge.index || !o.vxlan.up)
      problems.push(`${netLabel(c)}: ${OVERLAY_VXLAN} is down or off ${OVERLAY_BRIDGE}`);
    for (const l of [o.bridge, o.vxlan]) if (l.mtu !== mtu) problems.push(`${netLabel(c)}: ${l.name} has MTU ${l.mtu}, not ${mtu}`);
    const have = new Set(o.ns.addresses(o.bridge.index).map((a) => a.cidr.split('/')[0]));
    for (const p of c.network.ipam.config)
      if (!have.has(p.gateway)) problems.push(`${netLabel(c)}: gateway ${p.gateway} missing on ${OVERLAY_BRIDGE}`);
    return problems;
  },
  async repair(c) {
    if (hasNetns(c)) await d.ensureNetwork(c);
  },
});

/**
 * Only missing entries are violations: after a restart the driver knows no peers until the
 * cluster agent's resync replays them, and deleting what it cannot vouch for would cut live
 * flows. Stale entries leave through peerDown and hostDown.
 */
const peers = (d: OverlayDriverView): Invariant<NetworkContext> => ({
  id: 'overlay.peers',
  holds: 'the vxlan device has a permanent FDB entry and neighbour entry for every remote endpoint the cluster reported',
  async check(c) {
    const o = await openOverlay(c);
    if (!o) return [];
    const want = desiredEntries(d.knownPeers(c.network.id), clusterOf(c).hostAddress);
    const missing = diffEntries(want, liveEntries(o)).add;
    const none: PeerEntries = { fdb: [], neigh: [] };
    return describeDiff({ add: missing, del: none }, netLabel(c));
  },
  async repair(c) {
    if (hasNetns(c)) await d.ensureNetwork(c);
  },
});

const port = (d: OverlayDriverView): Invariant<EndpointContext> => ({
  id: 'overlay.endpoint-port',
  holds: "the endpoint's veth is a port of the network's bridge and its sandbox end is up with the endpoint's addresses",
  async check(c) {
    const o = await openOverlay(c);
    if (!o) return [`${epLabel(c)}: the network's namespace or devices are missing on this host`];
    const name = c.endpoint.hostIfname ?? IFNAMES.hostVeth.of(c.endpoint.id);
    const l = o.ns.link(name);
    if (!l || l.master !== o.bridge.index || !l.up) return [`${epLabel(c)}: port ${name} missing, down or off ${OVERLAY_BRIDGE}`];
    const inner = await c.kernel.inNetns(c.sandbox.netnsPath);
    const link = inner.link(c.endpoint.ifname);
    if (!link) return [`${epLabel(c)}: ${c.endpoint.ifname} missing in sandbox`];
    const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
    return [c.endpoint.ipv4, c.endpoint.ipv6]
      .filter((a): a is string => !!a && !have.has(a))
      .map((a) => `${epLabel(c)}: address ${a} missing`);
  },
  repair: (c) => d.join(c),
});

const leg = (d: OverlayDriverView): Invariant<EndpointContext> => ({
  id: 'overlay.endpoint-gateway-leg',
  holds: `a sandbox whose default route is on a non-internal overlay network has a leg on ${GATEWAY_BRIDGE} with an address and that route`,
  async check(c) {
    return wantsLeg(c) ? checkLeg(c, epLabel(c)) : [];
  },
  repair: (c) => d.join(c),
});

/** Local endpoints (their sandbox is on this host) by network. */
function localEndpoints(c: HostContext): { legs: Set<string>; nets: Set<string> } {
  const sandboxes = new Set(c.model.sandboxes.map((s) => s.id));
  const overlayNets = new Set(c.model.networks.filter((n) => n.driver === 'overlay').map((n) => n.id));
  const legs = new Set<string>();
  const nets = new Set<string>();
  for (const e of c.model.endpoints) {
    if (!overlayNets.has(e.networkId) || !sandboxes.has(e.sandboxId)) continue;
    legs.add(e.id);
    nets.add(e.networkId);
  }
  return { legs, nets };
}

function orphans(c: HostContext): {
  links: { index: number; name: string }[];
  claims: { index: number; ip: string }[];
  namespaces: string[];
} {
  const { legs, nets } = localEndpoints(c);
  const rt = c.kernel.host();
  // Only legs carrying weft's mark for an endpoint no local sandbox has: a link that merely has
  // a leg-like name (or the WireGuard device, marked per host) is never a leftover.
  const links = rt
    .links()
    .filter((l) => IFNAMES.overlay.pattern.test(l.name) && l.kind === 'veth')
    .filter((l) => {
      const ep = markedEndpoint(l);
      return ep !== undefined && !legs.has(ep);
    })
    .map((l) => ({ index: l.index, name: l.name }));
  const found = rt.link(GATEWAY_BRIDGE);
  const br = found && ownedBy(found, GATEWAY_MARK) ? found : undefined;
  const wantMacs = new Set([...legs].map(macOfId));
  const claims = br
    ? legClaims(rt, br.index)
        .filter((x) => !wantMacs.has(x.mac))
        .map((x) => ({ index: br.index, ip: x.ip }))
    : [];
  const hostId = c.services.cluster?.hostId;
  const namespaces =
    hostId === undefined
      ? []
      : c.model.networks
          .filter((n) => n.driver === 'overlay' && !nets.has(n.id))
          .map((n) => overlayNetnsPath(hostId, n.id, c.services.runDir))
          .filter((p) => c.kernel.netnsInode(p) !== undefined);
  return { links, claims, namespaces };
}

const noOrphans: Invariant<HostContext> = {
  id: 'overlay.no-orphans',
  holds: `every ${IFNAMES.overlay.prefix}… leg, ${GATEWAY_BRIDGE} address claim and overlay namespace on this host belongs to a local sandbox`,
  async check(c) {
    const o = orphans(c);
    return [
      ...o.links.map((l) => `link ${l.name} looks like an overlay leg but no local endpoint has it`),
      ...o.claims.map((x) => `${GATEWAY_BRIDGE} address claim ${x.ip} belongs to no local endpoint`),
      ...o.namespaces.map((p) => `overlay namespace ${p} has no local sandbox`),
    ];
  },
  async repair(c) {
    const o = orphans(c);
    const rt = c.kernel.host();
    for (const l of o.links) rt.deleteLink(l.index, { ignoreMissing: true });
    for (const x of o.claims) rt.deleteNeighbour({ index: x.index, family: 4, dst: x.ip }, { ignoreMissing: true });
    for (const p of o.namespaces) if (c.kernel.netnsInode(p) !== undefined) await c.kernel.deleteNetns(p);
  },
};

/** The gateway bridge's masquerading is in the firewall (a firewall restart from the model alone drops it). */
const gatewayNat: Invariant<HostContext> = {
  id: 'overlay.gateway-nat',
  holds: `while ${GATEWAY_BRIDGE} exists, the firewall masquerades its subnet`,
  async check(c) {
    const fw = c.services.firewall;
    const br = c.kernel.host().link(GATEWAY_BRIDGE);
    if (!fw || !br || !ownedBy(br, GATEWAY_MARK)) return [];
    return fw.state.networks.some((n) => n.id === GATEWAY_FW_ID) ? [] : [`firewall has no masquerading for ${GATEWAY_BRIDGE}`];
  },
  async repair(c) {
    const br = c.kernel.host().link(GATEWAY_BRIDGE);
    if (br && ownedBy(br, GATEWAY_MARK)) await ensureGatewayBridge(c);
  },
};

export function overlayInvariants(d: OverlayDriverView): DriverInvariants {
  return {
    network: [devices(d), peers(d)],
    endpoint: [port(d), leg(d)],
    host: [noOrphans, gatewayNat],
  };
}
