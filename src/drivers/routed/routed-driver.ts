/**
 * Routed driver (Calico's data plane, seed 004): pure layer 3, no bridge, no overlay. Each
 * endpoint is one veth; the host end has no address, a fixed MAC and proxy ARP, and a /32
 * (/128) route to the workload; the workload has its address as /32 (/128) and a default route
 * through an on-link gateway that no one owns (169.254.1.1; for IPv6 the host end's link-local
 * address). Hosts learn each other's workloads from BGP: each host's IPAM blocks are announced
 * by its BIRD (src/bgp, started by weftd's BGP service), so this driver never programs a route
 * to another host — peerUp/hostUp have nothing to do here.
 */
import type { Driver, EndpointContext, NetworkContext, NetworkValidation } from '../driver.js';
import type { NetlinkPort } from '../../kernel/kernel-port.js';
import type { NetworkRecord } from '../../model/types.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import { ConflictError, InvalidArgumentError, KernelError } from '../../errors.js';
import { IFNAMES } from '../ifnames.js';
import { createOwnedVeth, foreignLinkError, ownedBy, ownerMark, WEFT_ROUTE_PROTO } from '../link-ownership.js';
import { underlayClash } from '../underlay-guard.js';
import { GATEWAY4, GATEWAY6, HOST_SIDE_MAC, hostRouteOf, mtuOf, parseRoutedOptions } from './routed-options.js';
import { routedInvariants } from './routed-invariants.js';
import { quietIpv6 } from '../quiet-ipv6.js';

const RT_SCOPE_LINK = 253;
const MAIN_TABLE = 254;
/** RTPROT_BIRD: the routes BIRD installs (other hosts' blocks) are the design's, not the underlay's. */
const RTPROT_BIRD = 12;

/** The host end's name: recorded on the endpoint once joined, derived from its id before. */
export const hostIfnameOf = (c: EndpointContext): string => c.endpoint.hostIfname ?? IFNAMES.routedVeth.of(c.endpoint.id);

/** The alias marking an endpoint's host end as weft's (link-ownership.ts). */
export const routedMark = (endpointId: string): string => ownerMark('endpoint', endpointId);

/** Whether an existing host link is this endpoint's own veth: weft's group and this endpoint's alias. */
export const ownHostEnd = (c: EndpointContext, l: LinkInfo): boolean => l.kind === 'veth' && ownedBy(l, routedMark(c.endpoint.id));

/** Add a route unless an equal one is there: a resync must not rewrite (and re-announce) a good route. */
function ensureRoute(rt: NetlinkPort, fam: 4 | 6, dst: string, oif: number, gateway?: string): void {
  const have = rt.routes(fam, MAIN_TABLE).some((r) => r.dst === dst && r.oif === oif && r.gateway === gateway);
  if (have) return;
  if (gateway === undefined) rt.addRoute({ dst, oif, scope: RT_SCOPE_LINK }, { replace: true });
  // An IPv6 link-local gateway is on-link by definition; 169.254.1.1 is on-link only by fiat.
  else rt.addRoute({ dst, gateway, oif, ...(fam === 4 ? { onlink: true } : {}) }, { replace: true });
}

/** What the workload routes through the gateway: everything, or only the network's pools. */
function routedPrefixes(c: EndpointContext, fam: 4 | 6): string[] {
  if (c.endpoint.defaultRoute && !c.network.internal) return [fam === 4 ? '0.0.0.0/0' : '::/0'];
  return c.network.ipam.config.map((p) => p.subnet).filter((s): s is string => !!s && s.includes(':') === (fam === 6));
}

export class RoutedDriver implements Driver {
  readonly name = 'routed';
  readonly scope = 'global';
  readonly usesIpam = true;
  readonly userCreatable = true;
  readonly ownedNames = [IFNAMES.routedVeth];
  readonly hostVeth = IFNAMES.routedVeth;
  readonly invariants = routedInvariants(this, ownHostEnd);

  validate(net: NetworkRecord): NetworkValidation {
    const o = parseRoutedOptions(net.options, net.enableIPv6);
    return { options: net.options, driverState: { mtu: String(o.mtu) } };
  }

  /** The host forwards between workloads and the underlay; that is all a routed network needs. */
  async networkUp(c: NetworkContext): Promise<void> {
    // Before anything changes: blocks of a subnet over the underlay, announced by every host,
    // would take this host's traffic to the other hosts and to the cluster store.
    const clash = this.underlayClashOf(c);
    if (clash)
      throw new InvalidArgumentError(
        'subnet',
        `${clash}: its block routes would take this host's traffic to the other hosts and the cluster store; choose a subnet outside the underlay`,
      );
    if ((await c.kernel.readSysctl(undefined, 'net.ipv4.ip_forward')) !== '1')
      await c.kernel.setSysctl(undefined, 'net.ipv4.ip_forward', '1');
    if (c.network.enableIPv6 && (await c.kernel.readSysctl(undefined, 'net.ipv6.conf.all.forwarding')) !== '1')
      await c.kernel.setSysctl(undefined, 'net.ipv6.conf.all.forwarding', '1');
  }

  private underlayClashOf(c: NetworkContext): string | undefined {
    const hostAddress = c.services.cluster?.hostAddress;
    if (hostAddress === undefined) return undefined;
    const rt = c.kernel.host();
    const a = rt.addresses(undefined, 4).find((x) => x.cidr.split('/')[0] === hostAddress);
    const underlay = a && rt.link(a.index);
    if (!underlay) return undefined; // no such interface: the host record says where it is, not this check
    const addrs = rt.addresses(underlay.index, 4);
    const routes = rt.routes(4, MAIN_TABLE);
    for (const p of c.network.ipam.config) {
      if (p.subnet.includes(':')) continue;
      const clash = underlayClash(p.subnet, underlay, addrs, routes, [WEFT_ROUTE_PROTO, RTPROT_BIRD]);
      if (clash) return clash;
    }
    return undefined;
  }

