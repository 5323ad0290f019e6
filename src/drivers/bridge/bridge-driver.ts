/**
 * Bridge driver: one Linux bridge per network carrying the gateway addresses; one veth pair
 * per endpoint, the host end enslaved to the bridge, the other end created directly inside
 * the sandbox's namespace under its final name (no rename dance, no window where it sits in
 * the host namespace).
 */
import type { Driver, DriverContext, EndpointContext, NetworkValidation } from '../driver.js';
import type { EndpointRecord, NetworkRecord } from '../../model/types.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import { ConflictError, KernelError } from '../../errors.js';
import { BRIDGE_OPTIONS, bridgeStateOf, parseBridgeOptions } from './bridge-options.js';
import { parseCidr } from '../../ipam/cidr.js';
import {
  WEFT_ADDR_PROTO,
  WEFT_ROUTE_PROTO,
  claimLink,
  createOwnedBridge,
  createOwnedVeth,
  foreignLinkError,
  isWeftLink,
  ownedBy,
  ownerMark,
} from '../link-ownership.js';

const familyOf = (cidr: string): 4 | 6 => (cidr.includes(':') ? 6 : 4);

/** IPv6 tuning is an optimisation: a kernel booted without IPv6 refuses it, and that is fine. */
function quietIpv6(fn: () => void): void {
  try {
    fn();
  } catch {
    /* no IPv6 in this kernel */
  }
}

/** Locally administered unicast MAC from the network id: 02:xx:xx:xx:xx:xx. */
export function bridgeMacOf(networkId: string): string {
  return ['02', ...(networkId.slice(0, 10).match(/../g) ?? [])].join(':');
}

/** "gateway/prefix" for each pool of a network. */
export function gatewayCidrs(net: NetworkRecord): string[] {
  return net.ipam.config.map((p) => `${p.gateway}/${parseCidr(p.subnet, 'subnet').prefix}`);
}

export const networkMark = (net: NetworkRecord): string => ownerMark('network', net.id);
export const endpointMark = (ep: EndpointRecord): string => ownerMark('endpoint', ep.id);
const isAdopted = (net: NetworkRecord): boolean => net.driverState.adopt === 'true';

/**
 * Whether an existing bridge is this network's: marked for it, or — made by a weft from before
 * links were marked — carrying the name or the MAC weft derives from the network's id.
 */
function ownBridge(net: NetworkRecord, l: LinkInfo): boolean {
  if (ownedBy(l, networkMark(net))) return true;
  if (isWeftLink(l) || l.alias !== undefined || l.kind !== 'bridge') return false;
  return l.name === `wf-${net.id.slice(0, 12)}` || (net.driverState.mac !== undefined && l.mac === net.driverState.mac);
}

/** Same for an endpoint's host-side veth (the legacy name embeds the endpoint id). */
function ownVeth(ep: EndpointRecord, l: LinkInfo): boolean {
  if (ownedBy(l, endpointMark(ep))) return true;
  return !isWeftLink(l) && l.alias === undefined && l.kind === 'veth' && l.name === `wfv${ep.id.slice(0, 12)}`;
}

const ADOPT_HINT = ` (to use an existing bridge as it is, pass -o ${BRIDGE_OPTIONS.adopt}=true)`;

export class BridgeDriver implements Driver {
  readonly name = 'bridge';
  readonly usesIpam = true;
  readonly userCreatable = true;

