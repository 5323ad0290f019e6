/**
 * One Calico rule as nft rule text (inet family). A rule that names an address family — through
 * a selector (sets are per family), nets, ICMP or ipVersion — becomes one nft rule per family it
 * can match; any other rule is a single family-neutral nft rule. Selectors become references to
 * named sets, so rule text never lists endpoints. Pure.
 */
import { type Dir, nftString } from './nft-names.js';
import type { EntityMatch, IcmpMatch, IpVersion, PolicyProtocol, PolicyRule, PortRange } from './policy-types.js';
import type { Selector } from './selector.js';

/** What a rule's text depends on outside itself. */
export interface RuleContext {
  /** Name of the named set holding the addresses `sel` matches, for one family. */
  selectorSet(sel: Selector, v: IpVersion): string;
  /** Restrict rule selectors to this scope (a NetworkPolicy's network). */
  scope?: Selector;
  /** Chain a Pass jumps to (the direction's profile dispatch). */
  passChain: string;
  /** Direction, for Log prefixes. */
  dir: Dir;
  /** Owner shown in comments and log prefixes ("pol web", "profile net1"). */
  owner: string;
}

const L4_NAMES: Record<string, string> = { TCP: 'tcp', UDP: 'udp', ICMP: 'icmp', ICMPv6: 'ipv6-icmp', SCTP: 'sctp', UDPLite: 'udplite' };

function l4(p: PolicyProtocol): string {
  return typeof p === 'number' ? String(p) : L4_NAMES[p]!;
}

function portsText(list: readonly PortRange[]): string {
  const items = list.map((p) => (p.min === p.max ? String(p.min) : `${p.min}-${p.max}`));
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

function netsText(list: readonly string[]): string {
  return list.length === 1 ? list[0]! : `{ ${list.join(', ')} }`;
}

const familyOf = (cidr: string): IpVersion => (cidr.includes(':') ? 6 : 4);

/** The families a rule can match at all (validation guarantees nets agree with each other). */
export function ruleFamilies(rule: PolicyRule): IpVersion[] {
  let fams: IpVersion[] = [4, 6];
  const keep = (v: IpVersion): void => void (fams = fams.filter((f) => f === v));
  if (rule.ipVersion !== undefined) keep(rule.ipVersion);
  if (rule.protocol === 'ICMP') keep(4);
  if (rule.protocol === 'ICMPv6') keep(6);
  for (const e of [rule.source, rule.destination]) {
    for (const c of [...(e.nets ?? []), ...(e.notNets ?? [])]) keep(familyOf(c));
  }
  return fams;
}

function isFamilySpecific(rule: PolicyRule): boolean {
  const entity = (e: EntityMatch): boolean =>
    e.nets !== undefined || e.notNets !== undefined || e.selector !== undefined || e.notSelector !== undefined;
  return (
    rule.ipVersion !== undefined || rule.icmp !== undefined || rule.notICMP !== undefined || entity(rule.source) || entity(rule.destination)
  );
}

function icmpText(v: IpVersion, m: IcmpMatch, negate: boolean): string {
  const p = v === 4 ? 'icmp' : 'icmpv6';
  if (m.code === undefined) return `${p} type ${negate ? '!= ' : ''}${m.type}`;
  // Negating "type T and code C" is "not (T . C)", which a concatenation expresses in one match.
  if (negate) return `${p} type . ${p} code != { ${m.type} . ${m.code} }`;
  return `${p} type ${m.type} ${p} code ${m.code}`;
}

function entityText(e: EntityMatch, side: 'saddr' | 'daddr', v: IpVersion | undefined, ctx: RuleContext): string[] {
  const out: string[] = [];
  const addr = v === undefined ? '' : `${v === 4 ? 'ip' : 'ip6'} ${side}`;
  const scoped = (s: Selector): Selector => (ctx.scope ? s.and(ctx.scope) : s);
  if (v !== undefined) {
    const nets = e.nets?.filter((c) => familyOf(c) === v);
    const notNets = e.notNets?.filter((c) => familyOf(c) === v);
    if (nets && nets.length > 0) out.push(`${addr} ${netsText(nets)}`);
    if (notNets && notNets.length > 0) out.push(`${addr} != ${netsText(notNets)}`);
    if (e.selector) out.push(`${addr} @${ctx.selectorSet(scoped(e.selector), v)}`);
    if (e.notSelector) out.push(`${addr} != @${ctx.selectorSet(scoped(e.notSelector), v)}`);
  }
  const port = side === 'saddr' ? 'th sport' : 'th dport';
  if (e.ports) out.push(`${port} ${portsText(e.ports)}`);
  if (e.notPorts) out.push(`${port} != ${portsText(e.notPorts)}`);
  return out;
}

function verdictText(rule: PolicyRule, ctx: RuleContext, index: number): string {
  switch (rule.action) {
    case 'Allow':
      return 'accept';
    case 'Deny':
      return 'drop';
    case 'Pass':
      return `goto ${ctx.passChain}`;
    case 'Log':
      return `log prefix "${nftString(`weft ${ctx.owner} ${ctx.dir}[${index}]: `, 120)}"`;
  }
}

/** nft rule texts (without table/chain) for rule `index` of a policy or profile. */
export function ruleTexts(rule: PolicyRule, index: number, ctx: RuleContext): string[] {
  const variants: (IpVersion | undefined)[] = isFamilySpecific(rule) ? ruleFamilies(rule) : [undefined];
  return variants.map((v) => {
    const parts: string[] = [];
    if (v !== undefined && rule.ipVersion !== undefined) parts.push(`meta nfproto ipv${v}`);
    if (rule.protocol !== undefined) parts.push(`meta l4proto ${l4(rule.protocol)}`);
    if (rule.notProtocol !== undefined) parts.push(`meta l4proto != ${l4(rule.notProtocol)}`);
    parts.push(...entityText(rule.source, 'saddr', v, ctx), ...entityText(rule.destination, 'daddr', v, ctx));
    if (v !== undefined && rule.icmp) parts.push(icmpText(v, rule.icmp, false));
    if (v !== undefined && rule.notICMP) parts.push(icmpText(v, rule.notICMP, true));
    parts.push(verdictText(rule, ctx, index));
    const tag = `${ctx.owner} ${ctx.dir}[${index}]${v === undefined ? '' : ` v${v}`}`;
    return `${parts.join(' ')} comment "${nftString(tag, 120)}"`;
  });
}
