/**
 * Overlay driver (Docker's overlay, seed 003/004): a layer-2 network stretched across hosts with
 * VXLAN. Per network and host, a namespace holding a bridge and a vxlan device (created on the
 * first local join, removed on the last leave); per local endpoint, a veth from the sandbox to
 * that bridge and — unless the network is internal — a leg to the host's gateway bridge for
 * egress. Remote endpoints arrive as peerUp/peerDown from the cluster agent and become
 * permanent FDB and neighbour entries; nothing is learned or flooded (see README.md).
 */
import type {
  ClusterClaim,
  Driver,
  DriverContext,
  EgressInterface,
  EndpointContext,
  NetworkContext,
  NetworkValidation,
  PublishTarget,
  RemoteEndpoint,
  RemoteHost,
} from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import { ErrorList, InvalidArgumentError, KernelError } from '../../errors.js';
import { IFNAMES } from '../ifnames.js';
import {
  OVERLAY_OPTIONS,
  VNI_CLAIM_PREFIX,
  chooseVni,
  claimedVnis,
  isEncrypted,
  overlayStateOf,
  parseOverlayOptions,
  vniClaimKey,
  vniOf,
  vnisInUse,
  vtepOf,
} from './overlay-options.js';
import { desiredEntries, diffEntries, entriesOf, entriesOfHost, neighboursOf, type PeerEntries } from './peer-plan.js';
import {
  applyDiff,
  clusterOf,
  ensureOverlay,
  liveEntries,
  localPorts,
  mtuOf,
  netnsPathOf,
  openOverlay,
  removeOverlay,
  type OverlayNs,
} from './overlay-objects.js';
import { ensureLeg, legEgress, legPublishTarget, removeLeg, wantsLeg } from './gateway-leg.js';
import { overlayInvariants } from './overlay-invariants.js';
import { OverlayEncryption } from './overlay-encryption.js';
import { createOwnedVeth, ownedBy } from '../link-ownership.js';
import { endpointMark, mustOwn } from './overlay-ownership.js';
import { markPhase } from '../../phase-trace.js';

const NO_ENTRIES: PeerEntries = { fdb: [], neigh: [] };

/** A link's MAC, which the kernel always reports for Ethernet devices. */
function macOf(l: { name: string; mac?: string }): string {
  if (!l.mac) throw new KernelError('neighbour announcement', `interface ${l.name} reports no MAC address`);
  return l.mac;
}

/** Whether a peer reported again carries what was announced for it already (then nothing is announced). */
const sameAddresses = (a: RemoteEndpoint | undefined, b: RemoteEndpoint): boolean =>
  a !== undefined && a.mac === b.mac && a.ipv4 === b.ipv4 && a.ipv6 === b.ipv6;

/** The bridge-side end of an endpoint's veth, inside the network's namespace. */
export const portIfname = (c: EndpointContext): string => c.endpoint.hostIfname ?? IFNAMES.hostVeth.of(c.endpoint.id);

export class OverlayDriver implements Driver {
  readonly name = 'overlay';
  readonly scope = 'global';
  readonly usesIpam = true;
  readonly userCreatable = true;
  /** Each network lives in its own namespace behind its own VNI: tenants may share a subnet. */
  readonly ownAddressSpace = true;
  readonly ownedNames = [IFNAMES.overlay];
  readonly invariants = overlayInvariants(this);
  /**
   * Remote endpoints per network as the cluster agent reported them (libnetwork's peerDB): they
   * are programmed when the network's namespace exists, and again when it is (re)made. After a
   * restart the agent's full resync refills it.
   */
  private readonly peers = new Map<string, Map<string, RemoteEndpoint>>();
  /** Networks seen here, so a host's death can be cleaned from each. */
  private readonly networks = new Map<string, NetworkRecord>();
  /** The host's WireGuard device and the other hosts' keys (encrypted networks). */
  readonly encryption = new OverlayEncryption();

  /** VNIs are claimed cluster-wide under /weft/v1/vni/<n> (create-only, with the network record). */
  readonly claimPrefix = VNI_CLAIM_PREFIX;

  validate(net: NetworkRecord, others: readonly NetworkRecord[], claimed: ReadonlySet<string> = new Set()): NetworkValidation {
    if (net.ipam.config.length === 0) throw new InvalidArgumentError('subnet', 'an overlay network needs a subnet');
    const o = parseOverlayOptions(net.options, net.enableIPv6);
    const used = vnisInUse(others, net.id);
    for (const v of claimedVnis(claimed)) used.add(v);
    const vni = chooseVni(o.vni, used);
    return { options: net.options, driverState: overlayStateOf(o, vni) };
  }