  validate(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation {
    const o = parseBridgeOptions(net.options, `wf-${net.id.slice(0, 12)}`, net.enableIPv6);
    const clash = others.find((n) => n.id !== net.id && n.driverState.bridgeName === o.bridgeName);
    if (clash)
      throw new ConflictError('com.docker.network.bridge.name', `bridge name "${o.bridgeName}" is already used by network "${clash.name}"`);
    // A bridge without its own MAC takes its lowest port's: when that sandbox leaves, the
    // gateway's MAC changes under every other sandbox's ARP cache and they lose the gateway.
    // A fixed MAC, derived from the network id, also survives re-creation after a reboot.
    if (!o.adopt) o.mac ??= bridgeMacOf(net.id);
    return { options: net.options, driverState: bridgeStateOf(o) };
  }

  async setup(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    if (isAdopted(net)) return this.setupAdopted(ctx, net);
    const rt = ctx.kernel.host();
    const name = net.driverState.bridgeName!;
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
      if (net.enableIPv6) await ctx.kernel.setSysctl(undefined, `net.ipv6.conf.${name}.disable_ipv6`, '0');
      this.ensureGateways(ctx, net, br);
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
  private async setupAdopted(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    const rt = ctx.kernel.host();
    const name = net.driverState.bridgeName!;
    const br = rt.link(name);
    if (!br)
      throw new ConflictError(BRIDGE_OPTIONS.adopt, `bridge "${name}" does not exist; ${BRIDGE_OPTIONS.adopt} uses an existing bridge`);
    if (br.kind !== 'bridge') throw new ConflictError(BRIDGE_OPTIONS.adopt, `interface "${name}" is not a bridge (${br.kind ?? 'device'})`);
    if (isWeftLink(br) && !ownedBy(br, networkMark(net))) throw foreignLinkError(BRIDGE_OPTIONS.name, br);
    this.ensureGateways(ctx, net, br);
  }

  /** Add the network's gateway addresses that are missing, marked as weft's (IFA_PROTO). */
  private ensureGateways(ctx: DriverContext, net: NetworkRecord, br: LinkInfo): void {
    const rt = ctx.kernel.host();
    const have = new Set(rt.addresses(br.index).map((a) => a.cidr));
    for (const cidr of gatewayCidrs(net)) {
      if (!have.has(cidr)) rt.addAddress(br.index, cidr, { nodad: familyOf(cidr) === 6, proto: WEFT_ADDR_PROTO });
    }
  }

  async teardown(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    const rt = ctx.kernel.host();
    const name = net.driverState.bridgeName!;
    if (!isAdopted(net)) {
      // Only this network's own bridge; a link someone else made under that name stays.
      const l = rt.link(name);
      if (l && ownBridge(net, l)) rt.deleteLink(l.index, { ignoreMissing: true });
      return;
    }
    // Hand an adopted bridge back as it was: remove exactly the addresses weft added to it.
    const br = rt.link(name);
    if (!br || br.kind !== 'bridge') return;
    const mine = new Set(gatewayCidrs(net));
    for (const a of rt.addresses(br.index)) {
      if (a.proto === WEFT_ADDR_PROTO && mine.has(a.cidr)) rt.deleteAddress(br.index, a.cidr, { ignoreMissing: true });
    }
  }

  async check(ctx: DriverContext, net: NetworkRecord): Promise<string[]> {
    const rt = ctx.kernel.host();
    const name = net.driverState.bridgeName!;
    const br = rt.link(name);
    const adopted = isAdopted(net);
    if (!br) return [`network ${net.name}: ${adopted ? 'adopted ' : ''}bridge ${name} is missing`];
    const problems: string[] = [];
    if (br.kind !== 'bridge') problems.push(`network ${net.name}: ${name} is not a bridge`);
    if (!adopted && !ownBridge(net, br)) problems.push(`network ${net.name}: ${name} exists but is not weft's; weft will not touch it`);
    if (!br.up) problems.push(`network ${net.name}: bridge ${name} is down`);
    if (!adopted && net.driverState.mac && br.mac !== net.driverState.mac)
      problems.push(`network ${net.name}: bridge ${name} has MAC ${br.mac ?? '?'}, not ${net.driverState.mac}`);
    const have = new Set(rt.addresses(br.index).map((a) => a.cidr));
    for (const cidr of gatewayCidrs(net)) if (!have.has(cidr)) problems.push(`network ${net.name}: gateway ${cidr} missing on ${name}`);
    return problems;
  }

  async setupEndpoint(ctx: EndpointContext): Promise<void> {
    const { network: net, endpoint: ep, sandbox: sb } = ctx;
    const rt = ctx.kernel.host();
    const br = rt.link(net.driverState.bridgeName!);
    if (!br) throw new KernelError('endpoint join', `bridge ${net.driverState.bridgeName} of network ${net.name} does not exist`);
    const hostIf = ep.hostIfname!;
    const nsFd = await ctx.kernel.netnsFd(sb.netnsPath);
    const inner = await ctx.kernel.inNetns(sb.netnsPath);
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
      if (created !== undefined) rt.deleteLink(created, { ignoreMissing: true });
      throw err;
    }
  }

  async teardownEndpoint(ctx: EndpointContext): Promise<void> {
    // Deleting one end of a veth deletes its peer inside the sandbox too. Only our own veth.
    const ep = ctx.endpoint;
    if (!ep.hostIfname) return;
    const l = ctx.kernel.host().link(ep.hostIfname);
    if (l && ownVeth(ep, l)) ctx.kernel.host().deleteLink(l.index, { ignoreMissing: true });
  }

  async checkEndpoint(ctx: EndpointContext): Promise<string[]> {
    const { network: net, endpoint: ep, sandbox: sb } = ctx;
    const rt = ctx.kernel.host();
    const problems: string[] = [];
    const hostLink = rt.link(ep.hostIfname!);
    const br = rt.link(net.driverState.bridgeName!);
    if (!hostLink) return [`endpoint ${sb.name}/${net.name}: host interface ${ep.hostIfname} missing`];
    if (!ownVeth(ep, hostLink))
      return [`endpoint ${sb.name}/${net.name}: ${ep.hostIfname} exists but is not weft's; weft will not touch it`];
    if (!br || hostLink.master !== br.index) problems.push(`endpoint ${sb.name}/${net.name}: ${ep.hostIfname} not on bridge`);
    if (!hostLink.up) problems.push(`endpoint ${sb.name}/${net.name}: ${ep.hostIfname} is down`);
    const inner = await ctx.kernel.inNetns(sb.netnsPath);
    const link = inner.link(ep.ifname);
    if (!link) return [...problems, `endpoint ${sb.name}/${net.name}: ${ep.ifname} missing in sandbox`];
    const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
    for (const a of [ep.ipv4, ep.ipv6]) if (a && !have.has(a)) problems.push(`endpoint ${sb.name}/${net.name}: address ${a} missing`);
    if (ep.defaultRoute && !net.internal && ep.gateway4) {
      const def = inner.routes(4).find((r) => r.dst === '0.0.0.0/0' && r.table === 254);
      if (!def || def.gateway !== ep.gateway4) problems.push(`endpoint ${sb.name}/${net.name}: default route via ${ep.gateway4} missing`);
    }
    return problems;
  }
}
