/**
 * The underlay guard of drivers that route a network's subnets on the host (hostsubnet, routed):
 * a subnet over the host's own underlay would take the traffic to the other hosts and to the
 * cluster store. Pure: from the kernel's addresses and routes, read by the caller.
 */
import { cidrContains, cidrOverlaps, parseAddress, parseCidr } from '../ipam/cidr.js';
import type { AddressInfo, RouteInfo } from '../kernel/netlink/types.js';

/** RTN_UNICAST and the main table (linux/rtnetlink.h); drivers may not import kernel modules' values. */
const RTN_UNICAST = 1;
const MAIN_TABLE = 254;

/**
 * Why `subnet` would capture this host's own underlay traffic, or undefined when it does not.
 * A hostsubnet network routes its subnets on every host (the local bridge, a route per peer
 * lease), a routed one its blocks (BGP): if one covers the underlay segment, or a prefix the host reaches through the underlay
 * (a router's subnets, the cluster store), that traffic goes into the bridge or the tunnel
 * instead. The host then loses the store, cannot learn the lease is gone, and stays cut off
 * (seen in lab compare: 198.18.0.192/26 leased on the lab's 198.18.0.0/24 swallowed etcd's
 * 198.18.0.201 on two hosts for good). The default route and weft's own routes (`ownProtos`)
 * are not the underlay's.
 */
export function underlayClash(
  subnet: string,
  underlay: { index: number; name: string },
  addresses: readonly AddressInfo[],
  routes: readonly RouteInfo[],
  ownProtos: readonly number[],
): string | undefined {
  const net = parseCidr(subnet, 'subnet');
  for (const a of addresses) {
    if (a.family !== 4 || a.index !== underlay.index) continue;
    const seg = parseCidr(a.cidr, 'address');
    if (cidrOverlaps(net, seg) || cidrContains(net, parseAddress(a.cidr.split('/')[0]!, 'address')))
      return `${subnet} overlaps ${underlay.name}'s underlay ${a.cidr}`;
  }
  for (const r of routes) {
    if (r.family !== 4 || r.table !== MAIN_TABLE || r.type !== RTN_UNICAST || r.oif !== underlay.index) continue;
    if (ownProtos.includes(r.protocol) || parseCidr(r.dst, 'route').prefix === 0) continue;
    if (cidrOverlaps(net, parseCidr(r.dst, 'route')))
      return `${subnet} overlaps ${r.dst}, which this host reaches through ${underlay.name}${r.gateway ? ` via ${r.gateway}` : ''}`;
    if (r.gateway !== undefined && cidrContains(net, parseAddress(r.gateway, 'gateway')))
      return `${subnet} contains the underlay router ${r.gateway}`;
  }
  return undefined;
}
