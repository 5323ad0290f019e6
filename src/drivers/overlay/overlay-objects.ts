/**
 * A network's kernel objects on one host, through the kernel ports: its own namespace holding a
 * bridge (with the subnet's gateway) and a vxlan device (learning off, proxy ARP/ND on) whose
 * UDP socket stays in the host namespace; and the vxlan device's FDB and neighbour tables,
 * read and written as PeerEntries. The namespace is what lets two overlay networks use the
 * same subnet on one host.
 */
import type { NetworkContext } from '../driver.js';
import type { NetlinkPort } from '../../kernel/kernel-port.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import { InvalidArgumentError, KernelError } from '../../errors.js';
import { parseCidr } from '../../ipam/cidr.js';
import type { NetworkRecord } from '../../model/types.js';
import {
  OVERLAY_BRIDGE,
  OVERLAY_VXLAN,
  VXLAN_PORT,
  WG_OVERHEAD_V4,
  givenMtuOf,
  isEncrypted,
  overlayMtu,
  overlayNetnsPath,
  vniOf,
  vtepOf,
} from './overlay-options.js';
import type { PeerDiff, PeerEntries } from './peer-plan.js';
import { WEFT_LINK_GROUP, claimLink, createOwnedBridge, ownedBy } from '../link-ownership.js';
import { mustOwn, networkMark } from './overlay-ownership.js';

/** Kernel constants used here (linux/neighbour.h): NUD_PERMANENT, NTF_SELF, NTF_MASTER. */
const NUD_PERMANENT = 0x80;
const NTF_SELF = 0x02;
const NTF_MASTER = 0x04;
const EEXIST = 17;

/** "gateway/prefix" for each pool: the bridge in the network's namespace carries them. */
const gatewayCidrs = (net: NetworkRecord): string[] => net.ipam.config.map((p) => `${p.gateway}/${parseCidr(p.subnet, 'subnet').prefix}`);

/** This host's id and underlay address; the overlay cannot work without a cluster. */
export function clusterOf(c: { services: NetworkContext['services'] }): { hostId: string; hostAddress: string } {
  const cl = c.services.cluster;
  if (!cl)
    throw new InvalidArgumentError(
      'driver',
      'the overlay driver needs a cluster store: start weftd with --cluster-store etcd://IP:2379 (and --advertise-addr)',
    );
  return { hostId: cl.hostId, hostAddress: cl.hostAddress };
}

export const netnsPathOf = (c: NetworkContext): string => overlayNetnsPath(clusterOf(c).hostId, c.network.id, c.services.runDir);

/** Whether the network's namespace exists on this host. */
export const hasNetns = (c: NetworkContext): boolean => c.kernel.netnsInode(netnsPathOf(c)) !== undefined;

/** The underlay device (the one holding this host's advertised address) and its MTU. */
export function underlayOf(c: NetworkContext): { link: LinkInfo; ipv6: boolean } {
  const { hostAddress } = clusterOf(c);
  const rt = c.kernel.host();
  const a = rt.addresses().find((x) => x.cidr.split('/')[0] === hostAddress);
  const link = a && rt.link(a.index);
  if (!link) throw new KernelError('overlay underlay', `no interface in this host's namespace holds the advertised address ${hostAddress}`);
  return { link, ipv6: hostAddress.includes(':') };
}

/** The MTU of the network's devices on this host (given, or underlay − VXLAN overhead); refuses one too large. */
export function mtuOf(c: NetworkContext): number {
  const u = underlayOf(c);
  // Encrypted networks run VXLAN over IPv6 tunnel addresses inside WireGuard.
  if (isEncrypted(c.network)) return overlayMtu(givenMtuOf(c.network), u.link.mtu - WG_OVERHEAD_V4, true);
  return overlayMtu(givenMtuOf(c.network), u.link.mtu, u.ipv6);
}

export interface OverlayNs {
  path: string;
  ns: NetlinkPort;
  bridge: LinkInfo;
  vxlan: LinkInfo;
}

/** The namespace's handle and devices if all exist, else undefined (read-only). */
export async function openOverlay(c: NetworkContext): Promise<OverlayNs | undefined> {
  const path = netnsPathOf(c);
  if (c.kernel.netnsInode(path) === undefined) return undefined;
  const ns = await c.kernel.inNetns(path);
  const bridge = ns.link(OVERLAY_BRIDGE);
  const vxlan = ns.link(OVERLAY_VXLAN);
  return bridge && vxlan ? { path, ns, bridge, vxlan } : undefined;
}

/**
 * Ensure the namespace, bridge and vxlan device (create what is missing, fix what differs).
 * What this call created is removed again if a later step fails.
 */
