/**
 * What the routed driver keeps true, each with a read-only check and a repair that is the
 * driver's own ensure (networkUp / join), so doctor and reconcile share one table.
 */
import type { LinkInfo } from '../../kernel/netlink/types.js';
import type { Driver, DriverInvariants, EndpointContext, HostContext, Invariant, NetworkContext } from '../driver.js';
import { IFNAMES } from '../ifnames.js';
import { isWeftLink, parseMark } from '../link-ownership.js';
import { GATEWAY4, HOST_SIDE_MAC, hostRouteOf } from './routed-options.js';

const epLabel = (c: EndpointContext): string => `endpoint ${c.sandbox.name}/${c.network.name}`;
const hostIf = (c: EndpointContext): string => c.endpoint.hostIfname ?? IFNAMES.routedVeth.of(c.endpoint.id);

const forwarding = (repair: (c: NetworkContext) => Promise<void>): Invariant<NetworkContext> => ({
  id: 'routed.forwarding',
  holds: 'the host forwards IPv4 (and IPv6 when the network has it)',
  async check(c) {
    const problems: string[] = [];
    if ((await c.kernel.readSysctl(undefined, 'net.ipv4.ip_forward')) !== '1')
      problems.push(`network ${c.network.name}: IPv4 forwarding is off`);
    if (c.network.enableIPv6 && (await c.kernel.readSysctl(undefined, 'net.ipv6.conf.all.forwarding')) !== '1')
      problems.push(`network ${c.network.name}: IPv6 forwarding is off`);
    return problems;
  },
  repair,
});

const hostEnd = (
  repair: (c: EndpointContext) => Promise<void>,
  owned: (c: EndpointContext, l: LinkInfo) => boolean,
): Invariant<EndpointContext> => ({
  id: 'routed.endpoint-host-end',
  holds:
    "the endpoint's host-side veth exists, is up, has the gateway MAC and proxy ARP, and the host routes the workload's /32 (/128) to it",
  async check(c) {
    const rt = c.kernel.host();
    const name = hostIf(c);
    const l = rt.link(name);
    if (!l) return [`${epLabel(c)}: host interface ${name} missing`];
    // Reported, never repaired: the repair (join) refuses to touch a link weft did not make.
    if (!owned(c, l)) return [`${epLabel(c)}: host interface ${name} exists but is not weft's`];
    const problems: string[] = [];
    if (!l.up) problems.push(`${epLabel(c)}: ${name} is down`);
    if (l.mac !== HOST_SIDE_MAC) problems.push(`${epLabel(c)}: ${name} has MAC ${l.mac ?? '?'}, not ${HOST_SIDE_MAC}`);
    if ((await c.kernel.readSysctl(undefined, `net.ipv4.conf.${name}.proxy_arp`)) !== '1')
      problems.push(`${epLabel(c)}: proxy ARP is off on ${name}`);
    for (const [fam, a] of [
      [4, c.endpoint.ipv4],
      [6, c.endpoint.ipv6],
    ] as const) {
      if (!a) continue;
      const dst = hostRouteOf(a);
      if (!rt.routes(fam, 254).some((r) => r.dst === dst && r.oif === l.index))
        problems.push(`${epLabel(c)}: host route ${dst} dev ${name} missing`);
    }
    return problems;
  },
  repair,
});

const workloadEnd = (repair: (c: EndpointContext) => Promise<void>): Invariant<EndpointContext> => ({
  id: 'routed.endpoint-workload-end',
  holds: "the workload's interface has its /32 (/128) and a route through the on-link gateway 169.254.1.1",
  async check(c) {
    const { endpoint: ep, sandbox: sb } = c;
    const inner = await c.kernel.inNetns(sb.netnsPath);
    const link = inner.link(ep.ifname);
    if (!link) return [`${epLabel(c)}: ${ep.ifname} missing in sandbox`];
    const problems: string[] = [];
    const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
    for (const a of [ep.ipv4, ep.ipv6])
      if (a && !have.has(hostRouteOf(a))) problems.push(`${epLabel(c)}: address ${hostRouteOf(a)} missing`);
    if (ep.ipv4 && !inner.routes(4, 254).some((r) => r.gateway === GATEWAY4 && r.oif === link.index))
      problems.push(`${epLabel(c)}: no route via ${GATEWAY4}`);
    return problems;
  },
  repair,
});

/**
 * Host-side veths the routed driver left behind: weft's mark (group) on a veth of its name
 * scheme whose alias names an endpoint no record has — or, made just before a crash and not
 * yet named, whose name no endpoint wants. A link without weft's mark is never a leftover.
 */
function orphans(c: HostContext): LinkInfo[] {
  const ids = new Set(c.model.endpoints.map((e) => e.id));
  const want = new Set(c.model.endpoints.map((e) => e.hostIfname ?? IFNAMES.routedVeth.of(e.id)));
  return c.kernel
    .host()
    .links()
    .filter((l) => {
      if (!isWeftLink(l) || l.kind !== 'veth' || !IFNAMES.routedVeth.pattern.test(l.name)) return false;
      const mark = parseMark(l.alias);
      if (mark === undefined) return l.alias === undefined && !want.has(l.name);
      return mark.kind === 'endpoint' && !ids.has(mark.id);
    });
}

const noOrphans: Invariant<HostContext> = {
  id: 'routed.no-orphans',
  holds: 'every routed host-side veth (wrv…) weft made belongs to an endpoint',
  async check(c) {
    return orphans(c).map((l) => `link ${l.name} looks like weft's but has no record`);
  },
  async repair(c) {
    for (const l of orphans(c)) c.kernel.host().deleteLink(l.index, { ignoreMissing: true });
  },
};

export function routedInvariants(
  driver: Pick<Driver, 'networkUp' | 'join'>,
  owned: (c: EndpointContext, l: LinkInfo) => boolean,
): DriverInvariants {
  const ensureNetwork = (c: NetworkContext): Promise<void> => driver.networkUp(c);
  const ensureEndpoint = (c: EndpointContext): Promise<void> => driver.join(c);
  return {
    network: [forwarding(ensureNetwork)],
    endpoint: [hostEnd(ensureEndpoint, owned), workloadEnd(ensureEndpoint)],
    host: [noOrphans],
  };
}
