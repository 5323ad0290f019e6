/**
 * ipvlan driver (Docker's `-d ipvlan`): like macvlan, children of a parent created directly in
 * each sandbox's namespace, but every child shares the parent's MAC and the parent demultiplexes
 * by IP address. L2 mode: children ARP on the LAN and route via the LAN's gateway. L3/L3S: no
 * broadcast domain; the parent routes, and the children's default route is the interface itself.
 * The kernel's support is detected before anything is created: a kernel without ipvlan (this
 * project's machine) refuses the network with a KernelUnsupportedError naming the module.
 */
import type { Driver, DriverInvariants, EndpointContext, NetworkContext, NetworkValidation } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import { IFNAMES } from '../ifnames.js';
import { parseIpvlanOptions, type IpvlanFlag, type IpvlanMode } from './ipvlan-options.js';
import { assertParentFree, parentStateOf } from '../underlay/parent-spec.js';
import { ensureParent, liveParent, removeOwnedParent } from '../underlay/parent-link.js';
import { configureChild, existingChild, removeChild, undoChild } from '../underlay/underlay-child.js';
import { childInvariant, noOrphansInvariant, parentInvariant } from '../underlay/underlay-invariants.js';

const l3 = (net: NetworkRecord): boolean => net.driverState.mode !== 'l2';

export class IpvlanDriver implements Driver {
  readonly name = 'ipvlan';
  readonly scope = 'local';
  readonly usesIpam = true;
  readonly userCreatable = true;
  readonly ownedNames = [IFNAMES.ipvlanParent];
  readonly invariants: DriverInvariants = {
    network: [parentInvariant('ipvlan', (c) => this.networkUp(c))],
    endpoint: [childInvariant('ipvlan', { defaultViaDevice: (c) => l3(c.network) }, (c) => this.join(c))],
    host: [
      noOrphansInvariant('ipvlan', 'every private parent of an ipvlan network (wfi…) belongs to a network', [
        {
          scheme: IFNAMES.ipvlanParent,
          kind: 'bridge',
          wanted: (m) => new Set(m.networks.filter((n) => n.driver === 'ipvlan').map((n) => n.driverState.parent ?? '')),
        },
      ]),
    ],
  };

  validate(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation {
    const o = parseIpvlanOptions(net.options);
    const state: Record<string, string> = { ...parentStateOf(o.parent, IFNAMES.ipvlanParent.of(net.id)), mode: o.mode, flag: o.flag };
    assertParentFree(net, state.parent!, others);
    return { options: net.options, driverState: state };
  }

  async networkUp(c: NetworkContext): Promise<void> {
    // Asked first, in a scratch namespace: on a kernel without ipvlan nothing is created here.
    await c.kernel.requireLinkKind('ipvlan');
    ensureParent(c.kernel.host(), c.network);
  }

  async networkDown(c: NetworkContext): Promise<void> {
    removeOwnedParent(c.kernel.host(), c.network);
  }

  /** Every ipvlan child has its parent's MAC. */
  fixedMac(c: NetworkContext): string | undefined {
    return liveParent(c.kernel.host(), c.network).mac;
  }

  async join(c: EndpointContext): Promise<void> {
    const { network: net, endpoint: ep, sandbox: sb } = c;
    const rt = c.kernel.host();
    const parent = liveParent(rt, net);
    const inner = await c.kernel.inNetns(sb.netnsPath);
    let created = false;
    try {
      if (!existingChild(inner, c, 'ipvlan')) {
        // A kernel without ipvlan refuses with KernelUnsupportedError.
        rt.createIpvlan({
          name: ep.ifname,
          parent: parent.index,
          mode: net.driverState.mode as IpvlanMode,
          flag: net.driverState.flag as IpvlanFlag,
          netnsFd: await c.kernel.netnsFd(sb.netnsPath),
          up: false,
        });
        created = true;
      }
      await configureChild(inner, c, { defaultViaDevice: l3(net) });
    } catch (err) {
      if (!created) throw err;
      throw await undoChild(inner, c, err);
    }
  }

  async leave(c: EndpointContext): Promise<void> {
    await removeChild(c, 'ipvlan');
  }
}
