/**
 * What the bridge driver keeps true, each with a check (read-only, one sentence per
 * violation) and a repair. `weft doctor` runs the checks; reconcile (start, drift events, the
 * periodic pass) runs each check and, where it fails, the repair. Repairs ensure and never
 * re-create what exists, so traffic through a healthy bridge or veth is never interrupted, and
 * they touch only links weft marked as its own (bridge-ownership.ts): a foreign link under a
 * name weft wants is reported, never modified, and never counted as a leftover.
 */
import type { Driver, DriverInvariants, EndpointContext, HostContext, Invariant, NetworkContext } from '../driver.js';
import { bridgeNameOf, gatewayCidrs } from './bridge-options.js';
import { isAdopted, orphanBridgeLink, ownBridge, ownEndpointLink } from './bridge-ownership.js';

const netLabel = (c: NetworkContext): string => `network ${c.network.name}`;
const epLabel = (c: EndpointContext): string => `endpoint ${c.sandbox.name}/${c.network.name}`;

const device = (repair: (c: NetworkContext) => Promise<void>): Invariant<NetworkContext> => ({
  id: 'bridge.device',
  holds: "the network's bridge exists and is a Linux bridge",
  async check(c) {
    const name = bridgeNameOf(c.network);
    const br = c.kernel.host().link(name);
    const adopted = isAdopted(c.network);
    if (!br) return [`${netLabel(c)}: ${adopted ? 'adopted ' : ''}bridge ${name} is missing`];
    if (br.kind !== 'bridge') return [`${netLabel(c)}: ${name} is not a bridge`];
    return adopted || ownBridge(c.network, br) ? [] : [`${netLabel(c)}: ${name} exists but is not weft's; weft will not touch it`];
  },
  repair,
});

const state = (repair: (c: NetworkContext) => Promise<void>): Invariant<NetworkContext> => ({
  id: 'bridge.state',
  holds: 'the bridge is up, with the MAC derived from the network id (unless adopted), and IPv6 enabled on it when the network has IPv6',
  async check(c) {
    const name = bridgeNameOf(c.network);
    const br = c.kernel.host().link(name);
    const adopted = isAdopted(c.network);
    // A foreign link is the device invariant's to report; its state is not weft's business.
    if (!br || br.kind !== 'bridge' || (!adopted && !ownBridge(c.network, br))) return [];
    const problems: string[] = [];
    if (!br.up) problems.push(`${netLabel(c)}: bridge ${name} is down`);
    const mac = c.network.driverState.mac;
    if (!adopted && mac && br.mac !== mac) problems.push(`${netLabel(c)}: bridge ${name} has MAC ${br.mac ?? '?'}, not ${mac}`);
    if (c.network.enableIPv6 && (await c.kernel.readSysctl(undefined, `net.ipv6.conf.${name}.disable_ipv6`)) !== '0')
      problems.push(`${netLabel(c)}: IPv6 is disabled on bridge ${name}`);
    return problems;
  },
  repair,
});

const gateways = (repair: (c: NetworkContext) => Promise<void>): Invariant<NetworkContext> => ({
  id: 'bridge.gateways',
  holds: 'every pool of the network has its gateway address on the bridge',
  async check(c) {
    const name = bridgeNameOf(c.network);
    const rt = c.kernel.host();
    const br = rt.link(name);
    if (!br || br.kind !== 'bridge' || (!isAdopted(c.network) && !ownBridge(c.network, br))) return [];
    const have = new Set(rt.addresses(br.index).map((a) => a.cidr));
    return gatewayCidrs(c.network)
      .filter((cidr) => !have.has(cidr))
      .map((cidr) => `${netLabel(c)}: gateway ${cidr} missing on ${name}`);
  },
  repair,
});

const hostEnd = (repair: (c: EndpointContext) => Promise<void>): Invariant<EndpointContext> => ({
  id: 'bridge.endpoint-host-end',
  holds: "the endpoint's host-side veth exists, is a port of the network's bridge, and is up",
  async check(c) {
    const { endpoint: ep } = c;
    const rt = c.kernel.host();
    const l = ep.hostIfname === undefined ? undefined : rt.link(ep.hostIfname);
    if (!l) return [`${epLabel(c)}: host interface ${ep.hostIfname ?? '(none)'} missing`];
    if (!ownEndpointLink(ep, l)) return [`${epLabel(c)}: ${ep.hostIfname} exists but is not weft's; weft will not touch it`];
    const br = rt.link(bridgeNameOf(c.network));
    const problems: string[] = [];
    if (!br || l.master !== br.index) problems.push(`${epLabel(c)}: ${ep.hostIfname} not on bridge`);
    if (!l.up) problems.push(`${epLabel(c)}: ${ep.hostIfname} is down`);
    return problems;
  },
  repair,
});

/** The sandbox side is weft's only when weft placed it (a runtime-placed one is the runtime's). */
const sandboxEnd = (repair: (c: EndpointContext) => Promise<void>): Invariant<EndpointContext> => ({
  id: 'bridge.endpoint-sandbox-end',
  holds: "the endpoint's interface is in its sandbox with its addresses and, if it gives the default route, that route",
  async check(c) {
    const { network: net, endpoint: ep, sandbox: sb } = c;
    if (ep.placement === 'runtime') return [];
    const inner = await c.kernel.inNetns(sb.netnsPath);
    const link = inner.link(ep.ifname);
    if (!link) return [`${epLabel(c)}: ${ep.ifname} missing in sandbox`];
    const problems: string[] = [];
    const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
    for (const a of [ep.ipv4, ep.ipv6]) if (a && !have.has(a)) problems.push(`${epLabel(c)}: address ${a} missing`);
    if (ep.defaultRoute && !net.internal && ep.gateway4) {
      const def = inner.routes(4).find((r) => r.dst === '0.0.0.0/0' && r.table === 254);
      if (!def || def.gateway !== ep.gateway4) problems.push(`${epLabel(c)}: default route via ${ep.gateway4} missing`);
    }
    return problems;
  },
  repair,
});

/** Links weft made (its mark) for the bridge driver that no record wants: leftovers of a crash. */
function orphanLinks(c: HostContext): { index: number; name: string; alias?: string }[] {
  return c.kernel
    .host()
    .links()
    .filter((l) => orphanBridgeLink(l, c.model));
}

const noOrphans: Invariant<HostContext> = {
  id: 'bridge.no-orphans',
  holds: "every bridge and host-side veth weft made (marked as weft's) belongs to a network, endpoint or pending runtime join",
  async check(c) {
    return orphanLinks(c).map((l) => `link ${l.name} was made by weft (${l.alias ?? 'unnamed'}) but nothing owns it`);
  },
  async repair(c) {
    // Deleting the host end of a veth deletes its other end too, wherever it is.
    for (const l of orphanLinks(c)) c.kernel.host().deleteLink(l.index, { ignoreMissing: true });
  },
};

/**
 * The invariant table of a bridge driver. Repairs are the driver's own ensure operations
 * (networkUp, join): they create what is missing and fix what differs, nothing else.
 */
export function bridgeInvariants(driver: Pick<Driver, 'networkUp' | 'join'>): DriverInvariants {
  const ensureNetwork = (c: NetworkContext): Promise<void> => driver.networkUp(c);
  const ensureEndpoint = (c: EndpointContext): Promise<void> => driver.join(c);
  return {
    network: [device(ensureNetwork), state(ensureNetwork), gateways(ensureNetwork)],
    endpoint: [hostEnd(ensureEndpoint), sandboxEnd(ensureEndpoint)],
    host: [noOrphans],
  };
}
