/**
 * Which links are the hostsubnet driver's (see ../link-ownership.ts): a network's bridge, VTEP
 * and TUN carry weft's group and the network's mark. Every create marks, every change or delete
 * asks here first, so a link someone else made under a name the driver derives — a user's
 * `whb…` bridge, another tool's VXLAN device — is refused, never changed or deleted.
 */
import type { NetlinkPort } from '../../kernel/kernel-port.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import type { NetworkRecord } from '../../model/types.js';
import type { ModelView } from '../driver.js';
import { WEFT_LINK_GROUP, foreignLinkError, isWeftLink, ownedBy, ownerMark, parseMark } from '../link-ownership.js';
import { IFNAMES } from '../ifnames.js';
import { deviceNamesOf } from './hostsubnet-options.js';

/** The alias every device of a hostsubnet network carries. */
export const hostsubnetMark = (net: NetworkRecord): string => ownerMark('network', net.id);

/**
 * Whether an existing link is this network's: marked for it, or — made by a weft from before
 * links were marked — unmarked, of the right kind and with the MAC weft derives for it (a
 * foreign link would have to carry that exact MAC).
 */
export function ownHostsubnetLink(net: NetworkRecord, l: LinkInfo, legacy?: { kind: string; mac: string }): boolean {
  if (ownedBy(l, hostsubnetMark(net))) return true;
  return !!legacy && !isWeftLink(l) && l.alias === undefined && l.kind === legacy.kind && l.mac === legacy.mac;
}

/**
 * The network's link `name` if it is its own (marked now if it was a legacy one), undefined if
 * there is none; a link of that name that is not the network's is refused with a ConflictError.
 */
export function ownedLinkOf(
  rt: NetlinkPort,
  net: NetworkRecord,
  name: string,
  field: string,
  legacy?: { kind: string; mac: string },
): LinkInfo | undefined {
  const l = rt.link(name);
  if (!l) return undefined;
  if (!ownHostsubnetLink(net, l, legacy)) throw foreignLinkError(field, l);
  if (l.alias !== hostsubnetMark(net) || l.group !== WEFT_LINK_GROUP) {
    rt.setLink(l.index, { alias: hostsubnetMark(net), linkGroup: WEFT_LINK_GROUP });
    return rt.link(l.index) ?? l;
  }
  return l;
}

/** Delete the network's link `name` only if it is its own; a foreign link of that name stays as it is. */
export function deleteOwnedLink(rt: NetlinkPort, net: NetworkRecord, name: string): void {
  const l = rt.link(name);
  if (l && ownHostsubnetLink(net, l)) rt.deleteLink(l.index, { ignoreMissing: true });
}

const SCHEMES = [IFNAMES.hostsubnetBridge, IFNAMES.hostsubnetVtep, IFNAMES.hostsubnetTun];

/**
 * Leftovers: weft's links (its group) named like hostsubnet devices that no hostsubnet network
 * wants — their mark names a network that is gone, or (created, then weft stopped before naming
 * them) their name is no network's. A link without weft's group is never a leftover.
 */
export function orphanHostsubnetLinks(rt: NetlinkPort, model: ModelView): LinkInfo[] {
  const nets = model.networks.filter((n) => n.driver === 'hostsubnet');
  const wantedNames = new Set(nets.flatMap((n) => Object.values(deviceNamesOf(n.id))));
  return rt.links().filter((l) => {
    if (!isWeftLink(l) || !SCHEMES.some((s) => s.pattern.test(l.name))) return false;
    const mark = parseMark(l.alias);
    if (mark?.kind === 'network') return !nets.some((n) => n.id === mark.id);
    return mark === undefined && !wantedNames.has(l.name);
  });
}