  /** Forwarding stays on: other networks (and the administrator) may rely on it. */
  async networkDown(): Promise<void> {}

  async join(c: EndpointContext): Promise<void> {
    const { endpoint: ep, sandbox: sb } = c;
    const rt = c.kernel.host();
    const hostIf = hostIfnameOf(c);
    const nsFd = await c.kernel.netnsFd(sb.netnsPath);
    const inner = await c.kernel.inNetns(sb.netnsPath);
    let created: number | undefined;
    try {
      let host = rt.link(hostIf);
      // Only this endpoint's own veth is re-used; a link weft did not make for it is refused, untouched.
      if (host && !ownHostEnd(c, host)) throw foreignLinkError('hostIfname', host);
      if (!host) {
        if (inner.link(ep.ifname))
          throw new ConflictError('ifname', `sandbox ${sb.name} already has an interface "${ep.ifname}"; choose another name (--ifname)`);
        host = createOwnedVeth(
          rt,
          {
            name: hostIf,
            peerName: ep.ifname,
            peerNetnsFd: nsFd,
            mtu: mtuOf(c.network),
            mac: HOST_SIDE_MAC,
            ...(ep.macAddress ? { peerMac: ep.macAddress } : {}),
            up: false,
          },
          routedMark(ep.id),
        );
        created = host.index;
      } else if (host.mac !== HOST_SIDE_MAC) {
        rt.setLink(host.index, { mac: HOST_SIDE_MAC });
      }
      await this.tuneHostEnd(c, hostIf);
      const index = host.index;
      if (!ep.ipv6) quietIpv6(() => rt.setLink(index, { ipv6AddrGenNone: true }));
      if (!host.up) rt.setLink(index, { up: true });
      if (ep.ipv4) ensureRoute(rt, 4, hostRouteOf(ep.ipv4), index);
      if (ep.ipv6) ensureRoute(rt, 6, hostRouteOf(ep.ipv6), index);
      this.configureWorkload(c, inner, created === undefined ? index : undefined);
    } catch (err) {
      // Undo only what this call made: the veth (by index; its peer and routes go with it).
      if (created !== undefined) rt.deleteLink(created, { ignoreMissing: true });
      throw err;
    }
  }

  /** Proxy ARP answers the workload's ARP for 169.254.1.1 at once (Calico's proxy_delay 0). */
  private async tuneHostEnd(c: EndpointContext, hostIf: string): Promise<void> {
    const want: [string, string][] = [
      [`net.ipv4.conf.${hostIf}.proxy_arp`, '1'],
      [`net.ipv4.neigh.${hostIf}.proxy_delay`, '0'],
    ];
    // The IPv6 gateway is this end's link-local address: usable at once, without DAD's second.
    if (c.endpoint.ipv6) want.push([`net.ipv6.conf.${hostIf}.disable_ipv6`, '0'], [`net.ipv6.conf.${hostIf}.accept_dad`, '0']);
    for (const [key, value] of want)
      if ((await c.kernel.readSysctl(undefined, key)) !== value) await c.kernel.setSysctl(undefined, key, value);
  }

  /** `peerOf`: the host end's index when it existed before this call, whose peer must be the interface configured. */
  private configureWorkload(c: EndpointContext, inner: NetlinkPort, peerOf?: number): void {
    const { endpoint: ep, sandbox: sb } = c;
    const link = inner.link(ep.ifname);
    if (!link) throw new KernelError('endpoint join', `interface ${ep.ifname} did not appear in sandbox ${sb.name}`);
    const peer = peerOf === undefined ? undefined : c.kernel.host().link(peerOf)?.link;
    if (link.kind !== 'veth' || (peer !== undefined && peer !== link.index))
      throw new ConflictError('ifname', `interface ${ep.ifname} in sandbox ${sb.name} is not weft's; weft will not configure it`);
    const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
    if (ep.ipv4 && !have.has(hostRouteOf(ep.ipv4))) inner.addAddress(link.index, hostRouteOf(ep.ipv4));
    if (ep.ipv6 && !have.has(hostRouteOf(ep.ipv6))) inner.addAddress(link.index, hostRouteOf(ep.ipv6), { nodad: true });
    if (!link.up) {
      if (!ep.ipv6) quietIpv6(() => inner.setLink(link.index, { ipv6AddrGenNone: true }));
      inner.setLink(link.index, { up: true });
    }
    if (ep.ipv4) {
      // A permanent neighbour for the gateway: the workload never waits on ARP, even if proxy ARP is off.
      const gw = inner.neighbours(4, link.index).find((n) => n.dst === GATEWAY4);
      if (!gw || gw.lladdr !== HOST_SIDE_MAC)
        inner.addNeighbour({ index: link.index, family: 4, dst: GATEWAY4, lladdr: HOST_SIDE_MAC }, { replace: true });
      ensureRoute(inner, 4, `${GATEWAY4}/32`, link.index);
      for (const dst of routedPrefixes(c, 4)) ensureRoute(inner, 4, dst, link.index, GATEWAY4);
    }
    if (ep.ipv6) for (const dst of routedPrefixes(c, 6)) ensureRoute(inner, 6, dst, link.index, GATEWAY6);
  }

  async leave(c: EndpointContext): Promise<void> {
    // Deleting the host end deletes the workload end and the host routes through it — only our own veth.
    const rt = c.kernel.host();
    const l = rt.link(hostIfnameOf(c));
    if (l && ownHostEnd(c, l)) rt.deleteLink(l.index, { ignoreMissing: true });
  }
}
