/**
 * A sandbox's way out from a non-internal overlay network (Docker's docker_gwbridge leg): a
 * veth from the sandbox to the host's gateway bridge, an address on the bridge's host-local
 * subnet, and the sandbox's default route through it; the firewall masquerades the subnet.
 * The address claim is a permanent neighbour entry on the bridge (see gateway-address.ts).
 * An endpoint with an IPv6 address (IPv6-enabled network) gets the IPv6 side too: an address
 * on the bridge's IPv6 subnet and the sandbox's IPv6 default route, so its IPv6 egress is
 * masqueraded and its published ports are reached over IPv6 (ip6 DNAT to the leg).
 */
import type { EgressInterface, EndpointContext, HostContext, PublishTarget } from '../driver.js';
import { createHash } from 'node:crypto';
import type { NetlinkPort } from '../../kernel/kernel-port.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import type { FwNetwork } from '../../firewall/types.js';
import { KernelError } from '../../errors.js';
import { IFNAMES } from '../ifnames.js';
import {
  GATEWAY_BRIDGE,
  GATEWAY_FW_ID,
  GATEWAY_SUBNET,
  GATEWAY_SUBNET6,
  gatewayCidr,
  gatewayCidr6,
  legAddress6,
  pickLegAddress,
} from './gateway-address.js';
import { macOfId } from './overlay-options.js';
import { createOwnedBridge, createOwnedVeth, ownedBy } from '../link-ownership.js';
import { GATEWAY_MARK, endpointMark, mustOwn } from './overlay-ownership.js';

const NUD_PERMANENT = 0x80;

/** Name of the leg inside the sandbox (one per endpoint, so it never clashes with ethN). */
export const legIfname = (endpointId: string): string => `gw${endpointId.slice(0, 12)}`;
export const legHostIfname = (endpointId: string): string => IFNAMES.overlay.of(endpointId);
const gatewayAddress = (): string => gatewayCidr().split('/')[0]!;
const gatewayAddress6 = (): string => gatewayCidr6().split('/')[0]!;
const prefix = (): string => GATEWAY_SUBNET.split('/')[1]!;
const prefix6 = (): string => GATEWAY_SUBNET6.split('/')[1]!;

/** Whether the endpoint's leg carries IPv6 too: its network gave it an IPv6 address. */
export const wantsLeg6 = (c: EndpointContext): boolean => c.endpoint.ipv6 !== undefined && c.endpoint.ipv6 !== '';

/** The gateway bridge's MAC: locally administered, from the host id (stable across restarts). */
export const gatewayBridgeMac = (hostId: string): string =>
  macOfId(createHash('sha256').update(`${GATEWAY_BRIDGE}:${hostId}`).digest('hex'));

/** Whether an endpoint gets a leg: it gives its sandbox the default route and may leave the network. */
export const wantsLeg = (c: EndpointContext): boolean => c.endpoint.defaultRoute && !c.network.internal;

export const gatewayFwNetwork = (): FwNetwork => ({
  id: GATEWAY_FW_ID,
  bridge: GATEWAY_BRIDGE,
  subnets4: [GATEWAY_SUBNET],
  // Always listed (one definition of the network for every caller): a host without IPv6 legs
  // has no address in it, so the IPv6 elements match nothing there.
  subnets6: [GATEWAY_SUBNET6],
  internal: false,
  // Sandboxes of different overlay networks must not talk through the gateway bridge.
  icc: false,
  masquerade: true,
});

/**
 * Ensure the gateway bridge (address, up) and its masquerading in the firewall; with `ipv6`,
 * also its IPv6 address and IPv6 forwarding (made only once an IPv6 leg needs them: a host
 * whose overlay networks are IPv4-only keeps its IPv6 settings as they were).
 */
