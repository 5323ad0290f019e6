/**
 * hostsubnet driver, Flannel's design (named after OpenShift SDN's per-node HostSubnet): one
 * cluster network (e.g. 10.244.0.0/16) of which each host leases a subnet (/24) in the cluster
 * store; sandboxes on a host get addresses from its subnet on a local bridge (the bridge
 * driver's join does the veths); a backend carries traffic between host subnets — `vxlan` (one
 * VTEP per host, learning off, per-peer route + neighbour + FDB), `host-gw` (a route per peer
 * via its underlay address, same L2 segment only) or `udp` (userspace encapsulation over TUN).
 *
 * Other hosts' leases arrive as hostUp/hostDown (RemoteHost.data[`hostsubnet:<network>`] is the
 * lease record); networkUp reads every lease of the network, so a restart or a missed event is
 * repaired by the next resync. A hostDown without a lease (the host's liveness key went away:
 * a crash, or only a weftd restart) changes nothing: its subnet stays routed until the lease
 * expires or the cluster deletes it once the host is gone past its grace — so the dataplane
 * never depends on weftd being up (Flannel's rule too).
 */
import type { Driver, DriverContext, EndpointContext, NetworkContext, NetworkValidation, RemoteHost } from '../driver.js';
import type { IpamPoolConfig, NetworkRecord } from '../../model/types.js';
import type { SubnetLeaseService } from '../driver-services.js';
import type { FwNetwork } from '../../firewall/types.js';
import { ErrorList, InvalidArgumentError, KernelError } from '../../errors.js';
import { resolvePoolConfig } from '../../ipam/pool-config.js';
import { leaseDataKey, parseLeaseRecord, type LeaseRecord, type SubnetConfig } from '../../ipam/subnet-leases.js';
import { IFNAMES } from '../ifnames.js';
import { BridgeDriver } from '../bridge/bridge-driver.js';
import { bridgeInvariants } from '../bridge/bridge-invariants.js';
import { bridgeMacOf, configOfState, deviceNamesOf, ENCAP_OVERHEAD, hostsubnetStateOf, vtepMacOf } from './hostsubnet-options.js';
import { ensureBridge, ensureVtep, underlayOf } from './hostsubnet-devices.js';
import { peerPlan, reachOf, underlayClash, type PeerPlan } from './peer-plan.js';
import { applyPeer, checkPeer, pruneStray, removePeer, strayObjects, type PeerDevices } from './peer-apply.js';
import { hostsubnetInvariants } from './hostsubnet-invariants.js';
import { deleteOwnedLink, ownHostsubnetLink, ownedLinkOf } from './hostsubnet-ownership.js';
import { UdpBackend } from './udp-backend.js';

interface NetState {
  net: NetworkRecord;
  cfg: SubnetConfig;
  lease: LeaseRecord;
  /** Other hosts' leases, by subnet. */
  peers: Map<string, LeaseRecord>;
}

export class HostSubnetDriver implements Driver {
  readonly name = 'hostsubnet';
  // Endpoints and addresses are this host's own (its subnet); the cluster-wide part is the lease.
  readonly scope = 'local';
  readonly usesIpam = true;
  readonly userCreatable = true;
  readonly ownedNames = [IFNAMES.hostsubnetBridge, IFNAMES.hostsubnetVtep, IFNAMES.hostsubnetTun];
  private readonly bridge = new BridgeDriver();
  readonly invariants = hostsubnetInvariants(this, bridgeInvariants(this.bridge).endpoint);
  private readonly nets = new Map<string, NetState>();
  readonly udp = new UdpBackend();

  validate(net: NetworkRecord): NetworkValidation {
    return { options: net.options, driverState: hostsubnetStateOf(net) };
  }

  /**
   * The bridge under weft's firewall: sandboxes reach the world masqueraded to the host's
   * address, but within the cluster network — any host's subnet — they keep their own address
   * and are let in from other hosts (Flannel's rule: NAT only for traffic leaving the network).
   */
  firewallView(net: NetworkRecord): FwNetwork {
    const cluster = configOfState(net).network;
    return {
      id: net.id,
      bridge: deviceNamesOf(net.id).bridge,
      subnets4: [cluster],
      subnets6: [],
      internal: net.internal,
      icc: true,
      masquerade: true,
      cluster4: [cluster],
    };
  }

  private leases(c: DriverContext): { svc: SubnetLeaseService; hostId: string; hostAddress: string } {
    const cl = c.services.cluster;
    if (!cl?.subnetLeases)
      throw new InvalidArgumentError(
        'driver',
        'hostsubnet networks need a cluster store with subnet leases (weftd --cluster-store etcd://…)',
      );
    return { svc: cl.subnetLeases, hostId: cl.hostId, hostAddress: cl.hostAddress };
  }

  /** This host's lease of a network (after networkUp), for IPAM and tests. */
  leaseOf(netId: string): LeaseRecord | undefined {
    return this.nets.get(netId)?.lease;
  }

