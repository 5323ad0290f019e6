/**
 * Bridge driver: one Linux bridge per network carrying the gateway addresses; one veth pair
 * per endpoint, the host end enslaved to the bridge, the other end created directly inside
 * the sandbox's namespace under its final name (no rename dance, no window where it sits in
 * the host namespace). Endpoints placed by a container runtime (Docker's Join) are the one
 * variant: the pair is made in the host namespace and the runtime moves it (runtime-peer.ts).
 */
import type { Driver, EndpointContext, NetworkContext, NetworkValidation } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import { ConflictError, KernelError } from '../../errors.js';
import { bridgeMacOf, bridgeNameOf, bridgeStateOf, gatewayCidrs, parseBridgeOptions } from './bridge-options.js';
import { IFNAMES } from '../ifnames.js';
import { bridgeInvariants } from './bridge-invariants.js';
import { bridgeRuntimePlacement, ensureHostEndOnBridge } from './runtime-peer.js';
import { fwNetworkOf } from './bridge-firewall.js';
import type { FwNetwork } from '../../firewall/types.js';

const familyOf = (cidr: string): 4 | 6 => (cidr.includes(':') ? 6 : 4);

/** Errnos that mean "this kernel has no IPv6" (booted with ipv6.disable=1): EOPNOTSUPP, EAFNOSUPPORT. */
const NO_IPV6 = new Set([95, 97]);

/** IPv6 tuning is an optimisation: a kernel without IPv6 refuses it, and only that is fine. */
function quietIpv6(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof KernelError && err.errno !== undefined && NO_IPV6.has(err.errno))) throw err;
  }
}

export class BridgeDriver implements Driver {
  readonly name = 'bridge';
  readonly scope = 'local';
  readonly usesIpam = true;
  readonly userCreatable = true;
  readonly ownedNames = [IFNAMES.bridge, IFNAMES.hostVeth, IFNAMES.runtimeHostVeth, IFNAMES.runtimePeer];
  readonly invariants = bridgeInvariants(this);
  readonly runtimePlacement = bridgeRuntimePlacement;