export async function ensureGatewayBridge(c: HostContext | EndpointContext, ipv6 = false): Promise<LinkInfo> {
  const rt = c.kernel.host();
  let br = rt.link(GATEWAY_BRIDGE);
  // A bridge of that name someone else made is theirs: no address, state or port is added to it.
  if (br) mustOwn(br, GATEWAY_MARK, 'overlay gateway bridge');
  if (br && br.kind !== 'bridge') throw new KernelError('overlay gateway bridge', `${GATEWAY_BRIDGE} exists and is not a bridge`);
  // A MAC of its own: a bridge without one takes its lowest port's, and each change of it
  // flushes the bridge's neighbour table — the permanent entries that are the legs' address
  // claims with it (a second leg would erase the first one's claim).
  const mac = gatewayBridgeMac(c.services.cluster?.hostId ?? '');
  if (!br) br = createOwnedBridge(rt, { name: GATEWAY_BRIDGE, mac, up: false }, GATEWAY_MARK);
  // One an older weftd made has the kernel's MAC: fixed while no claim can be lost by it.
  else if (br.mac !== mac && legClaims(rt, br.index).length === 0) {
    rt.setLink(br.index, { mac });
    br = rt.link(GATEWAY_BRIDGE)!;
  }
  if (!rt.addresses(br.index, 4).some((a) => a.cidr === gatewayCidr())) rt.addAddress(br.index, gatewayCidr());
  // nodad: legs route through it at once (a tentative address would not answer for ~1 s).
  if (ipv6 && !rt.addresses(br.index, 6).some((a) => a.cidr === gatewayCidr6())) rt.addAddress(br.index, gatewayCidr6(), { nodad: true });
  if (!br.up) rt.setLink(br.index, { up: true });
  // Egress is routed from the gateway bridge to the underlay (Docker turns forwarding on too).
  if ((await c.kernel.readSysctl(undefined, 'net.ipv4.ip_forward')) !== '1')
    await c.kernel.setSysctl(undefined, 'net.ipv4.ip_forward', '1');
  if (ipv6 && (await c.kernel.readSysctl(undefined, 'net.ipv6.conf.all.forwarding')) !== '1')
    await c.kernel.setSysctl(undefined, 'net.ipv6.conf.all.forwarding', '1');
  const fw = c.services.firewall;
  if (fw && !fw.state.networks.some((n) => n.id === GATEWAY_FW_ID)) await fw.addNetwork(gatewayFwNetwork());
  return rt.link(GATEWAY_BRIDGE)!;
}

/** Permanent neighbour entries on the gateway bridge: address → leg MAC (the allocation). */
export function legClaims(rt: NetlinkPort, bridgeIndex: number): { ip: string; mac: string }[] {
  return rt
    .neighbours(4, bridgeIndex)
    .filter((n) => n.index === bridgeIndex && (n.state & NUD_PERMANENT) !== 0 && n.dst && n.lladdr)
    .map((n) => ({ ip: n.dst!, mac: n.lladdr! }));
}

/** Ensure the endpoint's leg; returns the host end's name. Removes what it made if a step fails. */
export async function ensureLeg(c: EndpointContext, sandboxNs: NetlinkPort): Promise<void> {
  const ep = c.endpoint;
  const rt = c.kernel.host();
  const br = await ensureGatewayBridge(c, wantsLeg6(c));
  const hostIf = legHostIfname(ep.id);
  const inner = legIfname(ep.id);
  const mac = macOfId(ep.id);
  let created = false;
  try {
    const existing = rt.link(hostIf);
    if (existing) mustOwn(existing, endpointMark(ep.id), 'overlay gateway leg');
    if (!existing) {
      const l = createOwnedVeth(
        rt,
        {
          name: hostIf,
          peerName: inner,
          peerNetnsFd: await c.kernel.netnsFd(c.sandbox.netnsPath),
          peerMac: mac,
          master: br.index,
          up: true,
        },
        endpointMark(ep.id),
      );
      created = true;
      rt.setLink(l.index, { ipv6AddrGenNone: true });
    } else if (existing.master !== br.index || !existing.up) rt.setLink(existing.index, { master: br.index, up: true });
    const link = sandboxNs.link(inner);
    if (!link) throw new KernelError('overlay gateway leg', `${inner} did not appear in sandbox ${c.sandbox.name}`);
    const claims = legClaims(rt, br.index);
    let ip = claims.find((x) => x.mac === mac)?.ip;
    if (!ip) {
      ip = pickLegAddress(ep.id, new Set(claims.map((x) => x.ip)));
      rt.addNeighbour({ index: br.index, family: 4, dst: ip, lladdr: mac, state: NUD_PERMANENT });
    }
    const cidr = `${ip}/${prefix()}`;
    if (!sandboxNs.addresses(link.index, 4).some((a) => a.cidr === cidr)) sandboxNs.addAddress(link.index, cidr);
    if (!link.up) sandboxNs.setLink(link.index, { up: true });
    const gw = gatewayAddress();
    const def = sandboxNs.routes(4, 254).find((r) => r.dst === '0.0.0.0/0');
    if (!def || def.gateway !== gw || def.oif !== link.index)
      sandboxNs.addRoute({ dst: '0.0.0.0/0', gateway: gw, oif: link.index }, { replace: true });
    if (wantsLeg6(c)) {
      const cidr6 = `${legAddress6(ip)}/${prefix6()}`;
      if (!sandboxNs.addresses(link.index, 6).some((a) => a.cidr === cidr6)) sandboxNs.addAddress(link.index, cidr6, { nodad: true });
      const gw6 = gatewayAddress6();
      const def6 = sandboxNs.routes(6, 254).find((r) => r.dst === '::/0');
      if (!def6 || def6.gateway !== gw6 || def6.oif !== link.index)
        sandboxNs.addRoute({ dst: '::/0', gateway: gw6, oif: link.index }, { replace: true });
    }
  } catch (err) {
    if (created) removeLeg(c);
    throw err;
  }
}

