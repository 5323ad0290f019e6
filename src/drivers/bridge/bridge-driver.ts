/**
 * Bridge driver: one Linux bridge per network carrying the gateway addresses; one veth pair
 * per endpoint, the host end enslaved to the bridge, the other end created directly inside
 * the sandbox's namespace under its final name (no rename dance, no window where it sits in
 * the host namespace).
 */
import type { Driver, DriverContext, EndpointContext, NetworkValidation } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import { ConflictError, KernelError } from '../../errors.js';
import { bridgeStateOf, parseBridgeOptions } from './bridge-options.js';
import { parseCidr } from '../../ipam/cidr.js';

const familyOf = (cidr: string): 4 | 6 => (cidr.includes(':') ? 6 : 4);

/** IPv6 tuning is an optimisation: a kernel booted without IPv6 refuses it, and that is fine. */
function quietIpv6(fn: () => void): void {
  try {
    fn();
  } catch {
    /* no IPv6 in this kernel */
  }
}

/** Locally administered unicast MAC from the network id: 02:xx:xx:xx:xx:xx. */
export function bridgeMacOf(networkId: string): string {
  return ['02', ...(networkId.slice(0, 10).match(/../g) ?? [])].join(':');
}

/** "gateway/prefix" for each pool of a network. */
export function gatewayCidrs(net: NetworkRecord): string[] {
  return net.ipam.config.map((p) => `${p.gateway}/${parseCidr(p.subnet, 'subnet').prefix}`);
}

export class BridgeDriver implements Driver {
  readonly name = 'bridge';
  readonly usesIpam = true;
  readonly userCreatable = true;

