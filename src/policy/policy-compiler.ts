/**
 * Policies, endpoints and networks → the content of weft's `inet weft-policy` table. Pure.
 *
 * Two base chains on the forward hook, egress (priority 10) then ingress (11). Being separate base
 * chains, an Allow can simply `accept`: that ends the egress chain and the packet still meets
 * the ingress chain. Each base chain:
 *
 *   ct state established,related accept · ND accept · ct state invalid drop
 *   <addr> @local{4,6}        jump <dir>-policies     only local endpoints are enforced here
 *   <addr> @<dir>-isol{4,6}   drop                    selected by a policy, nothing allowed it
 *   <addr> vmap @<dir>-prof{4,6}                      per-endpoint dispatch to its network's profile
 *
 * `<dir>-policies` has one rule per policy and family, in Calico order, jumping to the policy's
 * chain when the endpoint is in the policy's applies-to set; the policy chain holds its rules
 * (Allow → accept, Deny → drop, Log → log and go on, Pass → goto <dir>-pass, which dispatches to
 * the profile). Rule selectors are named sets of member addresses shared by equal selectors.
 *
 * So the rules depend on policies and networks only; endpoints (added, relabelled, removed) only
 * ever change set and map elements.
 */
import { DIRS, type Dir, EGRESS_PRIORITY, INGRESS_PRIORITY, POLICY_TABLE, names } from './nft-names.js';
import { type RuleContext, ruleTexts } from './nft-rule.js';
import { effectiveLabels, networkSelector, normalizeInput, profileOf } from './policy-model.js';
import type { IpVersion, Policy, PolicyEndpoint, PolicyInput, PolicyRule } from './policy-types.js';
import type { Selector } from './selector.js';

export interface NftSetSpec {
  name: string;
  type: 'ipv4_addr' | 'ipv6_addr';
  /** Verdict map (address → verdict) rather than a plain set. */
  verdictMap?: boolean;
}

export interface NftChainSpec {
  name: string;
  /** Base chain on the forward hook at this priority; regular chain when absent. */
  priority?: number;
  /** Rule texts, each ending with a comment. */
  rules: string[];
}

/** The whole table as data; two equal inputs compile to equal values. */
export interface CompiledPolicy {
  table: string;
  sets: Map<string, NftSetSpec>;
  chains: Map<string, NftChainSpec>;
  /** Elements per set/map, as nft writes them ("10.0.0.1", "10.0.0.1 : goto prof.net.in"). */
  elements: Map<string, Set<string>>;
}

const V: readonly IpVersion[] = [4, 6];
const ADDR_KIND: Record<IpVersion, string> = { 4: 'ip', 6: 'ip6' };
const familyOfAddress = (a: string): IpVersion => (a.includes(':') ? 6 : 4);

class Builder {
  readonly out: CompiledPolicy = { table: POLICY_TABLE, sets: new Map(), chains: new Map(), elements: new Map() };
  private readonly selectorMembers = new Map<string, Set<string>>();

  constructor(private readonly endpoints: readonly PolicyEndpoint[]) {}

  addSet(name: string, v: IpVersion, members: Iterable<string>, verdictMap = false): void {
    this.out.sets.set(name, { name, type: v === 4 ? 'ipv4_addr' : 'ipv6_addr', ...(verdictMap ? { verdictMap } : {}) });
    const els = this.out.elements.get(name) ?? new Set<string>();
    for (const m of members) els.add(m);
    this.out.elements.set(name, els);
  }

  addChain(name: string, rules: string[], priority?: number): void {
    this.out.chains.set(name, { name, rules, ...(priority === undefined ? {} : { priority }) });
  }

  /** Addresses of family v of the endpoints `pick` accepts. */
  addresses(v: IpVersion, pick: (ep: PolicyEndpoint) => boolean): string[] {
    return this.endpoints.filter(pick).flatMap((ep) => ep.addresses.filter((a) => familyOfAddress(a) === v));
  }

  /** The set for a rule selector, created on first use (equal canonical text → one set). */
  selectorSet = (sel: Selector, v: IpVersion): string => {
    const name = names.selectorSet(sel.text, v);
    if (!this.out.sets.has(name)) {
      let members = this.selectorMembers.get(sel.text);
      if (!members) {
        members = new Set(this.endpoints.filter((ep) => sel.matches(effectiveLabels(ep))).map((ep) => ep.id));
        this.selectorMembers.set(sel.text, members);
      }
      const m = members;
      this.addSet(
        name,
        v,
        this.addresses(v, (ep) => m.has(ep.id)),
      );
    }
    return name;
  };
}

