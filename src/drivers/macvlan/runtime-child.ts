/**
 * The macvlan driver's runtime-placed endpoints (Docker's Join). Docker creates the container's
 * namespace only when the container starts, after Join has replied, and then moves the
 * interface Join named into it (libnetwork's own macvlan driver works the same way). So the
 * child is made in the host's namespace under a temporary name (`wfr…`), on the network's
 * parent, in the network's mode; there is no host end. Once Docker moved it, the endpoint is
 * adopted and the child belongs to Docker; a child Docker never took is swept by
 * macvlan.no-orphans.
 */
import type { DriverContext, NetworkContext, RuntimePeer, RuntimePlacement } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import type { MacvlanMode } from './macvlan-options.js';
import { ConflictError } from '../../errors.js';
import { IFNAMES } from '../ifnames.js';
import { liveParent } from '../underlay/parent-link.js';
import { ownerAlias } from '../underlay/owner-alias.js';
import { quietIpv6 } from '../quiet-ipv6.js';

/** Docker sets the interface's MAC itself: on a passthru child that would change the parent's. */
function refuse(net: NetworkRecord): string | undefined {
  return net.driverState.mode === 'passthru'
    ? "macvlan passthru: Docker sets the container interface's MAC itself, and on a passthru child that changes the parent's MAC"
    : undefined;
}

/** Ensure the child exists in the host's namespace (a retried Join finds it). */
async function preparePeer(c: NetworkContext, peer: RuntimePeer): Promise<void> {
  const rt = c.kernel.host();
  const cur = rt.link(peer.peerName);
  if (cur) {
    if (cur.kind !== 'macvlan') throw new ConflictError('SrcName', `interface ${peer.peerName} exists and is not a macvlan`);
    return;
  }
  const parent = liveParent(rt, c.network);
  const mode = c.network.driverState.mode as MacvlanMode;
  const l = rt.createMacvlan({ name: peer.peerName, parent: parent.index, mode, mac: peer.mac, up: false })!;
  try {
    rt.setLink(l.index, { alias: ownerAlias('runtime-child', c.network.id) });
    quietIpv6(() => rt.setLink(l.index, { ipv6AddrGenNone: true }));
  } catch (err) {
    try {
      rt.deleteLink(l.index, { ignoreMissing: true });
    } catch (undo) {
      throw new AggregateError([err, undo], `runtime child ${peer.peerName}: set-up failed and so did its removal`);
    }
    throw err;
  }
}

/** The child Docker moved into the namespace, found by MAC (its name is Docker's choice). */
async function locatePeer(c: DriverContext, netnsPath: string, peer: RuntimePeer): Promise<string | undefined> {
  const inner = await c.kernel.inNetns(netnsPath);
  return inner.links().find((l) => l.mac?.toLowerCase() === peer.mac.toLowerCase() && l.kind === 'macvlan')?.name;
}

/** Delete the child if it still waits in the host namespace (once moved, leave removed it). */
async function releasePeer(c: DriverContext, peer: RuntimePeer): Promise<void> {
  const rt = c.kernel.host();
  const l = rt.link(peer.peerName);
  if (l?.kind === 'macvlan') rt.deleteLink(l.index, { ignoreMissing: true });
}

export const macvlanRuntimePlacement: RuntimePlacement = {
  names: { peer: IFNAMES.macvlanRuntimeChild },
  refuse,
  preparePeer,
  locatePeer,
  releasePeer,
};
