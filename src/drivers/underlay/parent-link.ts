/**
 * The parent of a macvlan/ipvlan network in the host's namespace. A parent the user named is
 * only ever read: weft checks it exists and is up and never changes or deletes it (the kernel
 * itself puts it in promiscuous mode for passthru, as with Docker). What weft creates — an
 * 802.1q sub-interface for "eth0.10", or a private bridge for a network without a parent —
 * carries weft's alias and is removed with the network.
 */
import type { NetlinkPort } from '../../kernel/kernel-port.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import type { NetworkRecord } from '../../model/types.js';
import { ConflictError, InvalidArgumentError, KernelError } from '../../errors.js';
import { isOwned, ownerAlias, type OwnedRole } from './owner-alias.js';
import { quietIpv6 } from '../quiet-ipv6.js';

const roleOf = (net: NetworkRecord): OwnedRole => (net.driverState.parentKind === 'private' ? 'private-parent' : 'vlan-parent');

/** Mark a link weft just created as its own, keep it quiet (no IPv6 link-local) and bring it up. */
function adopt(rt: NetlinkPort, link: LinkInfo, role: OwnedRole, net: NetworkRecord): void {
  rt.setLink(link.index, { alias: ownerAlias(role, net.id) });
  quietIpv6(() => rt.setLink(link.index, { ipv6AddrGenNone: true }));
  rt.setLink(link.index, { up: true });
}

/** Create the network's private parent or 802.1q sub-interface; the caller has checked it is absent. */
function createOwnedParent(rt: NetlinkPort, net: NetworkRecord): LinkInfo {
  const s = net.driverState;
  const name = s.parent!;
  let link: LinkInfo;
  if (s.parentKind === 'private') {
    link = rt.createBridge({ name, up: false });
  } else {
    if (!s.vlanBase || !s.vlanId)
      throw new InvalidArgumentError(
        'parent',
        `interface ${name} does not exist (and "${name}" is not BASE.VLAN_ID, so weft cannot create it)`,
      );
    const base = rt.link(s.vlanBase);
    if (!base) throw new InvalidArgumentError('parent', `interface ${name} does not exist, nor does its base interface ${s.vlanBase}`);
    if (!base.up) throw new InvalidArgumentError('parent', `base interface ${s.vlanBase} of ${name} is down; bring it up first`);
    // A kernel without 802.1q refuses with KernelUnsupportedError.
    link = rt.createVlan({ name, parent: base.index, vlanId: Number(s.vlanId), up: false });
  }
  try {
    adopt(rt, link, roleOf(net), net);
  } catch (err) {
    try {
      rt.deleteLink(link.index, { ignoreMissing: true });
    } catch (undo) {
      throw new AggregateError([err, undo], `parent ${name} of network ${net.name}: set-up failed and so did its removal`);
    }
    throw err;
  }
  return rt.link(link.index) ?? link;
}

/**
 * The parent link, ready for children: an owned one is (re-)created if missing; a given one
 * must exist and be up. `created` says whether this call made it (for the caller's rollback).
 */
export function ensureParent(rt: NetlinkPort, net: NetworkRecord): { link: LinkInfo; created: boolean } {
  const name = net.driverState.parent!;
  const cur = rt.link(name);
  if (!cur) {
    if (net.driverState.parentKind !== 'private' && !net.driverState.vlanBase)
      throw new InvalidArgumentError('parent', `parent interface ${name} does not exist in the host's namespace`);
    return { link: createOwnedParent(rt, net), created: true };
  }
  const owned = isOwned(cur.alias, roleOf(net), net.id);
  if (net.driverState.parentKind === 'private' && !owned) {
    // A bridge under this network's own name and no alias: weft made it and died before marking it.
    if (cur.alias === undefined && cur.kind === 'bridge') {
      adopt(rt, cur, 'private-parent', net);
      return { link: rt.link(cur.index) ?? cur, created: false };
    }
    throw new ConflictError('parent', `interface ${name} exists but was not made by weft for network ${net.name}`);
  }
  if (!cur.up) {
    // Only weft's own parent is brought up; a given one is the user's to manage.
    if (!owned)
      throw new InvalidArgumentError(
        'parent',
        `parent interface ${name} is down; weft does not change interfaces it does not own — bring it up first`,
      );
    rt.setLink(cur.index, { up: true });
    return { link: rt.link(cur.index) ?? cur, created: false };
  }
  return { link: cur, created: false };
}

/** The parent as it is now, for endpoints: exists and up, or a clear error. */
export function liveParent(rt: NetlinkPort, net: NetworkRecord): LinkInfo {
  const p = rt.link(net.driverState.parent!);
  if (!p) throw new KernelError('endpoint join', `parent interface ${net.driverState.parent} of network ${net.name} does not exist`);
  if (!p.up) throw new KernelError('endpoint join', `parent interface ${net.driverState.parent} of network ${net.name} is down`);
  return p;
}

/** Delete the parent only if weft made it for this network (its alias says so). */
export function removeOwnedParent(rt: NetlinkPort, net: NetworkRecord): void {
  const cur = rt.link(net.driverState.parent!);
  if (cur && isOwned(cur.alias, roleOf(net), net.id)) rt.deleteLink(cur.index, { ignoreMissing: true });
}

export function parentProblems(rt: NetlinkPort, net: NetworkRecord): string[] {
  const name = net.driverState.parent!;
  const p = rt.link(name);
  if (!p) return [`network ${net.name}: parent interface ${name} is missing`];
  return p.up ? [] : [`network ${net.name}: parent interface ${name} is down`];
}
