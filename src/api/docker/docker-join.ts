/**
 * Join as Docker needs it. Docker creates the container's namespace only when the container
 * starts — after Join has replied — and then moves the interface Join named into it. So Join
 * makes the veth pair in the host namespace (host end on the bridge, container end `wfc…`
 * for Docker to move), and the weft sandbox and endpoint are recorded once the namespace
 * exists and holds the interface ("adoption", polled, resumed after a weftd restart).
 */
import type { Rtnl } from '../../kernel/netlink/rtnl.js';
import type { KernelPort } from '../../kernel/kernel-port.js';
import type { NetworkRecord } from '../../model/types.js';
import { KernelError } from '../../errors.js';
import { claimLink, createOwnedVeth, foreignLinkError, isWeftLink, ownedBy, ownerMark } from '../../drivers/link-ownership.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';

/** Host end of a Docker endpoint's veth: not `wfv…`, so weft's orphan sweep leaves it to us. */
export const dockerHostIfname = (dockerEndpointId: string): string => `wfd${dockerEndpointId.slice(0, 12)}`;
/** Container end, until Docker renames it inside the container. */
export const dockerSrcName = (dockerEndpointId: string): string => `wfc${dockerEndpointId.slice(0, 12)}`;

/** The owner mark on a Docker endpoint's host-side veth (named after the link: Join knows no weft ids). */
export const dockerVethMark = (hostIf: string): string => ownerMark('docker-veth', hostIf);

/** Whether a host link is the Docker veth weft made under that name (or one from before marks). */
export function ownDockerVeth(l: LinkInfo): boolean {
  if (ownedBy(l, dockerVethMark(l.name))) return true;
  return !isWeftLink(l) && l.alias === undefined && l.kind === 'veth' && /^wfd[0-9a-f]{12}$/.test(l.name);
}

/** Ensure the pair exists in the host namespace (idempotent: a retried Join finds it). */
export function ensureDockerVeth(kernel: KernelPort, net: NetworkRecord, hostIf: string, srcName: string, mac: string): void {
  const rt = kernel.host();
  const br = rt.link(net.driverState.bridgeName!);
  if (!br) throw new KernelError('docker join', `bridge ${net.driverState.bridgeName} of network ${net.name} does not exist`);
  const l = rt.link(hostIf);
  if (l) {
    // A retried Join finds its own veth; a link weft did not make under that name is refused.
    if (!ownDockerVeth(l)) throw foreignLinkError('EndpointID', l);
    claimLink(rt, l, dockerVethMark(hostIf));
    if (l.master !== br.index || !l.up) rt.setLink(l.index, { master: br.index, up: true });
    return;
  }
  createOwnedVeth(
    rt,
    { name: hostIf, peerName: srcName, mtu: Number(net.driverState.mtu), peerMac: mac, master: br.index, up: true },
    dockerVethMark(hostIf),
  );
}

/** The interface Docker put into the container for us, found by MAC (its name is Docker's choice). */
export function findMovedInterface(inner: Rtnl, mac: string): string | undefined {
  return inner.links().find((l) => l.mac?.toLowerCase() === mac.toLowerCase() && l.kind === 'veth')?.name;
}
