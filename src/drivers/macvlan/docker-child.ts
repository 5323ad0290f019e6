/**
 * Docker's Join for a macvlan network. Docker creates the container's namespace only when the
 * container starts, after Join has answered, and then moves the interface Join named into it
 * (libnetwork's own macvlan driver works the same way). So the child is made in the host's
 * namespace under a temporary name, on the network's parent, in the network's mode; weft's
 * endpoint is recorded once Docker has moved it (adoption, in api/docker), and from then on
 * this driver's idempotent setupEndpoint finds it in place.
 */
import type { KernelPort } from '../../kernel/kernel-port.js';
import type { NetworkRecord } from '../../model/types.js';
import { InvalidArgumentError } from '../../errors.js';
import { liveParent, quietIpv6 } from './parent-link.js';
import type { MacvlanMode } from './macvlan-options.js';

/** Whether Docker's plugin can drive a network of this driver, or why not. */
export function dockerRefusal(driver: string, options: Record<string, string>): string | undefined {
  if (driver === 'ipvlan')
    return "use Docker's built-in ipvlan driver: Docker sets each endpoint's MAC, and ipvlan children share the parent's";
  if (driver === 'macvlan' && options.macvlan_mode === 'passthru')
    return "Docker sets the container interface's MAC itself, and on a passthru child that would change the parent's MAC";
  return undefined;
}

/** Ensure the child `srcName` exists in the host's namespace (a retried Join finds it). Returns its MAC. */
export function ensureDockerChild(kernel: KernelPort, net: NetworkRecord, srcName: string, mac: string): string {
  const rt = kernel.host();
  const cur = rt.link(srcName);
  if (cur) {
    if (cur.kind !== 'macvlan') throw new InvalidArgumentError('SrcName', `interface ${srcName} exists and is not a macvlan`);
    return cur.mac ?? mac;
  }
  const parent = liveParent(rt, net);
  const l = rt.createMacvlan({ name: srcName, parent: parent.index, mode: net.driverState.mode as MacvlanMode, mac, up: false })!;
  quietIpv6(() => rt.setLink(l.index, { ipv6AddrGenNone: true }));
  return l.mac ?? mac;
}
