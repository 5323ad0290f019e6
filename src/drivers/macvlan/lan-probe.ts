/**
 * "Is this address already taken on the LAN?" (`-o weft.macvlan.probe=true`). The LAN, not
 * weft, owns the subnet: a printer or a laptop may hold an address weft's IPAM thinks free.
 * Before an IPv4 address is handed out, a short-lived macvlan on the parent (`wfp…`, its own
 * random MAC, no address, no IPv6 link-local) sends RFC 5227 ARP probes and listens for a
 * claimant; it is deleted right after (a crash's leftover is swept by macvlan.no-orphans). The
 * host's own addresses count as taken too (a probe leaving the parent never comes back to the
 * host that sent it). IPv6 uses the kernel's duplicate address detection on the endpoint's own
 * interface instead (underlay-child.ts).
 */
import { randomBytes } from 'node:crypto';
import type { KernelPort } from '../../kernel/kernel-port.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import type { NetworkRecord } from '../../model/types.js';
import { IFNAMES } from '../ifnames.js';
import { ownerAlias } from '../underlay/owner-alias.js';
import { quietIpv6 } from '../quiet-ipv6.js';

/** Who holds `address`: "this host", the MAC of a LAN host, or undefined if nobody answered. */
export async function probeLan(
  kernel: KernelPort,
  net: NetworkRecord,
  parent: LinkInfo,
  address: string,
  timeoutMs: number,
): Promise<string | undefined> {
  const rt = kernel.host();
  if (rt.addresses(undefined, 4).some((a) => a.cidr.split('/')[0] === address)) return 'this host';
  const name = IFNAMES.lanProbe.of(randomBytes(6).toString('hex'));
  const link = rt.createMacvlan({ name, parent: parent.index, mode: 'bridge', up: false })!;
  let answer: string | undefined;
  try {
    rt.setLink(link.index, { alias: ownerAlias('probe', net.id) });
    quietIpv6(() => rt.setLink(link.index, { ipv6AddrGenNone: true }));
    rt.setLink(link.index, { up: true });
    answer = await kernel.arpProbe({ ifindex: link.index, mac: link.mac!, address, timeoutMs });
  } catch (err) {
    try {
      rt.deleteLink(link.index, { ignoreMissing: true });
    } catch (undo) {
      throw new AggregateError([err, undo], `ARP probe of ${address} failed and removing its link ${name} failed too`);
    }
    throw err;
  }
  rt.deleteLink(link.index, { ignoreMissing: true });
  return answer;
}
