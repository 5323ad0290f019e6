/**
 * Bridge driver: one Linux bridge per network carrying the gateway addresses; one veth pair
 * per endpoint, the host end enslaved to the bridge, the other end created directly inside
 * the sandbox's namespace under its final name (no rename dance, no window where it sits in
 * the host namespace). Endpoints placed by a container runtime (Docker's Join) are the one
 * variant: the pair is made in the host namespace and the runtime moves it (runtime-peer.ts).
 */
import type { Driver, EndpointContext, NetworkContext, NetworkValidation } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import { ConflictError, KernelError } from '../../errors.js';
import { BRIDGE_OPTIONS, bridgeMacOf, bridgeNameOf, bridgeStateOf, gatewayCidrs, parseBridgeOptions } from './bridge-options.js';
import {
  WEFT_ADDR_PROTO,
  WEFT_ROUTE_PROTO,
  claimLink,
  createOwnedBridge,
  createOwnedVeth,
  foreignLinkError,
  isWeftLink,
  ownedBy,
} from '../link-ownership.js';
import { endpointMark, isAdopted, networkMark, ownBridge, ownEndpointLink, ownVeth } from './bridge-ownership.js';
import { IFNAMES } from '../ifnames.js';
import { bridgeInvariants } from './bridge-invariants.js';
import { bridgeRuntimePlacement, ensureHostEndOnBridge } from './runtime-peer.js';
import { fwNetworkOf } from './bridge-firewall.js';
import type { FwNetwork } from '../../firewall/types.js';
import { quietIpv6 } from '../quiet-ipv6.js';

const familyOf = (cidr: string): 4 | 6 => (cidr.includes(':') ? 6 : 4);