function baseChainRules(d: Dir): string[] {
  const side = d === 'in' ? 'daddr' : 'saddr';
  const c = (text: string, tag: string): string => `${text} comment "${tag}"`;
  return [
    c('ct state established,related accept', 'return traffic'),
    // Neighbour discovery between bridged endpoints is never subject to policy (as in Calico).
    c('icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept', 'neighbour discovery'),
    c('ct state invalid drop', 'invalid'),
    ...V.map((v) => c(`${ADDR_KIND[v]} ${side} @${names.localSet(v)} jump ${names.policiesChain(d)}`, `policies v${v}`)),
    ...V.map((v) => c(`${ADDR_KIND[v]} ${side} @${names.isolatedSet(d, v)} drop`, `default deny v${v}`)),
    ...V.map((v) => c(`${ADDR_KIND[v]} ${side} vmap @${names.profileMap(d, v)}`, `profile v${v}`)),
  ];
}

function rulesOf(rules: readonly PolicyRule[], ctx: RuleContext): string[] {
  return rules.flatMap((r, i) => ruleTexts(r, i, ctx));
}

/** Compile validated input into the policy table's content. */
export function compilePolicies(raw: PolicyInput): CompiledPolicy {
  const input = normalizeInput(raw);
  const b = new Builder(input.endpoints);
  const local = input.endpoints.filter((ep) => ep.local);
  const isLocal = (ep: PolicyEndpoint): boolean => ep.local;
  for (const v of V) b.addSet(names.localSet(v), v, b.addresses(v, isLocal));

  const scopeOf = (p: Policy): Selector | undefined => (p.network === undefined ? undefined : networkSelector(p.network));
  const applies = new Map<string, Set<string>>();
  for (const p of input.policies) {
    const scope = scopeOf(p);
    const sel = scope ? p.selector.and(scope) : p.selector;
    const ids = new Set(local.filter((ep) => sel.matches(effectiveLabels(ep))).map((ep) => ep.id));
    applies.set(p.name, ids);
    for (const v of V)
      b.addSet(
        names.appliesSet(p.name, v),
        v,
        b.addresses(v, (ep) => ids.has(ep.id)),
      );
  }

  for (const d of DIRS) {
    const type = d === 'in' ? 'Ingress' : 'Egress';
    const side = d === 'in' ? 'daddr' : 'saddr';
    const typed = input.policies.filter((p) => p.types.includes(type));
    const isolated = new Set(typed.flatMap((p) => [...applies.get(p.name)!]));
    b.addChain(names.baseChain(d), baseChainRules(d), d === 'in' ? INGRESS_PRIORITY : EGRESS_PRIORITY);
    b.addChain(
      names.policiesChain(d),
      typed.flatMap((p) =>
        V.map(
          (v) =>
            `${ADDR_KIND[v]} ${side} @${names.appliesSet(p.name, v)} jump ${names.policyChain(p.name, d)} comment "order ${p.order ?? 'none'} v${v}"`,
        ),
      ),
    );
    for (const p of typed) {
      const scope = scopeOf(p);
      const ctx: RuleContext = {
        selectorSet: b.selectorSet,
        passChain: names.passChain(d),
        dir: d,
        owner: `pol ${p.name}`,
        ...(scope ? { scope } : {}),
      };
      b.addChain(names.policyChain(p.name, d), rulesOf(d === 'in' ? p.ingress : p.egress, ctx));
    }
    b.addChain(names.passChain(d), [
      ...V.map((v) => `${ADDR_KIND[v]} ${side} vmap @${names.profileMap(d, v)} comment "profile v${v}"`),
      'drop comment "no profile"',
    ]);
    for (const n of input.networks) {
      const prof = profileOf(n);
      const ctx: RuleContext = { selectorSet: b.selectorSet, passChain: names.passChain(d), dir: d, owner: `profile ${n.name}` };
      const head = d === 'in' && prof.allowPublished ? ['ct status dnat accept comment "published port"'] : [];
      b.addChain(names.profileChain(n.name, d), [
        ...head,
        ...rulesOf(d === 'in' ? prof.ingress : prof.egress, ctx),
        'drop comment "end of profile"',
      ]);
    }
    for (const v of V) {
      b.addSet(
        names.isolatedSet(d, v),
        v,
        b.addresses(v, (ep) => isolated.has(ep.id)),
      );
      const entries = local.flatMap((ep) =>
        ep.addresses.filter((a) => familyOfAddress(a) === v).map((a) => `${a} : goto ${names.profileChain(ep.network, d)}`),
      );
      b.addSet(names.profileMap(d, v), v, entries, true);
    }
  }
  return b.out;
}

/** Rules and elements of a compiled table: what "ruleset size" means in benchmarks. */
export function compiledSize(c: CompiledPolicy): { chains: number; rules: number; sets: number; elements: number } {
  let rules = 0;
  for (const ch of c.chains.values()) rules += ch.rules.length;
  let elements = 0;
  for (const els of c.elements.values()) elements += els.size;
  return { chains: c.chains.size, rules, sets: c.sets.size, elements };
}
