/**
 * What a host programs for each other host's subnet, per backend (Flannel's schemes). Pure:
 * from a peer's lease (and whether its underlay address is on a directly connected segment) to
 * the route, neighbour and FDB entries wanted; the backends apply them through the kernel port.
 *
 *   vxlan   route <subnet> via <subnet>.0 dev VTEP onlink · neigh <subnet>.0 lladdr <its VTEP MAC>
 *           dev VTEP permanent · fdb <its VTEP MAC> dst <its underlay address> dev VTEP permanent
 *           (direct routing: a peer on the same segment gets the host-gw route instead)
 *   host-gw route <subnet> via <its underlay address> (only to a peer on the same L2 segment)
 *   udp     nothing per peer in the kernel: one route for the whole network to the TUN device,
 *           and the encapsulating process's peer table
 */
import { WeftError } from '../../errors.js';
import { cidrContains, formatAddress, parseAddress, parseCidr } from '../../ipam/cidr.js';
import type { LeaseRecord, SubnetConfig } from '../../ipam/subnet-leases.js';
import type { RouteInfo } from '../../kernel/netlink/types.js';

export { underlayClash } from '../underlay-guard.js';

/** RT_SCOPE_LINK, RTN_UNICAST (linux/rtnetlink.h); the driver may not import kernel modules' values. */
export const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;
export const NUD_PERMANENT = 0x80;
export const NTF_SELF = 0x02;
export const MAIN_TABLE = 254;

export interface PeerPlan {
  route: { dst: string; gateway: string; dev: 'vtep' | 'underlay'; onlink: boolean };
  neigh?: { dst: string; lladdr: string };
  fdb?: { lladdr: string; dst: string };
}

/** host-gw needs every peer on this host's L2 segment; Flannel's docs say the same, weft refuses clearly. */
export class HostGwUnreachableError extends WeftError {
  constructor(peer: LeaseRecord, via: string | undefined) {
    super(
      'WEFT_INVALID_ARGUMENT',
      `backend host-gw cannot reach host ${peer.hostId} (${peer.publicIp}, subnet ${peer.subnet}): it is not on this host's L2 segment` +
        `${via ? ` (routed via ${via})` : ''}; use -o backend=vxlan, or vxlan with -o direct-routing=true`,
      { field: 'backend' },
    );
  }
}

/** The VTEP address of a subnet (Flannel's scheme: the subnet's network address, as a /32 on the VTEP). */
export function vtepAddressOf(subnet: string): string {
  return formatAddress({ family: 4, value: parseCidr(subnet, 'subnet').network });
}

/**
 * How this host reaches `ip`: on a connected segment (the most specific main-table route to it
 * has no gateway and link scope), or via a router (the gateway), or not at all.
 */
export function reachOf(routes: readonly RouteInfo[], ip: string): { onLink: boolean; via?: string } {
  const a = parseAddress(ip, 'address');
  let best: RouteInfo | undefined;
  let bestLen = -1;
  for (const r of routes) {
    if (r.family !== 4 || r.table !== MAIN_TABLE || r.type !== RTN_UNICAST) continue;
    const c = parseCidr(r.dst, 'route');
    if (cidrContains(c, a) && c.prefix > bestLen) [best, bestLen] = [r, c.prefix];
  }
  if (!best) return { onLink: false };
  if (best.gateway === undefined && best.scope === RT_SCOPE_LINK) return { onLink: true };
  return best.gateway === undefined ? { onLink: false } : { onLink: false, via: best.gateway };
}

/** What to program for one peer; throws HostGwUnreachableError for a host-gw peer off this segment. */
export function peerPlan(cfg: SubnetConfig, peer: LeaseRecord, reach: { onLink: boolean; via?: string }): PeerPlan | undefined {
  switch (cfg.backend.type) {
    case 'host-gw':
      if (!reach.onLink) throw new HostGwUnreachableError(peer, reach.via);
      return { route: { dst: peer.subnet, gateway: peer.publicIp, dev: 'underlay', onlink: false } };
    case 'vxlan': {
      if (cfg.backend.directRouting && reach.onLink)
        return { route: { dst: peer.subnet, gateway: peer.publicIp, dev: 'underlay', onlink: false } };
      const mac = peer.data.vtepMac;
      if (mac === undefined) throw new WeftError('WEFT_INVALID_ARGUMENT', `lease ${peer.subnet} of host ${peer.hostId} has no VTEP MAC`);
      const vtep = vtepAddressOf(peer.subnet);
      return {
        route: { dst: peer.subnet, gateway: vtep, dev: 'vtep', onlink: true },
        neigh: { dst: vtep, lladdr: mac },
        fdb: { lladdr: mac, dst: peer.publicIp },
      };
    }
    case 'udp':
      return undefined;
  }
}