  /** Endpoints on this host take addresses from its subnet, with the subnet's gateway. */
  async addressPool(c: NetworkContext, family: 4 | 6): Promise<IpamPoolConfig | undefined> {
    if (family === 6) return undefined;
    let st = this.nets.get(c.network.id);
    if (!st) {
      await this.networkUp(c);
      st = this.nets.get(c.network.id)!;
    }
    return resolvePoolConfig({ subnet: st.lease.subnet });
  }

  private devices(c: DriverContext, st: NetState): PeerDevices {
    const rt = c.kernel.host();
    const { hostAddress } = this.leases(c);
    // Entries go only onto our own VTEP: a foreign device of that name is never programmed (a
    // vxlan plan without a VTEP then fails, and networkUp refuses the foreign device by name).
    const l = st.cfg.backend.type === 'vxlan' ? rt.link(deviceNamesOf(st.net.id).vxlan) : undefined;
    const vtep = l && ownHostsubnetLink(st.net, l) ? l.index : undefined;
    return { underlay: underlayOf(rt, hostAddress).index, ...(vtep === undefined ? {} : { vtep }) };
  }

  /** The plan for a peer, given where its underlay address is from here. */
  planFor(c: DriverContext, st: NetState, peer: LeaseRecord): PeerPlan | undefined {
    return peerPlan(st.cfg, peer, reachOf(c.kernel.host().routes(4, 254), peer.publicIp));
  }

  async networkUp(c: NetworkContext): Promise<void> {
    const net = c.network;
    const cfg = configOfState(net);
    const { svc, hostId, hostAddress } = this.leases(c);
    const rt = c.kernel.host();
    const underlay = underlayOf(rt, hostAddress);
    const mtu = Number(net.driverState.mtu);
    const overhead = ENCAP_OVERHEAD[cfg.backend.type];
    if (mtu + overhead > underlay.mtu) {
      throw new InvalidArgumentError(
        'opt mtu',
        `MTU ${mtu} + ${overhead} bytes of ${cfg.backend.type} encapsulation exceeds ${underlay.name}'s ${underlay.mtu}`,
      );
    }
    const clash = underlayClash(
      cfg.network,
      rt.addresses(underlay.index, 4).map((a) => a.cidr),
    );
    if (clash)
      throw new InvalidArgumentError(
        'subnet',
        `${cfg.network} overlaps ${clash} of this host's underlay ${underlay.name}: its subnets would take the host's own routes (to its peers and the store)`,
      );
    if ((await c.kernel.readSysctl(undefined, 'net.ipv4.ip_forward')).trim() !== '1')
      await c.kernel.setSysctl(undefined, 'net.ipv4.ip_forward', '1');
    const data: Record<string, string> =
      cfg.backend.type === 'vxlan'
        ? { vtepMac: vtepMacOf(hostId, net.name) }
        : cfg.backend.type === 'udp'
          ? { port: String(cfg.backend.port) }
          : {};
    const lease = await svc.acquire(net.name, cfg, { publicIp: hostAddress, backend: cfg.backend.type, data });
    const names = deviceNamesOf(net.id);
    // Undo only what this call created, by index: never a link someone else has under that name.
    const made: number[] = [];
    try {
      const br = ensureBridge(rt, net, cfg, { name: names.bridge, mtu, mac: bridgeMacOf(hostId, net.name), subnet: lease.subnet });
      if (br.created) made.push(br.link.index);
      if (cfg.backend.type === 'vxlan') {
        const v = ensureVtep(rt, net, cfg, {
          name: names.vxlan,
          vni: cfg.backend.vni,
          port: cfg.backend.port,
          local: hostAddress,
          underlay: underlay.index,
          mtu,
          mac: data.vtepMac!,
          subnet: lease.subnet,
        });
        if (v.created) made.push(v.link.index);
      }
      const st: NetState = { net, cfg, lease, peers: new Map() };
      for (const p of await svc.leases(net.name)) if (p.hostId !== hostId) st.peers.set(p.subnet, p);
      if (cfg.backend.type === 'udp') await this.udp.ensure(c, st.net, cfg, lease, [...st.peers.values()], names.tun, mtu);
      this.nets.set(net.id, st);
      this.syncPeers(c, st);
    } catch (err) {
      for (const i of made.reverse()) rt.deleteLink(i, { ignoreMissing: true });
      this.nets.delete(net.id);
      throw err;
    }
  }

  /** Program every known peer and remove our objects no lease wants; all peers are tried, every failure reported. */
  syncPeers(c: DriverContext, st: NetState): void {
    const rt = c.kernel.host();
    const devs = this.devices(c, st);
    const errors = new ErrorList(`hostsubnet ${st.net.name}: peers`);
    const plans: PeerPlan[] = [];
    for (const p of st.peers.values()) {
      try {
        const plan = this.planFor(c, st, p);
        if (plan) plans.push(plan);
      } catch (err) {
        errors.add(err);
      }
    }
    pruneStray(rt, devs, strayObjects(rt, st.cfg, devs, plans));
    for (const plan of plans) {
      try {
        applyPeer(rt, devs, plan);
      } catch (err) {
        errors.add(err);
      }
    }
    errors.throwIfAny();
  }

