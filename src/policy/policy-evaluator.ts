/**
 * A reference evaluator: the verdict Calico's semantics give one new packet, computed directly
 * from the model — no nftables, no sets, nothing shared with the compiler beyond the model types
 * and the selector matcher. Tests compare it with what real packets do under the compiled
 * ruleset, so a compiler bug shows up as a difference. Also the basis for a future
 * `weft policy explain`. Pure.
 *
 * Semantics: egress is decided on the source's host if the source is a local endpoint, ingress on
 * the destination's host if the destination is one; both must allow. In a direction, policies
 * that select the endpoint and cover the direction are tried in (order, name) order, their rules
 * in order: Allow and Deny decide, Log goes on, Pass skips to the profile. If any such policy
 * exists and none decided, the packet is denied; if none exists, the profile decides (published
 * ports first when the profile allows them), and a profile that matches nothing denies.
 */
import ipaddr from 'ipaddr.js';
import type { EntityMatch, Policy, PolicyEndpoint, PolicyInput, PolicyNetwork, PolicyRule, Profile } from './policy-types.js';
import type { Labels } from './selector.js';

/** A packet that opens a connection (return traffic is always allowed by conntrack). */
export interface ProbePacket {
  src: string;
  dst: string;
  /** IP protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP, 136 UDPLite. */
  protocol: number;
  srcPort?: number;
  dstPort?: number;
  icmpType?: number;
  icmpCode?: number;
  /** DNATed by a published port. */
  dnat?: boolean;
}

export type DirectionVerdict =
  | { verdict: 'allow' | 'deny'; by: string }
  /** Not a local endpoint on that side: nothing to enforce here. */
  | { verdict: 'n/a'; by: 'not a local endpoint' };

export interface PacketVerdict {
  allowed: boolean;
  egress: DirectionVerdict;
  ingress: DirectionVerdict;
}

const NUMBER_OF: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, SCTP: 132, UDPLite: 136 };
const protoNumber = (p: string | number): number => (typeof p === 'number' ? p : NUMBER_OF[p]!);

function sameAddress(a: string, b: string): boolean {
  return ipaddr.parse(a).toNormalizedString() === ipaddr.parse(b).toNormalizedString();
}

function inCidr(addr: string, cidr: string): boolean {
  const a = ipaddr.parse(addr);
  const [net, len] = ipaddr.parseCIDR(cidr);
  return a.kind() === net.kind() && a.match(net, len);
}

class World {
  constructor(
    readonly input: PolicyInput,
    private readonly all: readonly PolicyEndpoint[],
  ) {}

  endpointAt(addr: string): PolicyEndpoint | undefined {
    return this.all.find((ep) => ep.addresses.some((a) => sameAddress(a, addr)));
  }

  labels(ep: PolicyEndpoint): Labels {
    return { ...ep.labels, 'weft.network': ep.network };
  }

  network(name: string): PolicyNetwork | undefined {
    return this.input.networks.find((n) => n.name === name);
  }
}

function entityMatches(w: World, e: EntityMatch, addr: string, port: number | undefined, scope: string | undefined): boolean {
  if (e.nets && !e.nets.some((c) => inCidr(addr, c))) return false;
  if (e.notNets && e.notNets.some((c) => inCidr(addr, c))) return false;
  const owner = w.endpointAt(addr);
  const selected = (sel: NonNullable<EntityMatch['selector']>): boolean =>
    owner !== undefined && (scope === undefined || owner.network === scope) && sel.matches(w.labels(owner));
  if (e.selector && !selected(e.selector)) return false;
  if (e.notSelector && selected(e.notSelector)) return false;
  const inRanges = (list: NonNullable<EntityMatch['ports']>): boolean =>
    port !== undefined && list.some((r) => port >= r.min && port <= r.max);
  if (e.ports && !inRanges(e.ports)) return false;
  if (e.notPorts && inRanges(e.notPorts)) return false;
  return true;
}

