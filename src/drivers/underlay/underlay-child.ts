/**
 * The sandbox side of a macvlan or ipvlan endpoint (shared by both drivers): the child link is
 * created by the driver directly inside the sandbox's namespace under its final name; here it
 * gets its addresses, comes up, and takes the default route via the LAN's gateway. Re-running
 * it on a healthy endpoint changes nothing (resync and Docker adoption rely on that).
 */
import type { EndpointContext } from '../driver.js';
import type { NetlinkPort } from '../../kernel/kernel-port.js';
import type { LinkInfo } from '../../kernel/netlink/types.js';
import { AddressInUseError, ConflictError, ErrorList, KernelError } from '../../errors.js';
import { quietIpv6 } from '../quiet-ipv6.js';

export type ChildKind = 'macvlan' | 'ipvlan';

/** The sandbox's interface of this endpoint if it is a child of the right kind; refuses someone else's. */
export function existingChild(inner: NetlinkPort, ctx: EndpointContext, kind: ChildKind): LinkInfo | undefined {
  const l = inner.link(ctx.endpoint.ifname);
  if (l && l.kind !== kind)
    throw new ConflictError(
      'ifname',
      `sandbox ${ctx.sandbox.name} already has an interface ${ctx.endpoint.ifname} (${l.kind ?? 'device'}) that is not a ${kind} of network ${ctx.network.name}`,
    );
  return l;
}

/**
 * Addresses, link up, default route. With `dadTimeoutMs`, an IPv6 address goes through the
 * kernel's duplicate address detection and a duplicate is refused (the probe option).
 */
export async function configureChild(
  inner: NetlinkPort,
  ctx: EndpointContext,
  o: {
    dadTimeoutMs?: number;
    /** Default route straight through the interface, no gateway (ipvlan L3: the parent routes). */
    defaultViaDevice?: boolean;
  } = {},
): Promise<void> {
  const { network: net, endpoint: ep, sandbox: sb } = ctx;
  const link = inner.link(ep.ifname);
  if (!link) throw new KernelError('endpoint join', `interface ${ep.ifname} did not appear in sandbox ${sb.name}`);
  const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
  if (ep.ipv4 && !have.has(ep.ipv4)) inner.addAddress(link.index, ep.ipv4);
  const dad = o.dadTimeoutMs !== undefined && ep.ipv6 !== undefined && !have.has(ep.ipv6);
  if (ep.ipv6 && !have.has(ep.ipv6)) inner.addAddress(link.index, ep.ipv6, { nodad: !dad });
  if (!link.up) {
    // An IPv4-only endpoint needs no link-local address, nor the multicast it would send.
    if (!ep.ipv6) quietIpv6(() => inner.setLink(link.index, { ipv6AddrGenNone: true }));
    inner.setLink(link.index, { up: true });
  }
  if (dad && (await ctx.kernel.waitForDad(sb.netnsPath, link.index, ep.ipv6!, o.dadTimeoutMs! + 2000)) === 'duplicate')
    throw new AddressInUseError(`${ep.ipv6!.split('/')[0]} (another host on the LAN failed IPv6 duplicate address detection for it)`);
  if (ep.defaultRoute && !net.internal) {
    // Read before writing: a resync must not rewrite (and re-announce) a route that is fine.
    const hasDefault = (fam: 4 | 6, gw: string | undefined): boolean =>
      inner.routes(fam, 254).some((r) => (r.dst === '0.0.0.0/0' || r.dst === '::/0') && r.gateway === gw && r.oif === link.index);
    for (const [fam, addr, gateway] of [
      [4, ep.ipv4, ep.gateway4],
      [6, ep.ipv6, ep.gateway6],
    ] as const) {
      if (!addr || (!gateway && !o.defaultViaDevice)) continue;
      const gw = o.defaultViaDevice ? undefined : gateway;
      if (!hasDefault(fam, gw))
        inner.addRoute({ dst: fam === 4 ? '0.0.0.0/0' : '::/0', oif: link.index, ...(gw ? { gateway: gw } : {}) }, { replace: true });
    }
  }
}

/**
 * A join failed after it made the child: delete the child (what that call made; the controller
 * undoes the rest) and return the error to throw, the failure first and a failed removal beside it.
 */
export async function undoChild(inner: NetlinkPort, ctx: EndpointContext, err: unknown): Promise<unknown> {
  const undo = new ErrorList(`join of ${ctx.sandbox.name} to ${ctx.network.name} failed and its rollback too`);
  undo.add(err);
  await undo.run(() => inner.deleteLink(ctx.endpoint.ifname, { ignoreMissing: true }));
  return undo.combined();
}

/**
 * Delete the endpoint's child in the sandbox (only a link of our kind under the endpoint's
 * name). A namespace that is gone took its children with it: nothing to do.
 */
export async function removeChild(ctx: EndpointContext, kind: ChildKind): Promise<void> {
  const { sandbox: sb, endpoint: ep } = ctx;
  if (ctx.kernel.netnsInode(sb.netnsPath) === undefined) return;
  const inner = await ctx.kernel.inNetns(sb.netnsPath);
  const l = inner.link(ep.ifname);
  if (l && l.kind === kind) inner.deleteLink(l.index, { ignoreMissing: true });
}

/** What is wrong with the child (empty = healthy). */
export async function childProblems(ctx: EndpointContext, kind: ChildKind, o: { defaultViaDevice?: boolean } = {}): Promise<string[]> {
  const { network: net, endpoint: ep, sandbox: sb } = ctx;
  const who = `endpoint ${sb.name}/${net.name}`;
  const inner = await ctx.kernel.inNetns(sb.netnsPath);
  const link = inner.link(ep.ifname);
  if (!link) return [`${who}: ${ep.ifname} missing in sandbox`];
  const problems: string[] = [];
  if (link.kind !== kind) problems.push(`${who}: ${ep.ifname} is a ${link.kind ?? 'device'}, not a ${kind}`);
  // Reported, not repaired: a child's mode is fixed when it is made, and re-making it would cut traffic.
  const mode = kind === 'macvlan' ? link.macvlanMode : link.ipvlanMode;
  if (link.kind === kind && mode !== undefined && mode !== net.driverState.mode)
    problems.push(`${who}: ${ep.ifname} is in ${kind} mode ${mode}, not ${net.driverState.mode}`);
  if (!link.up) problems.push(`${who}: ${ep.ifname} is down`);
  const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
  for (const a of [ep.ipv4, ep.ipv6]) if (a && !have.has(a)) problems.push(`${who}: address ${a} missing`);
  if (ep.defaultRoute && !net.internal && ep.ipv4 && ep.gateway4) {
    const def = inner.routes(4, 254).find((r) => r.dst === '0.0.0.0/0');
    const want = o.defaultViaDevice ? undefined : ep.gateway4;
    if (!def || def.gateway !== want || def.oif !== link.index)
      problems.push(`${who}: default route ${want ? `via ${want}` : `dev ${ep.ifname}`} missing`);
  }
  return problems;
}
