/**
 * Which existing links are the bridge driver's to modify or delete (see ../link-ownership.ts):
 * a network's bridge, an endpoint's host-side veth, a runtime-placed pair's host end. Every
 * operation of the driver — networkUp/Down, join/leave, the runtime placement, and the
 * repairs of its invariant table — asks these first, so a link weft did not make (the host's
 * uplink, a user's bridge, another tool's veth) is never changed, whatever its name.
 */
import type { EndpointRecord, NetworkRecord } from '../../model/types.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import type { ModelView } from '../driver.js';
import { isWeftLink, ownedBy, ownerMark, parseMark } from '../link-ownership.js';
import { IFNAMES } from '../ifnames.js';

export const networkMark = (net: NetworkRecord): string => ownerMark('network', net.id);
export const endpointMark = (ep: EndpointRecord): string => ownerMark('endpoint', ep.id);
/** A runtime-placed pair's host end is named after the runtime's endpoint id (Join knows no weft ids). */
export const runtimeVethMark = (hostIfname: string): string => ownerMark('runtime-veth', hostIfname);

/** An adopted bridge (weft.bridge.adopt) is someone else's, used as it is. */
export const isAdopted = (net: NetworkRecord): boolean => net.driverState.adopt === 'true';

/** Unmarked and unnamed: made before weft marked its links, so only its derived name can vouch for it. */
const legacy = (l: LinkInfo, kind: string): boolean => !isWeftLink(l) && l.alias === undefined && l.kind === kind;

/**
 * Whether an existing bridge is this network's: marked for it, or — made by a weft from before
 * links were marked — carrying the name or the MAC weft derives from the network's id.
 */
export function ownBridge(net: NetworkRecord, l: LinkInfo): boolean {
  if (ownedBy(l, networkMark(net))) return true;
  if (!legacy(l, 'bridge')) return false;
  return l.name === IFNAMES.bridge.of(net.id) || (net.driverState.mac !== undefined && l.mac === net.driverState.mac);
}

/** Same for an endpoint's host-side veth (the legacy name embeds the endpoint id). */
export function ownVeth(ep: EndpointRecord, l: LinkInfo): boolean {
  if (ownedBy(l, endpointMark(ep))) return true;
  return legacy(l, 'veth') && l.name === IFNAMES.hostVeth.of(ep.id);
}

/** Same for the host end of a runtime-placed pair. */
export function ownRuntimeVeth(l: LinkInfo): boolean {
  if (ownedBy(l, runtimeVethMark(l.name))) return true;
  return legacy(l, 'veth') && IFNAMES.runtimeHostVeth.pattern.test(l.name);
}

/** The host end an endpoint's record names is the driver's to touch (by placement). */
export const ownEndpointLink = (ep: EndpointRecord, l: LinkInfo): boolean =>
  ep.placement === 'runtime' ? ownRuntimeVeth(l) : ownVeth(ep, l);

/**
 * Whether a host link is a leftover of the bridge driver's: made by weft (its group), of a kind
 * the driver makes, and wanted by no record — its mark names a network, endpoint or runtime
 * pair that no longer exists, or (made, then weft stopped before naming it) no record wants its
 * name. A link without weft's mark is never a leftover, however weft-like its name.
 */
export function orphanBridgeLink(l: LinkInfo, model: ModelView): boolean {
  if (!isWeftLink(l) || (l.kind !== 'bridge' && l.kind !== 'veth')) return false;
  const mark = parseMark(l.alias);
  if (mark?.kind === 'network') return !model.networks.some((n) => n.id === mark.id);
  if (mark?.kind === 'endpoint') return !model.endpoints.some((e) => e.id === mark.id);
  const wantedVeth = (name: string): boolean =>
    model.runtimePeers.some((p) => p.hostIfname === name) ||
    model.endpoints.some((e) => (e.hostIfname ?? IFNAMES.hostVeth.of(e.id)) === name);
  if (mark?.kind === 'runtime-veth') return !wantedVeth(mark.id);
  if (mark !== undefined) return false;
  return !wantedVeth(l.name) && !model.networks.some((n) => n.driverState.bridgeName === l.name);
}