function ruleMatches(w: World, r: PolicyRule, pkt: ProbePacket, scope: string | undefined): boolean {
  const version = pkt.src.includes(':') ? 6 : 4;
  if (r.ipVersion !== undefined && r.ipVersion !== version) return false;
  // As Calico renders it: a rule that names CIDRs of one family exists only for that family.
  const cidrs = [r.source, r.destination].flatMap((e) => [...(e.nets ?? []), ...(e.notNets ?? [])]);
  if (cidrs.some((c) => (c.includes(':') ? 6 : 4) !== version)) return false;
  if (r.protocol !== undefined && protoNumber(r.protocol) !== pkt.protocol) return false;
  if (r.notProtocol !== undefined && protoNumber(r.notProtocol) === pkt.protocol) return false;
  if (r.icmp && (pkt.icmpType !== r.icmp.type || (r.icmp.code !== undefined && pkt.icmpCode !== r.icmp.code))) return false;
  if (r.notICMP && pkt.icmpType === r.notICMP.type && (r.notICMP.code === undefined || pkt.icmpCode === r.notICMP.code)) return false;
  return entityMatches(w, r.source, pkt.src, pkt.srcPort, scope) && entityMatches(w, r.destination, pkt.dst, pkt.dstPort, scope);
}

function profileVerdict(w: World, ep: PolicyEndpoint, dir: 'Ingress' | 'Egress', pkt: ProbePacket): DirectionVerdict {
  const profile: Profile | undefined = w.network(ep.network)?.profile;
  const allowPublished = profile?.allowPublished ?? true;
  if (dir === 'Ingress' && pkt.dnat === true && allowPublished) return { verdict: 'allow', by: `profile ${ep.network}: published port` };
  if (profile === undefined) {
    // The default profile: everything out; in only from endpoints of the same network.
    if (dir === 'Egress') return { verdict: 'allow', by: `default profile ${ep.network}` };
    const from = w.endpointAt(pkt.src);
    return { verdict: from !== undefined && from.network === ep.network ? 'allow' : 'deny', by: `default profile ${ep.network}` };
  }
  for (const [i, r] of (dir === 'Ingress' ? profile.ingress : profile.egress).entries()) {
    if (!ruleMatches(w, r, pkt, undefined)) continue;
    if (r.action === 'Allow' || r.action === 'Deny')
      return { verdict: r.action === 'Allow' ? 'allow' : 'deny', by: `profile ${ep.network} rule ${i}` };
  }
  return { verdict: 'deny', by: `profile ${ep.network}: no rule matched` };
}

function directionVerdict(w: World, ep: PolicyEndpoint | undefined, dir: 'Ingress' | 'Egress', pkt: ProbePacket): DirectionVerdict {
  if (ep === undefined || !ep.local) return { verdict: 'n/a', by: 'not a local endpoint' };
  const ordered = [...w.input.policies].sort((a, b) => {
    const oa = a.order ?? Infinity;
    const ob = b.order ?? Infinity;
    if (oa !== ob) return oa < ob ? -1 : 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  const applicable = ordered.filter(
    (p: Policy) => p.types.includes(dir) && (p.network === undefined || p.network === ep.network) && p.selector.matches(w.labels(ep)),
  );
  for (const p of applicable) {
    for (const [i, r] of (dir === 'Ingress' ? p.ingress : p.egress).entries()) {
      if (!ruleMatches(w, r, pkt, p.network)) continue;
      if (r.action === 'Allow') return { verdict: 'allow', by: `${p.name} rule ${i}` };
      if (r.action === 'Deny') return { verdict: 'deny', by: `${p.name} rule ${i}` };
      if (r.action === 'Pass') return profileVerdict(w, ep, dir, pkt);
    }
  }
  if (applicable.length > 0) return { verdict: 'deny', by: `default deny (selected by ${applicable.map((p) => p.name).join(', ')})` };
  return profileVerdict(w, ep, dir, pkt);
}

/** The verdict for a new packet on the host where `input` marks endpoints local. */
export function evaluatePacket(input: PolicyInput, pkt: ProbePacket): PacketVerdict {
  const w = new World(input, input.endpoints);
  const egress = directionVerdict(w, w.endpointAt(pkt.src), 'Egress', pkt);
  const ingress = directionVerdict(w, w.endpointAt(pkt.dst), 'Ingress', pkt);
  return { allowed: egress.verdict !== 'deny' && ingress.verdict !== 'deny', egress, ingress };
}
