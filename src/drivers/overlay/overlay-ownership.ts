/**
 * Which links are the overlay driver's (see ../link-ownership.ts). Every link it creates — the
 * gateway bridge and the sandboxes' legs in the host namespace, the bridge, vxlan device and
 * ports in a network's namespace, the host's WireGuard device — carries weft's group and an
 * alias naming its owner, and the driver changes or deletes an existing link only when it
 * carries that mark. Names are derived (wfo<ep12>, weft_gwbridge, br0…) and so can be taken by
 * anyone: a link with such a name but without the mark is refused, never adopted or deleted.
 */
import type { LinkInfo } from '../../kernel/netlink/types.js';
import type { NetworkRecord } from '../../model/types.js';
import { foreignLinkError, isWeftLink, ownedBy, ownerMark, parseMark } from '../link-ownership.js';

/** The gateway bridge serves every overlay network of the host: a per-host mark. */
export const GATEWAY_MARK = ownerMark('host', 'overlay-gateway');
/** The host's WireGuard device (encrypted networks), likewise per host. */
export const WIREGUARD_MARK = ownerMark('host', 'overlay-wireguard');
export const networkMark = (net: NetworkRecord): string => ownerMark('network', net.id);
export const endpointMark = (endpointId: string): string => ownerMark('endpoint', endpointId);

/** Throw a ConflictError naming `field` unless the existing link carries `mark`. */
export function mustOwn(l: LinkInfo, mark: string, field: string): void {
  if (!ownedBy(l, mark)) throw foreignLinkError(field, l, ' (remove or rename it, or use another network)');
}

/** The endpoint id a link's mark names, when it is a weft link marked for an endpoint. */
export function markedEndpoint(l: LinkInfo): string | undefined {
  const m = isWeftLink(l) ? parseMark(l.alias) : undefined;
  return m?.kind === 'endpoint' ? m.id : undefined;
}