export async function ensureOverlay(c: NetworkContext): Promise<OverlayNs> {
  const net = c.network;
  const { hostAddress } = clusterOf(c);
  const mtu = mtuOf(c);
  const path = netnsPathOf(c);
  const madeNs = c.kernel.netnsInode(path) === undefined;
  if (madeNs) await c.kernel.createNetns(path);
  try {
    const ns = await c.kernel.inNetns(path);
    const mark = networkMark(net);
    let bridge = ns.link(OVERLAY_BRIDGE);
    if (bridge) mustOwn(bridge, mark, 'overlay bridge');
    if (!bridge) bridge = createOwnedBridge(ns, { name: OVERLAY_BRIDGE, mtu, up: false }, mark);
    else if (bridge.mtu !== mtu) ns.setLink(bridge.index, { mtu });
    if (net.enableIPv6) await c.kernel.setSysctl(path, `net.ipv6.conf.${OVERLAY_BRIDGE}.disable_ipv6`, '0');
    const have = new Set(ns.addresses(bridge.index).map((a) => a.cidr));
    for (const cidr of gatewayCidrs(net)) if (!have.has(cidr)) ns.addAddress(bridge.index, cidr, { nodad: cidr.includes(':') });
    if (!bridge.up) ns.setLink(bridge.index, { up: true });
    let vxlan = ns.link(OVERLAY_VXLAN);
    if (!vxlan) {
      // Made from the host namespace straight into the network's: the UDP socket is the host's.
      try {
        c.kernel.host().createVxlan({
          name: OVERLAY_VXLAN,
          linkGroup: WEFT_LINK_GROUP,
          vni: vniOf(net),
          local: vtepOf(net, hostAddress),
          port: VXLAN_PORT,
          learning: false,
          proxy: true,
          mtu,
          netnsFd: await c.kernel.netnsFd(path),
        });
      } catch (err) {
        if (err instanceof KernelError && err.errno === EEXIST)
          throw new KernelError('overlay vxlan', `VNI ${vniOf(net)} is already used by another vxlan device on this host`, { cause: err });
        throw err;
      }
      vxlan = ns.link(OVERLAY_VXLAN);
      if (!vxlan) throw new KernelError('overlay vxlan', `${OVERLAY_VXLAN} did not appear in ${path}`);
      // Born with weft's group (the request set it); the alias names the network.
      claimLink(ns, vxlan, mark);
      vxlan = { ...vxlan, alias: mark };
    }
    mustOwn(vxlan, mark, 'overlay vxlan');
    if (vxlan.kind !== 'vxlan')
      throw new KernelError('overlay vxlan', `${OVERLAY_VXLAN} in ${path} is a ${vxlan.kind ?? 'device'}, not vxlan`);
    if (vxlan.master !== bridge.index || !vxlan.up || vxlan.mtu !== mtu) ns.setLink(vxlan.index, { master: bridge.index, mtu, up: true });
    return { path, ns, bridge: ns.link(OVERLAY_BRIDGE)!, vxlan: ns.link(OVERLAY_VXLAN)! };
  } catch (err) {
    if (madeNs) await c.kernel.deleteNetns(path);
    throw err;
  }
}

/** Remove the network's namespace and everything in it (already gone is fine). */
export async function removeOverlay(c: NetworkContext): Promise<void> {
  const path = netnsPathOf(c);
  if (c.kernel.netnsInode(path) === undefined) return;
  // The namespace outlives its mount while anything holds it (the embedded DNS's sockets until
  // it hears of the leave, a capture): the vxlan device must not, or a network re-made here
  // would find its VNI taken on the host's UDP socket. Only the device weft made for it.
  const ns = await c.kernel.inNetns(path);
  const vxlan = ns.link(OVERLAY_VXLAN);
  if (vxlan && ownedBy(vxlan, networkMark(c.network))) ns.deleteLink(vxlan.index, { ignoreMissing: true });
  await c.kernel.deleteNetns(path);
}

/** The permanent FDB entries (with a VTEP) and neighbour entries the vxlan device holds. */
export function liveEntries(o: OverlayNs): PeerEntries {
  const fdb = o.ns
    .neighbours(7, o.vxlan.index)
    .filter((n) => n.index === o.vxlan.index && (n.flags & NTF_SELF) !== 0 && n.dst !== undefined && n.lladdr !== undefined)
    .map((n) => ({ mac: n.lladdr!, dst: n.dst! }));
  const neigh = ([4, 6] as const).flatMap((family) =>
    o.ns
      .neighbours(family, o.vxlan.index)
      .filter((n) => n.index === o.vxlan.index && (n.state & NUD_PERMANENT) !== 0 && n.dst !== undefined && n.lladdr !== undefined)
      .map((n) => ({ family, ip: n.dst!, mac: n.lladdr! })),
  );
  return { fdb, neigh };
}

/** Apply a diff: deletions first (a MAC that moved host is re-pointed, not duplicated). */
export function applyDiff(o: OverlayNs, d: PeerDiff): void {
  const idx = o.vxlan.index;
  for (const n of d.del.neigh) o.ns.deleteNeighbour({ index: idx, family: n.family, dst: n.ip }, { ignoreMissing: true });
  for (const f of d.del.fdb) {
    o.ns.deleteNeighbour({ index: idx, family: 7, lladdr: f.mac, dst: f.dst, flags: NTF_SELF }, { ignoreMissing: true });
    // The bridge learned the MAC on its vxlan port as well; without this it keeps it until it ages out.
    o.ns.deleteNeighbour({ index: idx, family: 7, lladdr: f.mac, flags: NTF_MASTER, master: o.bridge.index }, { ignoreMissing: true });
  }
  // FDB before neighbour: once an address resolves, its frames must already have a VTEP.
  for (const f of d.add.fdb)
    o.ns.addNeighbour({ index: idx, family: 7, lladdr: f.mac, dst: f.dst, flags: NTF_SELF, state: NUD_PERMANENT }, { replace: true });
  for (const n of d.add.neigh)
    o.ns.addNeighbour({ index: idx, family: n.family, dst: n.ip, lladdr: n.mac, state: NUD_PERMANENT }, { replace: true });
}

/** Ports on the network's bridge other than its vxlan device (local sandboxes). */
export function localPorts(o: OverlayNs): LinkInfo[] {
  return o.ns.links().filter((l) => l.master === o.bridge.index && l.index !== o.vxlan.index);
}
