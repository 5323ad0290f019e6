/**
 * Which kernel links are weft's. weft only ever modifies or deletes links it created; every
 * other link — the host's uplink, a user's bridge, another tool's veth — is left exactly as it
 * is, even when it carries a name weft would use.
 *
 * Ownership is recorded on the link itself, in two marks:
 *  - the link group (IFLA_GROUP = WEFT_LINK_GROUP), set by the very request that creates the
 *    link, so no link weft made is ever visible without it — not even after a crash between
 *    two netlink calls;
 *  - the alias (IFLA_IFALIAS = "weft:<kind>:<owner id>"), set right after, naming the network
 *    or endpoint the link belongs to (`ip link show` prints it).
 * Marks live with the object rather than only in the store, so the question "is this weft's?"
 * has one answer for every process (weftd, the CNI fallback), survives a store restored from a
 * backup, and is never answered "yes" for a link that merely has a weft-like name. The store
 * still says which objects *should* exist; the marks say which existing ones weft may touch.
 *
 * Addresses weft adds to a bridge carry IFA_PROTO = WEFT_ADDR_PROTO, so on an adopted bridge
 * weft removes its own gateway addresses and nothing else.
 */
import type { NetlinkPort } from '../kernel/kernel-port.js';
import type { CreateBridgeOpts, CreateVethOpts, CreateVxlanOpts, LinkInfo } from '../kernel/netlink/types.js';
import { ConflictError, combineErrors } from '../errors.js';

/** "weft" in ASCII: `ip link show group 2003134068` lists weft's links. */
export const WEFT_LINK_GROUP = 0x77656674;
/** IFA_PROTO / rtm_protocol value of addresses and routes weft adds (not in iproute2's table). */
export const WEFT_ADDR_PROTO = 119;
export const WEFT_ROUTE_PROTO = 119;

/**
 * network: a network's device (id); endpoint: an endpoint's host end (id); runtime-veth: a
 * runtime-placed pair's host end (its name); host: a per-host device a driver shares between
 * its networks (the overlay's gateway bridge, its WireGuard device), named by what it is.
 */
export type OwnerKind = 'network' | 'endpoint' | 'runtime-veth' | 'host';

/** The alias naming a link's owner. */
export const ownerMark = (kind: OwnerKind, id: string): string => `weft:${kind}:${id}`;

export function parseMark(alias: string | undefined): { kind: OwnerKind; id: string } | undefined {
  const m = /^weft:(network|endpoint|runtime-veth|host):([A-Za-z0-9_.-]+)$/.exec(alias ?? '');
  return m ? { kind: m[1] as OwnerKind, id: m[2]! } : undefined;
}

/** Whether weft created the link (its group says so). */
export const isWeftLink = (l: LinkInfo): boolean => l.group === WEFT_LINK_GROUP;

/**
 * Whether the link belongs to this owner: made by weft, and its alias names the owner — or it
 * has no alias yet (weft stopped between creating it and naming it: the group proves it is weft's).
 */
export function ownedBy(l: LinkInfo, mark: string): boolean {
  return isWeftLink(l) && (l.alias === undefined || l.alias === mark);
}

/** Name the owner on a weft link (completes a link created just before a crash). */
export function claimLink(rt: NetlinkPort, l: LinkInfo, mark: string): void {
  if (l.alias !== mark || l.group !== WEFT_LINK_GROUP) rt.setLink(l.index, { alias: mark, linkGroup: WEFT_LINK_GROUP });
}

/** A bridge created and marked as weft's in one go; on a marking failure it is deleted again. */
export function createOwnedBridge(rt: NetlinkPort, o: CreateBridgeOpts, mark: string): LinkInfo {
  const l = rt.createBridge({ ...o, linkGroup: WEFT_LINK_GROUP });
  return markNew(rt, l, mark);
}

/** A veth pair whose local end is created and marked as weft's. */
export function createOwnedVeth(rt: NetlinkPort, o: CreateVethOpts, mark: string): LinkInfo {
  const l = rt.createVeth({ ...o, linkGroup: WEFT_LINK_GROUP });
  return markNew(rt, l, mark);
}

/** A VXLAN device created in this namespace and marked as weft's. */
export function createOwnedVxlan(rt: NetlinkPort, o: Omit<CreateVxlanOpts, 'netnsFd'>, mark: string): LinkInfo {
  const l = rt.createVxlan({ ...o, linkGroup: WEFT_LINK_GROUP }) ?? rt.link(o.name);
  if (!l) throw new ConflictError('name', `VXLAN device ${o.name} was created but is not there`);
  return markNew(rt, l, mark);
}

function markNew(rt: NetlinkPort, l: LinkInfo, mark: string): LinkInfo {
  try {
    rt.setLink(l.index, { alias: mark });
  } catch (err) {
    // This call created it a moment ago: removing it (by index) touches nothing else.
    try {
      rt.deleteLink(l.index, { ignoreMissing: true });
    } catch (undo) {
      throw combineErrors(`marking ${l.name} as weft's failed and removing it again failed too`, [err, undo]);
    }
    throw err;
  }
  return { ...l, alias: mark };
}

/** Why weft refuses to touch an existing link, as a ConflictError naming `field`. */
export function foreignLinkError(field: string, l: LinkInfo, hint = ''): ConflictError {
  const mark = parseMark(l.alias);
  const whose = isWeftLink(l) && mark ? `belongs to weft ${mark.kind} ${mark.id.slice(0, 12)}` : 'was not created by weft';
  return new ConflictError(
    field,
    `interface "${l.name}" exists (${l.kind ?? 'device'}) and ${whose}; weft will not modify or delete it${hint}`,
  );
}
