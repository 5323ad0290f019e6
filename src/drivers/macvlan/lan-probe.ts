/**
 * "Is this address already taken on the LAN?" (`-o weft.macvlan.probe=true`). The LAN, not
 * weft, owns the subnet: a printer or a laptop may hold an address weft's IPAM thinks free.
 * Before an IPv4 address is handed out, a short-lived macvlan on the parent (its own random
 * MAC, no address, no IPv6 link-local) sends RFC 5227 ARP probes and listens for a claimant;
 * it is deleted right after. The host's own addresses count as taken too (a probe leaving the
 * parent never comes back to the host that sent it). IPv6 uses the kernel's duplicate address
 * detection on the endpoint's own interface instead (underlay-child.ts).
 */
import type { Rtnl } from '../../kernel/netlink/rtnl.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import type { NetworkRecord } from '../../model/types.js';
import { arpProbe } from '../../kernel/arp-probe.js';
import { isOwned, ownerAlias, probeName } from './names.js';
import { quietIpv6 } from './parent-link.js';

/** Who holds `address`: "this host", the MAC of a LAN host, or undefined if nobody answered. */
export async function probeLan(
  rt: Rtnl,
  net: NetworkRecord,
  parent: LinkInfo,
  address: string,
  timeoutMs: number,
): Promise<string | undefined> {
  if (rt.addresses(undefined, 4).some((a) => a.cidr.split('/')[0] === address)) return 'this host';
  const link = rt.createMacvlan({ name: probeName(), parent: parent.index, mode: 'bridge', up: false })!;
  try {
    rt.setLink(link.index, { alias: ownerAlias('probe', net.id) });
    quietIpv6(() => rt.setLink(link.index, { ipv6AddrGenNone: true }));
    rt.setLink(link.index, { up: true });
    return await arpProbe({ ifindex: link.index, mac: link.mac!, address, timeoutMs });
  } finally {
    rt.deleteLink(link.index, { ignoreMissing: true });
  }
}

/** Probe links a crash left behind (weft's alias for this network on a `wfp…` link). */
export function sweepProbeLinks(rt: Rtnl, net: NetworkRecord): string[] {
  const gone: string[] = [];
  for (const l of rt.links()) {
    if (/^wfp[0-9a-f]{12}$/.test(l.name) && isOwned(l.alias, 'probe', net.id)) {
      rt.deleteLink(l.index, { ignoreMissing: true });
      gone.push(l.name);
    }
  }
  return gone;
}