  validate(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation {
    const o = parseBridgeOptions(net.options, IFNAMES.bridge.of(net.id), net.enableIPv6);
    const clash = others.find((n) => n.id !== net.id && n.driverState.bridgeName === o.bridgeName);
    if (clash)
      throw new ConflictError('com.docker.network.bridge.name', `bridge name "${o.bridgeName}" is already used by network "${clash.name}"`);
    // A bridge without its own MAC takes its lowest port's: when that sandbox leaves, the
    // gateway's MAC changes under every other sandbox's ARP cache and they lose the gateway.
    // A fixed MAC, derived from the network id, also survives re-creation after a reboot.
    o.mac ??= bridgeMacOf(net.id);
    return { options: net.options, driverState: bridgeStateOf(o) };
  }

  firewallView(net: NetworkRecord): FwNetwork | undefined {
    return fwNetworkOf(net);
  }

  async networkUp(c: NetworkContext): Promise<void> {
    const net = c.network;
    const rt = c.kernel.host();
    const name = bridgeNameOf(net);
    let br = rt.link(name);
    if (br && br.kind !== 'bridge') {
      throw new ConflictError('com.docker.network.bridge.name', `interface "${name}" exists and is not a bridge (${br.kind ?? 'device'})`);
    }
    const created = !br;
    try {
      if (!br) br = rt.createBridge({ name, mtu: Number(net.driverState.mtu), mac: net.driverState.mac, up: false });
      else if (net.driverState.mac && br.mac !== net.driverState.mac) rt.setLink(br.index, { mac: net.driverState.mac });
      if (net.enableIPv6) await c.kernel.setSysctl(undefined, `net.ipv6.conf.${name}.disable_ipv6`, '0');
      const have = new Set(rt.addresses(br.index).map((a) => a.cidr));
      for (const cidr of gatewayCidrs(net)) {
        if (!have.has(cidr)) rt.addAddress(br.index, cidr, { nodad: familyOf(cidr) === 6 });
      }
      if (!br.up) rt.setLink(br.index, { up: true });
    } catch (err) {
      if (created) rt.deleteLink(name, { ignoreMissing: true });
      throw err;
    }
  }

  async networkDown(c: NetworkContext): Promise<void> {
    c.kernel.host().deleteLink(bridgeNameOf(c.network), { ignoreMissing: true });
  }

  async join(c: EndpointContext): Promise<void> {
    if (c.endpoint.placement === 'runtime') return ensureHostEndOnBridge(c);
    const { network: net, endpoint: ep, sandbox: sb } = c;
    const rt = c.kernel.host();
    const br = rt.link(bridgeNameOf(net));
    if (!br) throw new KernelError('endpoint join', `bridge ${net.driverState.bridgeName} of network ${net.name} does not exist`);
    const hostIf = ep.hostIfname ?? IFNAMES.hostVeth.of(ep.id);
    const nsFd = await c.kernel.netnsFd(sb.netnsPath);
    const inner = await c.kernel.inNetns(sb.netnsPath);
    let created = false;
    try {
      const existing = rt.link(hostIf);
      if (!existing) {
        const local = rt.createVeth({
          name: hostIf,
          peerName: ep.ifname,
          peerNetnsFd: nsFd,
          mtu: Number(net.driverState.mtu),
          peerMac: ep.macAddress,
          master: br.index,
          up: true,
        });
        created = true;
        // A bridge port needs no IPv6 link-local address; without one it sends no DAD/MLD/RS
        // that the bridge would flood to every other port (keeps joins flat as ports grow).
        quietIpv6(() => rt.setLink(local.index, { ipv6AddrGenNone: true }));
      } else if (existing.master !== br.index || !existing.up) {
        rt.setLink(existing.index, { master: br.index, up: true });
      }
      const link = inner.link(ep.ifname);
      if (!link) throw new KernelError('endpoint join', `interface ${ep.ifname} did not appear in sandbox ${sb.name}`);
      const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
      if (ep.ipv4 && !have.has(ep.ipv4)) inner.addAddress(link.index, ep.ipv4);
      if (ep.ipv6 && !have.has(ep.ipv6)) inner.addAddress(link.index, ep.ipv6, { nodad: true });
      if (!link.up) {
        // On an IPv4-only network the sandbox's interface needs no link-local address either.
        if (!ep.ipv6) quietIpv6(() => inner.setLink(link.index, { ipv6AddrGenNone: true }));
        inner.setLink(link.index, { up: true });
      }
      if (ep.defaultRoute && !net.internal) {
        // Read before writing: a resync must not rewrite (and re-announce) a route that is fine.
        const hasDefault = (fam: 4 | 6, gw: string): boolean =>
          inner.routes(fam, 254).some((r) => (r.dst === '0.0.0.0/0' || r.dst === '::/0') && r.gateway === gw && r.oif === link.index);
        if (ep.gateway4 && !hasDefault(4, ep.gateway4))
          inner.addRoute({ dst: '0.0.0.0/0', gateway: ep.gateway4, oif: link.index }, { replace: true });
        if (ep.gateway6 && ep.ipv6 && !hasDefault(6, ep.gateway6))
          inner.addRoute({ dst: '::/0', gateway: ep.gateway6, oif: link.index }, { replace: true });
      }
    } catch (err) {
      if (created) rt.deleteLink(hostIf, { ignoreMissing: true });
      throw err;
    }
  }

  async leave(c: EndpointContext): Promise<void> {
    // Deleting one end of a veth deletes its peer inside the sandbox too (wherever the runtime put it).
    if (c.endpoint.hostIfname) c.kernel.host().deleteLink(c.endpoint.hostIfname, { ignoreMissing: true });
  }
}