  validate(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation {
    const o = parseBridgeOptions(net.options, `wf-${net.id.slice(0, 12)}`, net.enableIPv6);
    const clash = others.find((n) => n.id !== net.id && n.driverState.bridgeName === o.bridgeName);
    if (clash)
      throw new ConflictError('com.docker.network.bridge.name', `bridge name "${o.bridgeName}" is already used by network "${clash.name}"`);
    // A bridge without its own MAC takes its lowest port's: when that sandbox leaves, the
    // gateway's MAC changes under every other sandbox's ARP cache and they lose the gateway.
    // A fixed MAC, derived from the network id, also survives re-creation after a reboot.
    o.mac ??= bridgeMacOf(net.id);
    return { options: net.options, driverState: bridgeStateOf(o) };
  }

  async setup(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    const rt = ctx.kernel.host();
    const name = net.driverState.bridgeName!;
    let br = rt.link(name);
    if (br && br.kind !== 'bridge') {
      throw new ConflictError('com.docker.network.bridge.name', `interface "${name}" exists and is not a bridge (${br.kind ?? 'device'})`);
    }
    const created = !br;
    try {
      if (!br) br = rt.createBridge({ name, mtu: Number(net.driverState.mtu), mac: net.driverState.mac, up: false });
      else if (net.driverState.mac && br.mac !== net.driverState.mac) rt.setLink(br.index, { mac: net.driverState.mac });
      if (net.enableIPv6) await ctx.kernel.setSysctl(undefined, `net.ipv6.conf.${name}.disable_ipv6`, '0');
      const have = new Set(rt.addresses(br.index).map((a) => a.cidr));
      for (const cidr of gatewayCidrs(net)) {
        if (!have.has(cidr)) rt.addAddress(br.index, cidr, { nodad: familyOf(cidr) === 6 });
      }
      if (!br.up) rt.setLink(br.index, { up: true });
    } catch (err) {
      if (created) rt.deleteLink(name, { ignoreMissing: true });
      throw err;
    }
  }

  async teardown(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    ctx.kernel.host().deleteLink(net.driverState.bridgeName!, { ignoreMissing: true });
  }

  async check(ctx: DriverContext, net: NetworkRecord): Promise<string[]> {
    const rt = ctx.kernel.host();
    const name = net.driverState.bridgeName!;
    const br = rt.link(name);
    if (!br) return [`network ${net.name}: bridge ${name} is missing`];
    const problems: string[] = [];
    if (br.kind !== 'bridge') problems.push(`network ${net.name}: ${name} is not a bridge`);
    if (!br.up) problems.push(`network ${net.name}: bridge ${name} is down`);
    if (net.driverState.mac && br.mac !== net.driverState.mac)
      problems.push(`network ${net.name}: bridge ${name} has MAC ${br.mac ?? '?'}, not ${net.driverState.mac}`);
    const have = new Set(rt.addresses(br.index).map((a) => a.cidr));
    for (const cidr of gatewayCidrs(net)) if (!have.has(cidr)) problems.push(`network ${net.name}: gateway ${cidr} missing on ${name}`);
    return problems;
  }

  async setupEndpoint(ctx: EndpointContext): Promise<void> {
    const { network: net, endpoint: ep, sandbox: sb } = ctx;
    const rt = ctx.kernel.host();
    const br = rt.link(net.driverState.bridgeName!);
    if (!br) throw new KernelError('endpoint join', `bridge ${net.driverState.bridgeName} of network ${net.name} does not exist`);
    const hostIf = ep.hostIfname!;
    const nsFd = await ctx.kernel.netnsFd(sb.netnsPath);
    const inner = await ctx.kernel.inNetns(sb.netnsPath);
    let created = false;
    try {
      const existing = rt.link(hostIf);
      if (!existing) {
        const local = rt.createVeth({
          name: hostIf,
          peerName: ep.ifname,
          peerNetnsFd: nsFd,
          mtu: Number(net.driverState.mtu),
          peerMac: ep.macAddress,
          master: br.index,
          up: true,
        });
        created = true;
        // A bridge port needs no IPv6 link-local address; without one it sends no DAD/MLD/RS
        // that the bridge would flood to every other port (keeps joins flat as ports grow).
        quietIpv6(() => rt.setLink(local.index, { ipv6AddrGenNone: true }));
      } else if (existing.master !== br.index || !existing.up) {
        rt.setLink(existing.index, { master: br.index, up: true });
      }
      const link = inner.link(ep.ifname);
      if (!link) throw new KernelError('endpoint join', `interface ${ep.ifname} did not appear in sandbox ${sb.name}`);
      const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
      if (ep.ipv4 && !have.has(ep.ipv4)) inner.addAddress(link.index, ep.ipv4);
      if (ep.ipv6 && !have.has(ep.ipv6)) inner.addAddress(link.index, ep.ipv6, { nodad: true });
      if (!link.up) {
        // On an IPv4-only network the sandbox's interface needs no link-local address either.
        if (!ep.ipv6) quietIpv6(() => inner.setLink(link.index, { ipv6AddrGenNone: true }));
        inner.setLink(link.index, { up: true });
      }
      if (ep.defaultRoute && !net.internal) {
        // Read before writing: a resync must not rewrite (and re-announce) a route that is fine.
        const hasDefault = (fam: 4 | 6, gw: string): boolean =>
          inner.routes(fam, 254).some((r) => (r.dst === '0.0.0.0/0' || r.dst === '::/0') && r.gateway === gw && r.oif === link.index);
        if (ep.gateway4 && !hasDefault(4, ep.gateway4))
          inner.addRoute({ dst: '0.0.0.0/0', gateway: ep.gateway4, oif: link.index }, { replace: true });
        if (ep.gateway6 && ep.ipv6 && !hasDefault(6, ep.gateway6))
          inner.addRoute({ dst: '::/0', gateway: ep.gateway6, oif: link.index }, { replace: true });
      }
    } catch (err) {
      if (created) rt.deleteLink(hostIf, { ignoreMissing: true });
      throw err;
    }
  }

  async teardownEndpoint(ctx: EndpointContext): Promise<void> {
    // Deleting one end of a veth deletes its peer inside the sandbox too.
    if (ctx.endpoint.hostIfname) ctx.kernel.host().deleteLink(ctx.endpoint.hostIfname, { ignoreMissing: true });
  }

  async checkEndpoint(ctx: EndpointContext): Promise<string[]> {
    const { network: net, endpoint: ep, sandbox: sb } = ctx;
    const rt = ctx.kernel.host();
    const problems: string[] = [];
    const hostLink = rt.link(ep.hostIfname!);
    const br = rt.link(net.driverState.bridgeName!);
    if (!hostLink) return [`endpoint ${sb.name}/${net.name}: host interface ${ep.hostIfname} missing`];
    if (!br || hostLink.master !== br.index) problems.push(`endpoint ${sb.name}/${net.name}: ${ep.hostIfname} not on bridge`);
    if (!hostLink.up) problems.push(`endpoint ${sb.name}/${net.name}: ${ep.hostIfname} is down`);
    const inner = await ctx.kernel.inNetns(sb.netnsPath);
    const link = inner.link(ep.ifname);
    if (!link) return [...problems, `endpoint ${sb.name}/${net.name}: ${ep.ifname} missing in sandbox`];
    const have = new Set(inner.addresses(link.index).map((a) => a.cidr));
    for (const a of [ep.ipv4, ep.ipv6]) if (a && !have.has(a)) problems.push(`endpoint ${sb.name}/${net.name}: address ${a} missing`);
    if (ep.defaultRoute && !net.internal && ep.gateway4) {
      const def = inner.routes(4).find((r) => r.dst === '0.0.0.0/0' && r.table === 254);
      if (!def || def.gateway !== ep.gateway4) problems.push(`endpoint ${sb.name}/${net.name}: default route via ${ep.gateway4} missing`);
    }
    return problems;
  }
}
