/**
 * macvlan driver (Docker's `-d macvlan`): sandboxes appear directly on the parent's LAN, each
 * with its own MAC, its address from the LAN's subnet and the LAN's router as gateway. The
 * network owns no bridge and puts no address on the host. Per endpoint, one macvlan child of
 * the parent is created directly in the sandbox's namespace under its final name. See README.md
 * for the kernel objects and the modes.
 */
import type { Driver, DriverContext, EndpointContext, NetworkValidation } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import { ConflictError, KernelError } from '../../errors.js';
import { MACVLAN_MODE } from '../../kernel/netlink/constants.js';
import { macvlanStateOf, parseMacvlanOptions, reserveShimAddresses, type MacvlanMode } from './macvlan-options.js';
import { assertParentFree, parentStateOf } from './parent-spec.js';
import { privateParentName } from './names.js';
import { ensureParent, liveParent, parentProblems, removeOwnedParent } from './parent-link.js';
import { ensureShim, ensureShimRoutes, removeShim, removeShimRoutes, shimProblems, shimRouteProblems } from './host-shim.js';
import { childProblems, configureChild, existingChild, removeChild } from './underlay-child.js';
import { probeLan, sweepProbeLinks } from './lan-probe.js';

const EINVAL = 22;

export class MacvlanDriver implements Driver {
  readonly name = 'macvlan';
  readonly usesIpam = true;
  readonly userCreatable = true;

  validate(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation {
    const o = parseMacvlanOptions(net.options);
    const state = { ...parentStateOf(o.parent, privateParentName(net.id)), ...macvlanStateOf(o) };
    assertParentFree(net, state.parent!, others);
    return { options: net.options, driverState: state, ...(o.hostShim ? { ipam: reserveShimAddresses(net.ipam.config) } : {}) };
  }

  async setup(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    const rt = ctx.kernel.host();
    const { link: parent, created } = ensureParent(rt, net);
    try {
      sweepProbeLinks(rt, net);
      if (net.driverState.hostShim === 'true') await ensureShim(ctx.kernel, net, parent);
    } catch (err) {
      if (created) removeOwnedParent(rt, net);
      throw err;
    }
  }

  async teardown(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    const rt = ctx.kernel.host();
    const errors: unknown[] = [];
    for (const step of [() => removeShim(rt, net), () => sweepProbeLinks(rt, net), () => removeOwnedParent(rt, net)]) {
      try {
        step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `teardown of network ${net.name}: ${errors.length} steps failed`);
  }

  async check(ctx: DriverContext, net: NetworkRecord): Promise<string[]> {
    const rt = ctx.kernel.host();
    const problems = parentProblems(rt, net);
    if (net.driverState.hostShim === 'true') problems.push(...shimProblems(rt, net));
    return problems;
  }

  fixedMac(ctx: DriverContext, net: NetworkRecord): string | undefined {
    // A passthru child takes the parent's MAC whatever it is given; setting another one on it
    // would change the parent's.
    if (net.driverState.mode !== 'passthru') return undefined;
    return liveParent(ctx.kernel.host(), net).mac;
  }

  async addressInUse(ctx: DriverContext, net: NetworkRecord, family: 4 | 6, address: string): Promise<string | undefined> {
    if (net.driverState.probe !== 'true' || family !== 4) return undefined;
    const rt = ctx.kernel.host();
    const parent = liveParent(rt, net);
    try {
      return await probeLan(rt, net, parent, address, Number(net.driverState.probeTimeoutMs));
    } catch (err) {
      // The probe is one more macvlan on the parent: a passthru parent that has its child refuses it.
      throw this.passthruTaken(net, parent.name, err);
    }
  }

  /** The clear error for a second child on a passthru parent (the kernel says only EINVAL). */
  private passthruTaken(net: NetworkRecord, parent: string, err: unknown): unknown {
    if (net.driverState.mode === 'passthru' && err instanceof KernelError && err.errno === EINVAL)
      return new ConflictError(
        'network',
        `network ${net.name} is in passthru mode: its parent ${parent} takes one child only, and has one`,
      );
    return err;
  }

  async setupEndpoint(ctx: EndpointContext): Promise<void> {
    const { network: net, endpoint: ep, sandbox: sb } = ctx;
    const rt = ctx.kernel.host();
    const parent = liveParent(rt, net);
    const inner = await ctx.kernel.inNetns(sb.netnsPath);
    const mode = net.driverState.mode as MacvlanMode;
    let created = false;
    try {
      if (!existingChild(inner, ctx, 'macvlan')) {
        const nsFd = await ctx.kernel.netnsFd(sb.netnsPath);
        try {
          rt.createMacvlan({
            name: ep.ifname,
            parent: parent.index,
            mode,
            netnsFd: nsFd,
            up: false,
            ...(mode !== 'passthru' && ep.macAddress ? { mac: ep.macAddress } : {}),
          });
        } catch (err) {
          throw this.passthruTaken(net, parent.name, err);
        }
        created = true;
      }
      const probe = net.driverState.probe === 'true';
      await configureChild(inner, ctx, probe ? { dadTimeoutMs: Number(net.driverState.probeTimeoutMs) } : {});
      if (net.driverState.hostShim === 'true') ensureShimRoutes(rt, net, ep);
    } catch (err) {
      if (created) {
        try {
          inner.deleteLink(ep.ifname, { ignoreMissing: true });
        } catch (undo) {
          throw new AggregateError([err, undo], `join of ${sb.name} to ${net.name} failed and its rollback too`);
        }
      }
      throw err;
    }
  }

  async teardownEndpoint(ctx: EndpointContext): Promise<void> {
    const errors: unknown[] = [];
    if (ctx.network.driverState.hostShim === 'true') {
      try {
        removeShimRoutes(ctx.kernel.host(), ctx.network, ctx.endpoint);
      } catch (err) {
        errors.push(err);
      }
    }
    await removeChild(ctx, 'macvlan').catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw errors.length === 1 ? errors[0] : new AggregateError(errors, 'endpoint teardown failed');
  }

  async checkEndpoint(ctx: EndpointContext): Promise<string[]> {
    const { network: net, endpoint: ep, sandbox: sb } = ctx;
    const problems = await childProblems(ctx, 'macvlan');
    const inner = await ctx.kernel.inNetns(sb.netnsPath);
    const link = inner.link(ep.ifname);
    const want = MACVLAN_MODE[net.driverState.mode as MacvlanMode];
    if (link?.kind === 'macvlan' && link.macvlanMode !== undefined && link.macvlanMode !== want)
      problems.push(`endpoint ${sb.name}/${net.name}: ${ep.ifname} is not in ${net.driverState.mode} mode`);
    if (net.driverState.hostShim === 'true') problems.push(...shimRouteProblems(ctx.kernel.host(), net, ep, `${sb.name}/${net.name}`));
    return problems;
  }
}
