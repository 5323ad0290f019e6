/**
 * The per-host devices of a hostsubnet network: the local bridge carrying the gateway of this
 * host's subnet (Flannel's cni0) and the VXLAN VTEP carrying the subnet's network address as a
 * /32 (Flannel's flannel.<VNI>). Ensure = read back and fix only what differs. An address of
 * the cluster network that is not this host's current one (the subnet changed while the host was
 * away) is replaced, not complained about — Flannel's "cni0 already has an IP address" trap.
 * Both carry weft's mark (hostsubnet-ownership.ts): a link of the same name that is not this
 * network's is refused with a ConflictError and left exactly as it is.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { NetlinkPort } from '../../kernel/kernel-port.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import type { NetworkRecord } from '../../model/types.js';
import { createOwnedBridge } from '../link-ownership.js';
import { hostsubnetMark, ownedLinkOf } from './hostsubnet-ownership.js';
import { createOwnedVxlan } from '../link-ownership.js';
import { cidrContains, parseAddress, parseCidr } from '../../ipam/cidr.js';
import { subnetGateway, type SubnetConfig } from '../../ipam/subnet-leases.js';
import { vtepAddressOf } from './peer-plan.js';

/** The underlay device: the one holding the host's advertised address. */
export function underlayOf(rt: NetlinkPort, hostAddress: string): LinkInfo {
  const a = rt.addresses(undefined, 4).find((x) => x.cidr.split('/')[0] === hostAddress);
  const link = a && rt.link(a.index);
  if (!link) throw new InvalidArgumentError('advertise-addr', `no interface of this host has the advertised address ${hostAddress}`);
  return link;
}

/** Make the link's addresses inside the cluster network exactly `want`; others (a stale lease's) go. */
function ensureOnlyAddress(rt: NetlinkPort, link: LinkInfo, cfg: SubnetConfig, want: string): void {
  const net = parseCidr(cfg.network, 'subnet');
  const have = rt.addresses(link.index, 4);
  for (const a of have) {
    if (a.cidr !== want && cidrContains(net, parseAddress(a.cidr.split('/')[0]!, 'address')))
      rt.deleteAddress(link.index, a.cidr, { ignoreMissing: true });
  }
  if (!have.some((a) => a.cidr === want)) rt.addAddress(link.index, want);
}

/** Fix what differs on one of the network's devices: MAC, MTU, its one address in the cluster network, up. The link as it is now. */
function settle(rt: NetlinkPort, link: LinkInfo, cfg: SubnetConfig, want: { mac: string; mtu: number }, address: string): LinkInfo {
  if (link.mac !== want.mac) rt.setLink(link.index, { mac: want.mac });
  if (link.mtu !== want.mtu) rt.setLink(link.index, { mtu: want.mtu });
  ensureOnlyAddress(rt, link, cfg, address);
  if (!link.up) rt.setLink(link.index, { up: true });
  return rt.link(link.index)!;
}

export interface BridgeSpec {
  name: string;
  mtu: number;
  mac: string;
  subnet: string;
}

/** Ensure the bridge with the gateway of this host's subnet; returns whether it was created. */
export function ensureBridge(rt: NetlinkPort, net: NetworkRecord, cfg: SubnetConfig, b: BridgeSpec): { link: LinkInfo; created: boolean } {
  let br = ownedLinkOf(rt, net, b.name, 'bridge', { kind: 'bridge', mac: b.mac });
  const created = !br;
  br ??= createOwnedBridge(rt, { name: b.name, mtu: b.mtu, mac: b.mac, up: false }, hostsubnetMark(net));
  return { link: settle(rt, br, cfg, b, `${subnetGateway(b.subnet)}/${parseCidr(b.subnet, 'subnet').prefix}`), created };
}

export interface VtepSpec {
  name: string;
  vni: number;
  port: number;
  local: string;
  underlay: number;
  mtu: number;
  mac: string;
  subnet: string;
}

/** Ensure the VTEP (learning off: every remote MAC is programmed); returns whether it was created. */
export function ensureVtep(rt: NetlinkPort, net: NetworkRecord, cfg: SubnetConfig, v: VtepSpec): { link: LinkInfo; created: boolean } {
  let dev = ownedLinkOf(rt, net, v.name, 'backend', { kind: 'vxlan', mac: v.mac });
  const created = !dev;
  dev ??= createOwnedVxlan(
    rt,
    { name: v.name, vni: v.vni, port: v.port, local: v.local, dev: v.underlay, learning: false, mtu: v.mtu, mac: v.mac, up: false },
    hostsubnetMark(net),
  );
  return { link: settle(rt, dev, cfg, v, `${vtepAddressOf(v.subnet)}/32`), created };
}
