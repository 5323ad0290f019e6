/**
 * The host shim (`-o weft.macvlan.host_shim=true`). A macvlan parent hands frames from its
 * children to the wire and frames from the wire to its children, but never between the parent
 * itself and its children: the host cannot reach its own containers through the parent. The
 * standard remedy is one more macvlan child in bridge mode in the host's namespace: children
 * and shim are siblings on the same macvlan port, and siblings in bridge mode talk directly.
 * The shim gets an address reserved in the network's IPAM (aux address "weft-host-shim") and
 * one host route per endpoint through it (a route for the whole subnet would clash with the
 * host's own connected route when the host has an address on the same LAN).
 */
import type { KernelPort, NetlinkPort } from '../../kernel/kernel-port.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import type { EndpointRecord, NetworkRecord } from '../../model/types.js';
import { ConflictError } from '../../errors.js';
import { SHIM_AUX_NAME } from './macvlan-options.js';
import { IFNAMES } from '../ifnames.js';
import { isOwned, ownerAlias } from '../underlay/owner-alias.js';
import { quietIpv6 } from '../quiet-ipv6.js';

const shimName = (networkId: string): string => IFNAMES.macvlanShim.of(networkId);

/** Locally administered unicast MAC derived from the network id (stable across restarts). */
export function shimMacOf(networkId: string): string {
  return ['06', ...(networkId.slice(0, 10).match(/../g) ?? [])].join(':');
}

const hostCidr = (addr: string): string => `${addr}/${addr.includes(':') ? 128 : 32}`;

/** The shim's addresses ("a.b.c.d/32", "…/128"), one per pool. */
export function shimAddresses(net: NetworkRecord): string[] {
  return net.ipam.config
    .map((p) => p.auxAddresses[SHIM_AUX_NAME])
    .filter((a): a is string => !!a)
    .map(hostCidr);
}

/**
 * Create (or repair) the shim on `parent`. Returns whether this call created it. The shim
 * answers ARP only for its own address and announces only it: otherwise, being on the LAN
 * too, it would answer for the host's other addresses and the LAN would see one address at
 * two MACs (ARP flux).
 */
export async function ensureShim(kernel: KernelPort, net: NetworkRecord, parent: LinkInfo): Promise<boolean> {
  const rt = kernel.host();
  const name = shimName(net.id);
  let link = rt.link(name);
  // No alias at all: weft's own shim from a run that died between creating and marking it.
  if (link && (link.kind !== 'macvlan' || (link.alias !== undefined && !isOwned(link.alias, 'shim', net.id))))
    throw new ConflictError('parent', `interface ${name} exists but is not weft's host shim`);
  const created = !link;
  link ??= rt.createMacvlan({ name, parent: parent.index, mode: 'bridge', mac: shimMacOf(net.id), up: false })!;
  const index = link.index;
  try {
    if (link.alias === undefined) rt.setLink(index, { alias: ownerAlias('shim', net.id) });
    if (created) quietIpv6(() => rt.setLink(index, { ipv6AddrGenNone: true }));
    await kernel.setSysctl(undefined, `net.ipv4.conf.${name}.arp_ignore`, '1');
    await kernel.setSysctl(undefined, `net.ipv4.conf.${name}.arp_announce`, '2');
    const have = new Set(rt.addresses(index).map((a) => a.cidr));
    for (const cidr of shimAddresses(net)) if (!have.has(cidr)) rt.addAddress(index, cidr, { nodad: true });
    if (!link.up) rt.setLink(index, { up: true });
  } catch (err) {
    if (!created) throw err;
    try {
      rt.deleteLink(index, { ignoreMissing: true });
    } catch (undo) {
      throw new AggregateError([err, undo], `host shim ${name}: set-up failed and so did its removal`);
    }
    throw err;
  }
  return created;
}

export function removeShim(rt: NetlinkPort, net: NetworkRecord): void {
  const link = rt.link(shimName(net.id));
  // Its per-endpoint routes go with it.
  if (link && isOwned(link.alias, 'shim', net.id)) rt.deleteLink(link.index, { ignoreMissing: true });
}

/** Host routes to an endpoint's addresses through the shim (from the shim's address). */
function routesOf(net: NetworkRecord, ep: EndpointRecord, shim: LinkInfo): { dst: string; oif: number; prefsrc?: string }[] {
  const src = shimAddresses(net).map((c) => c.split('/')[0]!);
  return [ep.ipv4, ep.ipv6]
    .filter((c): c is string => !!c)
    .map((c) => {
      const addr = c.split('/')[0]!;
      const from = src.find((s) => s.includes(':') === addr.includes(':'));
      return { dst: hostCidr(addr), oif: shim.index, ...(from ? { prefsrc: from } : {}) };
    });
}

export function ensureShimRoutes(rt: NetlinkPort, net: NetworkRecord, ep: EndpointRecord): void {
  const shim = rt.link(shimName(net.id));
  if (!shim) return; // the network's setup (or the next resync) makes it, then comes back here
  for (const r of routesOf(net, ep, shim)) {
    const fam = r.dst.includes(':') ? 6 : 4;
    // Never replace: a host route to that address that is not ours is a conflict to report, not to overwrite.
    if (!rt.routes(fam, 254).some((x) => x.dst === r.dst && x.oif === shim.index)) rt.addRoute(r);
  }
}

export function removeShimRoutes(rt: NetlinkPort, net: NetworkRecord, ep: EndpointRecord): void {
  const shim = rt.link(shimName(net.id));
  if (!shim) return;
  for (const r of routesOf(net, ep, shim)) rt.deleteRoute({ dst: r.dst, oif: r.oif }, { ignoreMissing: true });
}

export function shimProblems(rt: NetlinkPort, net: NetworkRecord): string[] {
  const name = shimName(net.id);
  const link = rt.link(name);
  if (!link) return [`network ${net.name}: host shim ${name} is missing`];
  const out: string[] = [];
  if (!link.up) out.push(`network ${net.name}: host shim ${name} is down`);
  const have = new Set(rt.addresses(link.index).map((a) => a.cidr));
  for (const c of shimAddresses(net)) if (!have.has(c)) out.push(`network ${net.name}: host shim address ${c} missing`);
  return out;
}

export function shimRouteProblems(rt: NetlinkPort, net: NetworkRecord, ep: EndpointRecord, who: string): string[] {
  const shim = rt.link(shimName(net.id));
  if (!shim) return [];
  return routesOf(net, ep, shim)
    .filter((r) => !rt.routes(r.dst.includes(':') ? 6 : 4, 254).some((x) => x.dst === r.dst && x.oif === shim.index))
    .map((r) => `endpoint ${who}: host route ${r.dst} via shim ${shim.name} missing`);
}