  clusterClaims(net: NetworkRecord): ClusterClaim[] {
    const vni = vniOf(net);
    return [
      { key: vniClaimKey(vni), field: OVERLAY_OPTIONS.vni, taken: `VNI ${vni} is already used by another overlay network in the cluster` },
    ];
  }

  /** The gateway is on br0 in the network's own namespace (which exists while the host has sandboxes on it). */
  gatewayNetns(c: NetworkContext): string {
    return netnsPathOf(c);
  }

  /** Published ports go through the host's gateway bridge, to the endpoint's leg there. */
  publishTarget(c: EndpointContext): PublishTarget | undefined {
    return legPublishTarget(c);
  }

  /** The sandbox's leg on the gateway bridge: it, not the overlay's gateway, holds the default routes. */
  egressInterface(c: EndpointContext): EgressInterface | undefined {
    return legEgress(c);
  }

  /** Peers the driver knows for a network. */
  knownPeers(networkId: string): RemoteEndpoint[] {
    return [...(this.peers.get(networkId)?.values() ?? [])];
  }

  /** A peer as the network's vxlan device sees it: at its host's VTEP (the tunnel address when encrypted). */
  private atVtep(net: NetworkRecord, p: RemoteEndpoint): RemoteEndpoint {
    return { ...p, hostAddress: vtepOf(net, p.hostAddress) };
  }

  /** The entries the network's vxlan device should hold. */
  desired(c: NetworkContext): PeerEntries {
    const net = c.network;
    return desiredEntries(
      this.knownPeers(net.id).map((p) => this.atVtep(net, p)),
      vtepOf(net, clusterOf(c).hostAddress),
    );
  }

  /**
   * Nothing is made here: a host carries a network's objects only while it has sandboxes on it.
   * This checks what can be checked early (a cluster, an MTU the underlay allows, encryption).
   */
  async networkUp(c: NetworkContext): Promise<void> {
    clusterOf(c);
    mtuOf(c);
    this.networks.set(c.network.id, c.network);
    if (isEncrypted(c.network)) await this.encryption.ensure(c);
  }

  async networkDown(c: NetworkContext): Promise<void> {
    await removeOverlay(c);
    this.peers.delete(c.network.id);
    this.networks.delete(c.network.id);
  }

  /** Ensure the network's objects and program every known peer (missing ones added; others kept). */
  async ensureNetwork(c: NetworkContext): Promise<OverlayNs> {
    this.networks.set(c.network.id, c.network);
    if (isEncrypted(c.network)) await this.encryption.ensure(c);
    const o = await ensureOverlay(c);
    applyDiff(o, { add: diffEntries(this.desired(c), liveEntries(o)).add, del: NO_ENTRIES });
    return o;
  }

  async join(c: EndpointContext): Promise<void> {
    const { endpoint: ep, sandbox: sb } = c;
    const madeNs = (await openOverlay(c)) === undefined;
    const o = await this.ensureNetwork(c);
    markPhase('overlay.network', () => ({ sandbox: sb.name }));
    const port = portIfname(c);
    const inner = await c.kernel.inNetns(sb.netnsPath);
    let created = false;
    try {
      const existing = o.ns.link(port);
      if (existing) mustOwn(existing, endpointMark(ep.id), 'hostIfname');
      if (!existing) {
        const l = createOwnedVeth(
          o.ns,
          {
            name: port,
            peerName: ep.ifname,
            peerNetnsFd: await c.kernel.netnsFd(sb.netnsPath),
            mtu: o.bridge.mtu,
            peerMac: ep.macAddress,
            master: o.bridge.index,
            up: true,
          },
          endpointMark(ep.id),
        );
        created = true;
        // No link-local address on the port: its DAD/MLD would only be dropped at the vxlan device.
        o.ns.setLink(l.index, { ipv6AddrGenNone: true });
      } else if (existing.master !== o.bridge.index || !existing.up) o.ns.setLink(existing.index, { master: o.bridge.index, up: true });
      const link = inner.link(ep.ifname);
      if (!link) throw new KernelError('endpoint join', `interface ${ep.ifname} did not appear in sandbox ${sb.name}`);
      const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
      if (ep.ipv4 && !have.has(ep.ipv4)) inner.addAddress(link.index, ep.ipv4);
      if (ep.ipv6 && !have.has(ep.ipv6)) inner.addAddress(link.index, ep.ipv6, { nodad: true });
      if (!ep.ipv6) inner.setLink(link.index, { ipv6AddrGenNone: true });
      if (!link.up) inner.setLink(link.index, { up: true });
      // Sandboxes on this host that already asked for the address (a client started before its
      // server) learn it now instead of at their next ARP/ND retry, up to a second later. Sent
      // by the bridge: the other ports forward already, the new one may not yet.
      await c.kernel.announceNeighbours(o.path, o.bridge.index, macOf(o.bridge), neighboursOf(ep, macOf(link)));
      markPhase('overlay.port', () => ({ sandbox: sb.name }));
      if (wantsLeg(c)) await ensureLeg(c, inner);
    } catch (err) {
      const undo = new ErrorList(`join ${sb.name} to ${c.network.name} failed and its rollback failed too`);
      undo.add(err);
      if (created) await undo.run(() => void o.ns.deleteLink(port, { ignoreMissing: true }));
      if (madeNs) await undo.run(() => removeOverlay(c));
      throw undo.combined();
    }
  }