  /** Problems with the peers' objects (invariant check). */
  checkPeers(c: NetworkContext): string[] {
    const st = this.nets.get(c.network.id);
    if (!st) return [`network ${c.network.name} has no subnet lease on this host yet`];
    const rt = c.kernel.host();
    const devs = this.devices(c, st);
    const out: string[] = [];
    const plans: PeerPlan[] = [];
    for (const p of st.peers.values()) {
      try {
        const plan = this.planFor(c, st, p);
        if (plan) {
          plans.push(plan);
          out.push(...checkPeer(rt, devs, plan).map((m) => `peer ${p.hostId} (${p.subnet}): ${m}`));
        }
      } catch (err) {
        out.push(`peer ${p.hostId} (${p.subnet}): ${(err as Error).message}`);
      }
    }
    if (st.cfg.backend.type === 'udp') out.push(...this.udp.check(c, deviceNamesOf(st.net.id).tun, st.cfg));
    const stray = strayObjects(rt, st.cfg, devs, plans);
    out.push(
      ...stray.routes.map((r) => `route ${r} names no live lease`),
      ...stray.neighs.map((n) => `neighbour ${n} names no live lease`),
    );
    out.push(...stray.fdbs.map((f) => `fdb ${f.lladdr} names no live lease`));
    return out;
  }

  async networkDown(c: NetworkContext): Promise<void> {
    const rt = c.kernel.host();
    const names = deviceNamesOf(c.network.id);
    const st = this.nets.get(c.network.id);
    const errors = new ErrorList(`hostsubnet ${c.network.name}: down`);
    // Routes via the VTEP go with it; host-gw routes sit on the underlay and are ours to delete.
    if (st) await errors.run(async () => pruneStray(rt, this.devices(c, st), strayObjects(rt, st.cfg, this.devices(c, st), [])));
    await errors.run(() => this.udp.stop(c, names.tun));
    // Only the network's own devices: a link someone else made under one of these names stays.
    for (const n of [names.vxlan, names.tun, names.bridge]) await errors.run(async () => deleteOwnedLink(rt, c.network, n));
    const cl = c.services.cluster?.subnetLeases;
    if (cl) await errors.run(async () => void (await cl.release(c.network.name)));
    this.nets.delete(c.network.id);
    errors.throwIfAny();
  }

  join(c: EndpointContext): Promise<void> {
    if (!ownedLinkOf(c.kernel.host(), c.network, deviceNamesOf(c.network.id).bridge, 'bridge'))
      throw new KernelError('endpoint join', `bridge of hostsubnet network ${c.network.name} does not exist`);
    return this.bridge.join(c);
  }

  leave(c: EndpointContext): Promise<void> {
    return this.bridge.leave(c);
  }

  async hostUp(c: DriverContext, host: RemoteHost): Promise<void> {
    const errors = new ErrorList(`hostsubnet: host ${host.hostId} up`);
    for (const st of this.nets.values()) {
      const raw = host.data[leaseDataKey(st.net.name)];
      const lease = raw === undefined ? undefined : parseLeaseRecord(raw);
      if (!lease || lease.hostId === st.lease.hostId) continue;
      // A subnet has one holder: a new holder replaces the old one's objects.
      st.peers.set(lease.subnet, lease);
      if (st.cfg.backend.type === 'udp')
        await errors.run(() => this.udp.setPeers(c, deviceNamesOf(st.net.id).tun, st.cfg, [...st.peers.values()]));
      await errors.run(async () => this.syncPeers(c, st));
    }
    errors.throwIfAny();
  }

  async hostDown(c: DriverContext, host: RemoteHost): Promise<void> {
    const errors = new ErrorList(`hostsubnet: host ${host.hostId} down`);
    for (const st of this.nets.values()) {
      const raw = host.data[leaseDataKey(st.net.name)];
      const lease = raw === undefined ? undefined : parseLeaseRecord(raw);
      if (!lease) continue;
      const gone = [...st.peers.values()].filter((p) => p.hostId === host.hostId && lease.subnet === p.subnet);
      if (gone.length === 0) continue;
      const devs = this.devices(c, st);
      for (const p of gone) {
        st.peers.delete(p.subnet);
        await errors.run(async () => {
          const plan = this.planFor(c, st, p);
          if (plan) removePeer(c.kernel.host(), devs, plan);
        });
      }
      if (st.cfg.backend.type === 'udp')
        await errors.run(() => this.udp.setPeers(c, deviceNamesOf(st.net.id).tun, st.cfg, [...st.peers.values()]));
    }
    errors.throwIfAny();
  }
}
