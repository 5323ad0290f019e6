/**
 * ipvlan driver (Docker's `-d ipvlan`): like macvlan, children of a parent created directly in
 * each sandbox's namespace, but every child shares the parent's MAC and the parent demultiplexes
 * by IP address. L2 mode: children ARP on the LAN and route via the LAN's gateway. L3/L3S: no
 * broadcast domain; the parent routes, and the children's default route is the interface itself.
 * The kernel's support is detected before anything is created: a kernel without ipvlan (this
 * project's machine) refuses the network with a KernelUnsupportedError naming the module.
 */
import type { Driver, DriverContext, EndpointContext, NetworkValidation } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import { requireLinkKind, translateLinkKindError } from '../../kernel/link-support.js';
import { parseIpvlanOptions, type IpvlanFlag, type IpvlanMode } from './ipvlan-options.js';
import { assertParentFree, parentStateOf } from '../macvlan/parent-spec.js';
import { privateParentName } from '../macvlan/names.js';
import { ensureParent, liveParent, parentProblems, removeOwnedParent } from '../macvlan/parent-link.js';
import { childProblems, configureChild, existingChild, removeChild } from '../macvlan/underlay-child.js';

export class IpvlanDriver implements Driver {
  readonly name = 'ipvlan';
  readonly usesIpam = true;
  readonly userCreatable = true;

  validate(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation {
    const o = parseIpvlanOptions(net.options);
    const state: Record<string, string> = { ...parentStateOf(o.parent, privateParentName(net.id)), mode: o.mode, flag: o.flag };
    assertParentFree(net, state.parent!, others);
    return { options: net.options, driverState: state };
  }

  private l3(net: NetworkRecord): boolean {
    return net.driverState.mode !== 'l2';
  }

  async setup(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    // Asked first, in a scratch namespace: on a kernel without ipvlan nothing is created here.
    await requireLinkKind('ipvlan');
    ensureParent(ctx.kernel.host(), net);
  }

  async teardown(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    removeOwnedParent(ctx.kernel.host(), net);
  }

  async check(ctx: DriverContext, net: NetworkRecord): Promise<string[]> {
    return parentProblems(ctx.kernel.host(), net);
  }

  fixedMac(ctx: DriverContext, net: NetworkRecord): string | undefined {
    return liveParent(ctx.kernel.host(), net).mac;
  }

  async setupEndpoint(ctx: EndpointContext): Promise<void> {
    const { network: net, endpoint: ep, sandbox: sb } = ctx;
    const rt = ctx.kernel.host();
    const parent = liveParent(rt, net);
    const inner = await ctx.kernel.inNetns(sb.netnsPath);
    let created = false;
    try {
      if (!existingChild(inner, ctx, 'ipvlan')) {
        try {
          rt.createIpvlan({
            name: ep.ifname,
            parent: parent.index,
            mode: net.driverState.mode as IpvlanMode,
            flag: net.driverState.flag as IpvlanFlag,
            netnsFd: await ctx.kernel.netnsFd(sb.netnsPath),
            up: false,
          });
        } catch (err) {
          throw translateLinkKindError('ipvlan', err);
        }
        created = true;
      }
      await configureChild(inner, ctx, { defaultViaDevice: this.l3(net) });
    } catch (err) {
      if (created) inner.deleteLink(ep.ifname, { ignoreMissing: true });
      throw err;
    }
  }

  async teardownEndpoint(ctx: EndpointContext): Promise<void> {
    await removeChild(ctx, 'ipvlan');
  }

  async checkEndpoint(ctx: EndpointContext): Promise<string[]> {
    return childProblems(ctx, 'ipvlan', { defaultViaDevice: this.l3(ctx.network) });
  }
}
