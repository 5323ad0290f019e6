/**
 * Mesh driver (Weave-style, issue 16): store-less. Each host's mesh network is a local bridge
 * carrying the mesh gateway as a /32 (the same address on every host, never allocated), routed
 * into weftd's mesh router: the router's sleeve (TUN) holds the whole range, each local
 * endpoint has a /32 route to the bridge, and the fast path (mesh-fastpath.ts) adds routes for
 * directly reachable unencrypted peers' ranges through kernel VXLAN. Endpoints get a /32 from
 * the mesh's address ring (Driver.addresses) and reach everything through the gateway, as
 * Calico does: no ARP or L2 flooding ever crosses hosts. Names go into the mesh's names CRDT.
 */
import type { Driver, DriverAddresses, DriverContext, EndpointContext, NetworkContext, NetworkValidation } from '../driver.js';
import type { MeshService } from '../driver-services.js';
import type { NetworkRecord } from '../../model/types.js';
import { InvalidArgumentError, KernelError } from '../../errors.js';
import { IFNAMES } from '../ifnames.js';
import { meshPool, validateMeshNetwork } from './mesh-options.js';
import { meshInvariants } from './mesh-invariants.js';
import { ensureVxlan, FastPath } from './mesh-fastpath.js';
import { claimLink, createOwnedBridge, createOwnedVeth, foreignLinkError, ownedBy, ownerMark } from '../link-ownership.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';

/** Every link the mesh driver makes carries weft's mark naming its network or endpoint. */
export const meshNetworkMark = (net: NetworkRecord): string => ownerMark('network', net.id);
export const meshEndpointMark = (endpointId: string): string => ownerMark('endpoint', endpointId);

/** The mesh router weftd runs, or a clear refusal (a weftd without --mesh, the CNI fallback). */
export function meshOf(c: DriverContext): MeshService {
  const m = c.services.mesh;
  if (!m) throw new InvalidArgumentError('driver', 'the mesh driver needs weftd started with --mesh (or --mesh-peer …)');
  return m;
}

/** The network must be the mesh's range with the mesh's gateway: every host then agrees on both. */
function checkRange(net: NetworkRecord, m: MeshService): void {
  const p = meshPool(net);
  if (p.subnet !== m.subnet)
    throw new InvalidArgumentError('subnet', `a mesh network's subnet must be the mesh range ${m.subnet} (got ${p.subnet})`);
  if (p.gateway !== m.gateway)
    throw new InvalidArgumentError('gateway', `a mesh network's gateway must be ${m.gateway} (got ${p.gateway})`);
}

const ringId = (endpointId: string): string => `ep:${endpointId}`;
const addrOf = (cidr: string): string => cidr.split('/')[0]!;

export class MeshDriver implements Driver {
  readonly name = 'mesh';
  readonly scope = 'local';
  readonly usesIpam = true;
  readonly userCreatable = true;
  readonly ownedNames = [IFNAMES.meshBridge, IFNAMES.meshVxlan];
  readonly invariants = meshInvariants(this);
  /** Per mesh network: its fast path, re-programmed on every mesh change. */
  private readonly fastPaths = new Map<string, FastPath>();

  readonly addresses: DriverAddresses = {
    async allocate(c, endpointId) {
      const m = meshOf(c);
      checkRange(c.network, m);
      return { address: await m.allocate(ringId(endpointId)), gateway: m.gateway };
    },
    async release(c, endpointId) {
      c.services.mesh?.release(ringId(endpointId));
    },
  };