const ADOPT_HINT = ` (to use an existing bridge as it is, pass -o ${BRIDGE_OPTIONS.adopt}=true)`;

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
    if (!o.adopt) o.mac ??= bridgeMacOf(net.id);
    return { options: net.options, driverState: bridgeStateOf(o) };
  }

  firewallView(net: NetworkRecord): FwNetwork | undefined {
    return fwNetworkOf(net);
  }

  async networkUp(c: NetworkContext): Promise<void> {
    const net = c.network;
    if (isAdopted(net)) return this.adoptedUp(c);
    const rt = c.kernel.host();
    const name = bridgeNameOf(net);
    let br = rt.link(name);
    // An existing link is used only when it is this network's own bridge: never the host's.
    if (br && !ownBridge(net, br)) throw foreignLinkError(BRIDGE_OPTIONS.name, br, br.kind === 'bridge' ? ADOPT_HINT : '');
    let created: number | undefined;
    try {
      if (!br) {
        br = createOwnedBridge(rt, { name, mtu: Number(net.driverState.mtu), mac: net.driverState.mac, up: false }, networkMark(net));
        created = br.index;
      } else {
        claimLink(rt, br, networkMark(net));
        if (net.driverState.mac && br.mac !== net.driverState.mac) rt.setLink(br.index, { mac: net.driverState.mac });
      }
      if (net.enableIPv6) await c.kernel.setSysctl(undefined, `net.ipv6.conf.${name}.disable_ipv6`, '0');
      ensureGateways(c, br);
      if (!br.up) rt.setLink(br.index, { up: true });
    } catch (err) {
      // Undo only what this call did: the bridge it created (by index).
      if (created !== undefined) rt.deleteLink(created, { ignoreMissing: true });
      throw err;
    }
  }

  /**
   * An adopted bridge (weft.bridge.adopt): someone else's, used as it is. weft adds its gateway
   * addresses (marked as weft's) and nothing else: no MAC, MTU, state or sysctl change.
   */
  private async adoptedUp(c: NetworkContext): Promise<void> {
    const net = c.network;
    const name = bridgeNameOf(net);
    const br = c.kernel.host().link(name);
    if (!br)
      throw new ConflictError(BRIDGE_OPTIONS.adopt, `bridge "${name}" does not exist; ${BRIDGE_OPTIONS.adopt} uses an existing bridge`);
    if (br.kind !== 'bridge') throw new ConflictError(BRIDGE_OPTIONS.adopt, `interface "${name}" is not a bridge (${br.kind ?? 'device'})`);
    if (isWeftLink(br) && !ownedBy(br, networkMark(net))) throw foreignLinkError(BRIDGE_OPTIONS.name, br);
    ensureGateways(c, br);
  }

  async networkDown(c: NetworkContext): Promise<void> {
    const net = c.network;
    const rt = c.kernel.host();
    const l = rt.link(bridgeNameOf(net));
    if (!l) return;
    // Only this network's own bridge; a link someone else made under that name stays.
    if (!isAdopted(net)) {
      if (ownBridge(net, l)) rt.deleteLink(l.index, { ignoreMissing: true });
      return;
    }
    // Hand an adopted bridge back as it was: remove exactly the addresses weft added to it.
    if (l.kind !== 'bridge') return;
    const mine = new Set(gatewayCidrs(net));
    for (const a of rt.addresses(l.index)) {
      if (a.proto === WEFT_ADDR_PROTO && mine.has(a.cidr)) rt.deleteAddress(l.index, a.cidr, { ignoreMissing: true });
    }
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
    let created: number | undefined;
    try {
      const existing = rt.link(hostIf);
      // Only this endpoint's own veth is re-used; a link weft did not make for it is refused.
      if (existing && !ownVeth(ep, existing)) throw foreignLinkError('hostIfname', existing);
      if (!existing && inner.link(ep.ifname))
        throw new ConflictError('ifname', `sandbox ${sb.name} already has an interface "${ep.ifname}"; choose another name (--ifname)`);
      if (!existing) {
        const local = createOwnedVeth(
          rt,
          {
            name: hostIf,
            peerName: ep.ifname,
            peerNetnsFd: nsFd,
            mtu: Number(net.driverState.mtu),
            peerMac: ep.macAddress,
            master: br.index,
            up: true,
          },
          endpointMark(ep),
        );
        created = local.index;
        // A bridge port needs no IPv6 link-local address; without one it sends no DAD/MLD/RS
        // that the bridge would flood to every other port (keeps joins flat as ports grow).
        quietIpv6(() => rt.setLink(local.index, { ipv6AddrGenNone: true }));
      } else {
        claimLink(rt, existing, endpointMark(ep));
        if (existing.master !== br.index || !existing.up) rt.setLink(existing.index, { master: br.index, up: true });
      }
      const link = inner.link(ep.ifname);
      if (!link) throw new KernelError('endpoint join', `interface ${ep.ifname} did not appear in sandbox ${sb.name}`);
      // The interface addressed below must be our veth's peer, never one the namespace had already.
      const peer = created !== undefined ? undefined : rt.link(hostIf)?.link;
      if (link.kind !== 'veth' || (peer !== undefined && peer !== link.index))
        throw new ConflictError('ifname', `interface ${ep.ifname} in sandbox ${sb.name} is not weft's; weft will not configure it`);
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
          inner.routes(fam, 254).some(
            (r) =>
              (r.dst === '0.0.0.0/0' || r.dst === '::/0') &&
              ((r.gateway === gw && r.oif === link.index) ||
                // In a namespace weft did not make, a default route added since by its owner is theirs.
                (sb.kind === 'external' && r.protocol !== WEFT_ROUTE_PROTO)),
          );
        // Marked as weft's (rtm_protocol), so a namespace's own routes can be told from ours.
        if (ep.gateway4 && !hasDefault(4, ep.gateway4))
          inner.addRoute({ dst: '0.0.0.0/0', gateway: ep.gateway4, oif: link.index, protocol: WEFT_ROUTE_PROTO }, { replace: true });
        if (ep.gateway6 && ep.ipv6 && !hasDefault(6, ep.gateway6))
          inner.addRoute({ dst: '::/0', gateway: ep.gateway6, oif: link.index, protocol: WEFT_ROUTE_PROTO }, { replace: true });
      }
    } catch (err) {
      // Undo only what this call did: the veth it created (by index; its peer goes with it).
      if (created !== undefined) rt.deleteLink(created, { ignoreMissing: true });
      throw err;
    }
  }

  async leave(c: EndpointContext): Promise<void> {
    // Deleting one end of a veth deletes its peer too (wherever the runtime put it). Only our own veth.
    const ep = c.endpoint;
    if (!ep.hostIfname) return;
    const rt = c.kernel.host();
    const l = rt.link(ep.hostIfname);
    if (l && ownEndpointLink(ep, l)) rt.deleteLink(l.index, { ignoreMissing: true });
  }
}

/** Add the network's gateway addresses that are missing, marked as weft's (IFA_PROTO). */
function ensureGateways(c: NetworkContext, br: LinkInfo): void {
  const rt = c.kernel.host();
  const have = new Set(rt.addresses(br.index).map((a) => a.cidr));
  for (const cidr of gatewayCidrs(c.network)) {
    if (!have.has(cidr)) rt.addAddress(br.index, cidr, { nodad: familyOf(cidr) === 6, proto: WEFT_ADDR_PROTO });
  }
}