  async leave(c: EndpointContext): Promise<void> {
    removeLeg(c);
    const o = await openOverlay(c);
    if (!o) return;
    // Only the port weft made for this endpoint; a link of that name it did not make stays.
    const l = o.ns.link(portIfname(c));
    if (l && ownedBy(l, endpointMark(c.endpoint.id))) o.ns.deleteLink(l.index, { ignoreMissing: true });
    // The last local sandbox gone: the host carries nothing of the network any more.
    if (localPorts(o).length === 0) await removeOverlay(c);
  }

  async peerUp(c: NetworkContext, peer: RemoteEndpoint): Promise<void> {
    const entries = entriesOf(this.atVtep(c.network, peer)); // refuses a peer without MAC and IPv4 before recording it
    const map = this.peers.get(c.network.id) ?? new Map<string, RemoteEndpoint>();
    const known = map.get(peer.endpointId);
    map.set(peer.endpointId, peer);
    this.peers.set(c.network.id, map);
    this.networks.set(c.network.id, c.network);
    if (peer.hostAddress === clusterOf(c).hostAddress) return;
    const o = await openOverlay(c);
    if (!o) return;
    applyDiff(o, { add: entries, del: NO_ENTRIES });
    // The local sandboxes hear of the remote address from the bridge (the vxlan device answers
    // their later requests; this reaches those that asked already). Nothing broadcast leaves
    // the host: the vxlan device has no flood entry.
    if (!sameAddresses(known, peer)) await c.kernel.announceNeighbours(o.path, o.bridge.index, macOf(o.bridge), entries.neigh);
  }

  async peerDown(c: NetworkContext, peer: RemoteEndpoint): Promise<void> {
    const known = this.peers.get(c.network.id)?.get(peer.endpointId) ?? peer;
    this.peers.get(c.network.id)?.delete(peer.endpointId);
    const o = await openOverlay(c);
    if (!o) return;
    // Remove only what is still this peer's: its MAC or address may already belong to a newer endpoint.
    const gone = entriesOf(this.atVtep(c.network, known));
    const still = this.desired(c);
    const keepFdb = new Set(still.fdb.map((f) => f.mac));
    const keepNeigh = new Set(still.neigh.map((n) => n.ip));
    const live = liveEntries(o);
    applyDiff(o, {
      add: NO_ENTRIES,
      del: {
        fdb: live.fdb.filter((f) => gone.fdb.some((g) => g.mac === f.mac && g.dst === f.dst) && !keepFdb.has(f.mac)),
        neigh: live.neigh.filter((n) => gone.neigh.some((g) => g.ip === n.ip && g.mac === n.mac) && !keepNeigh.has(n.ip)),
      },
    });
  }

  /** Peers arrive one by one as peerUp; a host brings its WireGuard key for encrypted networks. */
  async hostUp(c: DriverContext, host: RemoteHost): Promise<void> {
    const self = c.services.cluster?.hostId;
    if (self !== undefined && this.encryption.hostUp(host, self)) await this.encryption.sync(c);
  }

  /** A host declared down: forget its endpoints and remove every entry pointing at it, on every network. */
  async hostDown(c: DriverContext, host: RemoteHost): Promise<void> {
    const errors = new ErrorList(`overlay: cleaning up after host ${host.hostId}`);
    for (const net of this.networks.values()) {
      await errors.run(async () => {
        const map = this.peers.get(net.id);
        for (const [id, p] of map ?? []) if (p.hostId === host.hostId) map!.delete(id);
        const o = await openOverlay({ ...c, network: net });
        if (o) applyDiff(o, { add: NO_ENTRIES, del: entriesOfHost(liveEntries(o), vtepOf(net, host.address)) });
      });
    }
    if (this.encryption.hostDown(host)) await errors.run(() => this.encryption.sync(c));
    errors.throwIfAny();
  }
}