  validate(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation {
    return validateMeshNetwork(net, others);
  }

  async networkUp(c: NetworkContext): Promise<void> {
    const m = meshOf(c);
    const net = c.network;
    checkRange(net, m);
    const rt = c.kernel.host();
    const name = net.driverState.bridgeName!;
    const mark = meshNetworkMark(net);
    let br = rt.link(name);
    // Only this network's own (marked) bridge is re-used; any other link of that name is left alone.
    if (br && (!ownedBy(br, mark) || br.kind !== 'bridge')) throw foreignLinkError('network', br);
    if (br) claimLink(rt, br, mark);
    let created: number | undefined;
    let vxCreated: number | undefined;
    try {
      if (!br) {
        br = createOwnedBridge(rt, { name, mtu: Number(net.driverState.mtu), mac: net.driverState.mac, up: false }, mark);
        created = br.index;
      }
      const gw = `${meshPool(net).gateway}/32`;
      if (!rt.addresses(br.index, 4).some((a) => a.cidr === gw)) rt.addAddress(br.index, gw);
      if (!br.up) rt.setLink(br.index, { up: true });
      // The host routes between the bridge, the sleeve and the fast path.
      if ((await c.kernel.readSysctl(undefined, 'net.ipv4.ip_forward')) !== '1')
        await c.kernel.setSysctl(undefined, 'net.ipv4.ip_forward', '1');
      // Encrypted meshes stay on the sleeve everywhere: no VXLAN device at all.
      if (!m.encrypted) {
        const had = rt.link(net.driverState.vxlanName!);
        const vx = ensureVxlan(rt, net.driverState.vxlanName!, m, Number(net.driverState.mtu) + 30, mark);
        if (!had) vxCreated = vx;
        let fp = this.fastPaths.get(net.id);
        if (!fp) this.fastPaths.set(net.id, (fp = new FastPath(c.kernel, m, net.driverState.vxlanName!, c.services.log)));
        fp.reset();
      }
    } catch (err) {
      // Undo only what this call made, by index.
      if (vxCreated !== undefined) rt.deleteLink(vxCreated, { ignoreMissing: true });
      if (created !== undefined) rt.deleteLink(created, { ignoreMissing: true });
      throw err;
    }
  }

  async networkDown(c: NetworkContext): Promise<void> {
    this.fastPaths.get(c.network.id)?.close();
    this.fastPaths.delete(c.network.id);
    const rt = c.kernel.host();
    const mark = meshNetworkMark(c.network);
    // A link of these names that is not this network's stays, whatever it is.
    for (const name of [c.network.driverState.vxlanName!, c.network.driverState.bridgeName!]) {
      const l = rt.link(name);
      if (l && ownedBy(l, mark)) rt.deleteLink(l.index, { ignoreMissing: true });
    }
  }

  /** The fast path's routes for a mesh network on this host (tests, doctor). */
  fastPathRoutes(networkId: string): { cidr: string; via: string }[] {
    return this.fastPaths.get(networkId)?.routes() ?? [];
  }

  async join(c: EndpointContext): Promise<void> {
    const { network: net, endpoint: ep, sandbox: sb } = c;
    const m = meshOf(c);
    if (!ep.ipv4) throw new InvalidArgumentError('ip', `endpoint ${ep.id} on mesh network ${net.name} has no address`);
    const addr = addrOf(ep.ipv4);
    // After a weftd restart the ring is relearned from peers but the allocations are ours to re-hold.
    m.claim(ringId(ep.id), addr);
    const rt = c.kernel.host();
    const br = rt.link(net.driverState.bridgeName!);
    if (!br) throw new KernelError('endpoint join', `bridge ${net.driverState.bridgeName} of mesh network ${net.name} does not exist`);
    if (!ownedBy(br, meshNetworkMark(net))) throw foreignLinkError('network', br);
    const epMark = meshEndpointMark(ep.id);
    const hostIf = ep.hostIfname ?? IFNAMES.hostVeth.of(ep.id);
    const mtu = Number(net.driverState.mtu);
    const inner = await c.kernel.inNetns(sb.netnsPath);
    let created: number | undefined;
    try {
      const existing = rt.link(hostIf);
      // Only this endpoint's own veth is re-used; a link weft did not make for it is refused.
      if (existing && (!ownedBy(existing, epMark) || existing.kind !== 'veth')) throw foreignLinkError('hostIfname', existing);
      if (!existing) {
        const nsFd = await c.kernel.netnsFd(sb.netnsPath);
        created = createOwnedVeth(
          rt,
          { name: hostIf, peerName: ep.ifname, peerNetnsFd: nsFd, mtu, peerMac: ep.macAddress, master: br.index, up: true },
          epMark,
        ).index;
      } else {
        claimLink(rt, existing, epMark);
        if (existing.master !== br.index || !existing.up) rt.setLink(existing.index, { master: br.index, up: true });
      }
      const link = inner.link(ep.ifname);
      if (!link) throw new KernelError('endpoint join', `interface ${ep.ifname} did not appear in sandbox ${sb.name}`);
      if (!inner.addresses(link.index, 4).some((a) => a.cidr === `${addr}/32`)) inner.addAddress(link.index, `${addr}/32`);
      if (!link.up) inner.setLink(link.index, { up: true });
      const gw = ep.gateway4 ?? meshPool(net).gateway;
      const have = (dst: string): boolean => inner.routes(4, 254).some((r) => r.dst === dst && r.oif === link.index);
      if (!have(`${gw}/32`)) inner.addRoute({ dst: `${gw}/32`, oif: link.index }, { replace: true });
      if (!have(meshPool(net).subnet))
        inner.addRoute({ dst: meshPool(net).subnet, gateway: gw, oif: link.index, onlink: true }, { replace: true });
      if (ep.defaultRoute && !net.internal && !have('0.0.0.0/0'))
        inner.addRoute({ dst: '0.0.0.0/0', gateway: gw, oif: link.index, onlink: true }, { replace: true });
      // More specific than the sleeve's whole-range route: local endpoints stay on the bridge.
      if (!rt.routes(4, 254).some((r) => r.dst === `${addr}/32` && r.oif === br.index))
        rt.addRoute({ dst: `${addr}/32`, oif: br.index }, { replace: true });
    } catch (err) {
      if (created !== undefined) rt.deleteLink(created, { ignoreMissing: true });
      throw err;
    }
    m.registerName(ringId(ep.id), [sb.name, ...ep.aliases], [addr]);
  }

  async leave(c: EndpointContext): Promise<void> {
    const { endpoint: ep, network: net } = c;
    c.services.mesh?.unregisterName(ringId(ep.id));
    const rt = c.kernel.host();
    const br = rt.link(net.driverState.bridgeName!);
    if (ep.ipv4 && br && ownedBy(br, meshNetworkMark(net)))
      rt.deleteRoute({ dst: `${addrOf(ep.ipv4)}/32`, oif: br.index }, { ignoreMissing: true });
    // Deleting the host end deletes the sandbox end too; only this endpoint's own veth.
    const hostIf = ep.hostIfname ?? IFNAMES.hostVeth.of(ep.id);
    const l: LinkInfo | undefined = rt.link(hostIf);
    if (l && ownedBy(l, meshEndpointMark(ep.id))) rt.deleteLink(l.index, { ignoreMissing: true });
  }
}