/** Remove the leg and its address claim (already gone is fine); a link of that name weft did not make for it stays. */
export function removeLeg(c: EndpointContext): void {
  const rt = c.kernel.host();
  const l = rt.link(legHostIfname(c.endpoint.id));
  if (l && ownedBy(l, endpointMark(c.endpoint.id))) rt.deleteLink(l.index, { ignoreMissing: true });
  const br = rt.link(GATEWAY_BRIDGE);
  if (!br || !ownedBy(br, GATEWAY_MARK)) return;
  const mac = macOfId(c.endpoint.id);
  for (const x of legClaims(rt, br.index))
    if (x.mac === mac) rt.deleteNeighbour({ index: br.index, family: 4, dst: x.ip }, { ignoreMissing: true });
}

/** The address of the endpoint's leg on the gateway bridge (its claim there), if it has one. */
export function legAddress(c: EndpointContext): string | undefined {
  const rt = c.kernel.host();
  const br = rt.link(GATEWAY_BRIDGE);
  if (!br || !ownedBy(br, GATEWAY_MARK)) return undefined;
  const mac = macOfId(c.endpoint.id);
  return legClaims(rt, br.index).find((x) => x.mac === mac)?.ip;
}

/**
 * Published ports of an overlay endpoint go to its leg (Docker DNATs to the container's
 * docker_gwbridge address): the overlay address lives in the network's own namespace, which the
 * host's firewall does not route to. No leg (internal network, not the default route): none.
 */
export function legPublishTarget(c: EndpointContext): PublishTarget | undefined {
  if (!wantsLeg(c)) return undefined;
  const ip = legAddress(c);
  if (ip === undefined) return undefined;
  return { network: gatewayFwNetwork(), ipv4: ip, ...(wantsLeg6(c) ? { ipv6: legAddress6(ip) } : {}) };
}

/** The leg as the sandbox sees it (name, MAC, addresses, the gateways of its default routes), if it has one. */
export function legEgress(c: EndpointContext): EgressInterface | undefined {
  if (!wantsLeg(c)) return undefined;
  const ip = legAddress(c);
  if (ip === undefined) return undefined;
  return {
    ifname: legIfname(c.endpoint.id),
    mac: macOfId(c.endpoint.id),
    ipv4: `${ip}/${prefix()}`,
    gateway4: gatewayAddress(),
    ...(wantsLeg6(c) ? { ipv6: `${legAddress6(ip)}/${prefix6()}`, gateway6: gatewayAddress6() } : {}),
  };
}

/** Problems with an endpoint's leg, one sentence each (read-only). */
export async function checkLeg(c: EndpointContext, label: string): Promise<string[]> {
  const rt = c.kernel.host();
  const hostIf = rt.link(legHostIfname(c.endpoint.id));
  const br = rt.link(GATEWAY_BRIDGE);
  if (!br) return [`${label}: gateway bridge ${GATEWAY_BRIDGE} missing`];
  if (!hostIf || hostIf.master !== br.index || !hostIf.up)
    return [`${label}: gateway leg ${legHostIfname(c.endpoint.id)} missing, down or off the bridge`];
  const mac = macOfId(c.endpoint.id);
  const ip = legClaims(rt, br.index).find((x) => x.mac === mac)?.ip;
  if (!ip) return [`${label}: gateway leg has no address claim on ${GATEWAY_BRIDGE}`];
  const inner = await c.kernel.inNetns(c.sandbox.netnsPath);
  const link = inner.link(legIfname(c.endpoint.id));
  if (!link) return [`${label}: ${legIfname(c.endpoint.id)} missing in sandbox`];
  const problems: string[] = [];
  if (!inner.addresses(link.index, 4).some((a) => a.cidr === `${ip}/${prefix()}`))
    problems.push(`${label}: gateway leg address ${ip} missing`);
  const def = inner.routes(4, 254).find((r) => r.dst === '0.0.0.0/0');
  if (!def || def.gateway !== gatewayAddress()) problems.push(`${label}: default route via ${gatewayAddress()} missing`);
  if (wantsLeg6(c)) {
    const cidr6 = `${legAddress6(ip)}/${prefix6()}`;
    if (!inner.addresses(link.index, 6).some((a) => a.cidr === cidr6)) problems.push(`${label}: gateway leg address ${cidr6} missing`);
    const def6 = inner.routes(6, 254).find((r) => r.dst === '::/0');
    if (!def6 || def6.gateway !== gatewayAddress6()) problems.push(`${label}: IPv6 default route via ${gatewayAddress6()} missing`);
    if (!rt.addresses(br.index, 6).some((a) => a.cidr === gatewayCidr6()))
      problems.push(`${label}: ${GATEWAY_BRIDGE} lacks ${gatewayCidr6()}`);
  }
  return problems;
}
