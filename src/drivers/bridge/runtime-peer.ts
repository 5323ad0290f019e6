/**
 * The bridge driver's runtime-placed endpoints (Docker's Join). Docker creates the container's
 * namespace only when the container starts — after Join has replied — and then moves the
 * interface Join named into it. So the pair is made in the host namespace (host end `wfd…` on
 * the bridge, other end `wfc…` for the runtime to move and rename); the endpoint is recorded
 * once the namespace exists and holds the interface, and from then on weft keeps only the host
 * side: the runtime owns the container side's name, addresses and routes.
 */
import type { DriverContext, EndpointContext, NetworkContext, RuntimePeer, RuntimePlacement } from '../driver.js';
import { KernelError } from '../../errors.js';
import { bridgeNameOf } from './bridge-options.js';
import { claimLink, createOwnedVeth, foreignLinkError } from '../link-ownership.js';
import { ownRuntimeVeth, runtimeVethMark } from './bridge-ownership.js';

/** Ensure the pair exists in the host namespace (idempotent: a retried Join finds it). */
async function preparePeer(c: NetworkContext, peer: RuntimePeer): Promise<void> {
  const net = c.network;
  const rt = c.kernel.host();
  const br = rt.link(bridgeNameOf(net));
  if (!br) throw new KernelError('runtime join', `bridge ${net.driverState.bridgeName} of network ${net.name} does not exist`);
  const l = rt.link(peer.hostIfname);
  if (l) {
    // A retried Join finds its own pair; a link weft did not make under that name is refused.
    if (!ownRuntimeVeth(l)) throw foreignLinkError('EndpointID', l);
    claimLink(rt, l, runtimeVethMark(peer.hostIfname));
    if (l.master !== br.index || !l.up) rt.setLink(l.index, { master: br.index, up: true });
    return;
  }
  createOwnedVeth(
    rt,
    { name: peer.hostIfname, peerName: peer.peerName, mtu: Number(net.driverState.mtu), peerMac: peer.mac, master: br.index, up: true },
    runtimeVethMark(peer.hostIfname),
  );
}

/** The interface the runtime put into the namespace for us, found by MAC (its name is the runtime's choice). */
async function locatePeer(c: DriverContext, netnsPath: string, peer: RuntimePeer): Promise<string | undefined> {
  const inner = await c.kernel.inNetns(netnsPath);
  return inner.links().find((l) => l.mac?.toLowerCase() === peer.mac.toLowerCase() && l.kind === 'veth')?.name;
}

/** Only the pair weft made under that name; a foreign link there is left alone. */
async function releasePeer(c: DriverContext, peer: RuntimePeer): Promise<void> {
  const rt = c.kernel.host();
  const l = rt.link(peer.hostIfname);
  if (l && ownRuntimeVeth(l)) rt.deleteLink(l.index, { ignoreMissing: true });
}

export const bridgeRuntimePlacement: RuntimePlacement = { preparePeer, locatePeer, releasePeer };

/**
 * join() of an adopted runtime endpoint: the host end back on the bridge and up. A missing host
 * end means the container's interface went with it — nothing weft can re-create for the
 * runtime, which the endpoint invariant reports.
 */
export async function ensureHostEndOnBridge(c: EndpointContext): Promise<void> {
  const { network: net, endpoint: ep } = c;
  const rt = c.kernel.host();
  const br = rt.link(bridgeNameOf(net));
  if (!br) throw new KernelError('runtime join', `bridge ${net.driverState.bridgeName} of network ${net.name} does not exist`);
  const existing = ep.hostIfname === undefined ? undefined : rt.link(ep.hostIfname);
  if (existing && ownRuntimeVeth(existing) && (existing.master !== br.index || !existing.up))
    rt.setLink(existing.index, { master: br.index, up: true });
}
