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
 * The work is split accordingly: compileStructure() makes sets and chains from policies and
 * networks alone; endpointElements() gives the set/map elements one endpoint contributes. So
 * rules never depend on endpoints, and an endpoint change is a change of its own elements.
 */
import { DIRS, type Dir, EGRESS_PRIORITY, INGRESS_PRIORITY, POLICY_TABLE, names } from './nft-names.js';
import { type RuleContext, ruleTexts } from './nft-rule.js';
import { effectiveLabels, networkSelector, normalizeInput, profileOf } from './policy-model.js';
import type { IpVersion, Policy, PolicyEndpoint, PolicyInput, PolicyNetwork, PolicyRule } from './policy-types.js';
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

/** What decides which elements an endpoint contributes. */
export interface MembershipContext {
  /** Rule selectors (scoped where the policy is), each with its two sets. */
  selectors: { selector: Selector; set4: string; set6: string }[];
  /** Policies: the endpoints they apply to (scoped) and the directions they cover. */
  policies: { applies: Selector; set4: string; set6: string; dirs: Dir[] }[];
}

/** Sets and chains of the table, and the context endpoint elements depend on. */
export interface PolicyStructure {
  table: string;
  sets: Map<string, NftSetSpec>;
  chains: Map<string, NftChainSpec>;
  ctx: MembershipContext;
  /** Equal keys: every endpoint contributes the same elements under both structures. */
  ctxKey: string;
}

const V: readonly IpVersion[] = [4, 6];
const ADDR_KIND: Record<IpVersion, string> = { 4: 'ip', 6: 'ip6' };
const familyOfAddress = (a: string): IpVersion => (a.includes(':') ? 6 : 4);
const setType = (v: IpVersion): NftSetSpec['type'] => (v === 4 ? 'ipv4_addr' : 'ipv6_addr');

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

/** Sets and chains from (sorted, validated) policies and networks. */
export function compileStructure(policies: readonly Policy[], networks: readonly PolicyNetwork[]): PolicyStructure {
  const sets = new Map<string, NftSetSpec>();
  const chains = new Map<string, NftChainSpec>();
  const ctx: MembershipContext = { selectors: [], policies: [] };
  const addSet = (name: string, v: IpVersion, verdictMap = false): void =>
    void sets.set(name, { name, type: setType(v), ...(verdictMap ? { verdictMap } : {}) });
  const addChain = (name: string, rules: string[], priority?: number): void =>
    void chains.set(name, { name, rules, ...(priority === undefined ? {} : { priority }) });
  const selectorSet = (sel: Selector, v: IpVersion): string => {
    const name = names.selectorSet(sel.text, v);
    if (!sets.has(name)) {
      for (const w of V) addSet(names.selectorSet(sel.text, w), w);
      ctx.selectors.push({ selector: sel, set4: names.selectorSet(sel.text, 4), set6: names.selectorSet(sel.text, 6) });
    }
    return name;
  };
  const rulesOf = (rules: readonly PolicyRule[], rc: RuleContext): string[] => rules.flatMap((r, i) => ruleTexts(r, i, rc));
  const scopeOf = (p: Policy): Selector | undefined => (p.network === undefined ? undefined : networkSelector(p.network));

  for (const v of V) addSet(names.localSet(v), v);
  for (const p of policies) {
    const scope = scopeOf(p);
    const dirs = DIRS.filter((d) => p.types.includes(d === 'in' ? 'Ingress' : 'Egress'));
    ctx.policies.push({
      applies: scope ? p.selector.and(scope) : p.selector,
      set4: names.appliesSet(p.name, 4),
      set6: names.appliesSet(p.name, 6),
      dirs,
    });
    for (const v of V) addSet(names.appliesSet(p.name, v), v);
  }
  for (const d of DIRS) {
    const side = d === 'in' ? 'daddr' : 'saddr';
    const typed = policies.filter((p) => p.types.includes(d === 'in' ? 'Ingress' : 'Egress'));
    addChain(names.baseChain(d), baseChainRules(d), d === 'in' ? INGRESS_PRIORITY : EGRESS_PRIORITY);
    addChain(
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
      const rc: RuleContext = { selectorSet, passChain: names.passChain(d), dir: d, owner: `pol ${p.name}`, ...(scope ? { scope } : {}) };
      addChain(names.policyChain(p.name, d), rulesOf(d === 'in' ? p.ingress : p.egress, rc));
    }
    addChain(names.passChain(d), [
      ...V.map((v) => `${ADDR_KIND[v]} ${side} vmap @${names.profileMap(d, v)} comment "profile v${v}"`),
      'drop comment "no profile"',
    ]);
    for (const n of networks) {
      const prof = profileOf(n);
      const rc: RuleContext = { selectorSet, passChain: names.passChain(d), dir: d, owner: `profile ${n.name}` };
      const head = d === 'in' && prof.allowPublished ? ['ct status dnat accept comment "published port"'] : [];
      addChain(names.profileChain(n.name, d), [
        ...head,
        ...rulesOf(d === 'in' ? prof.ingress : prof.egress, rc),
        'drop comment "end of profile"',
      ]);
    }
    for (const v of V) {
      addSet(names.isolatedSet(d, v), v);
      addSet(names.profileMap(d, v), v, true);
    }
  }
  const ctxKey = JSON.stringify([
    ctx.selectors.map((s) => [s.selector.text, s.set4, s.set6]),
    ctx.policies.map((p) => [p.applies.text, p.set4, p.set6, p.dirs]),
  ]);
  return { table: POLICY_TABLE, sets, chains, ctx, ctxKey };
}

/** The elements one validated endpoint contributes, as [set, element] pairs. */
export function endpointElements(ctx: MembershipContext, ep: PolicyEndpoint): [string, string][] {
  const out: [string, string][] = [];
  const labels = effectiveLabels(ep);
  const byFamily = (set4: string, set6: string, text = (a: string): string => a): void => {
    for (const a of ep.addresses) out.push([familyOfAddress(a) === 4 ? set4 : set6, text(a)]);
  };
  for (const s of ctx.selectors) if (s.selector.matches(labels)) byFamily(s.set4, s.set6);
  if (!ep.local) return out;
  byFamily(names.localSet(4), names.localSet(6));
  const isolated = new Set<Dir>();
  for (const p of ctx.policies) {
    if (!p.applies.matches(labels)) continue;
    byFamily(p.set4, p.set6);
    for (const d of p.dirs) isolated.add(d);
  }
  for (const d of DIRS) {
    if (isolated.has(d)) byFamily(names.isolatedSet(d, 4), names.isolatedSet(d, 6));
    const target = names.profileChain(ep.network, d);
    byFamily(names.profileMap(d, 4), names.profileMap(d, 6), (a) => `${a} : goto ${target}`);
  }
  return out;
}

/** Compile validated input into the policy table's content. */
export function compilePolicies(raw: PolicyInput): CompiledPolicy {
  const input = normalizeInput(raw);
  const s = compileStructure(input.policies, input.networks);
  const elements = new Map<string, Set<string>>([...s.sets.keys()].map((k) => [k, new Set<string>()]));
  for (const ep of input.endpoints) for (const [set, el] of endpointElements(s.ctx, ep)) elements.get(set)!.add(el);
  return { table: s.table, sets: s.sets, chains: s.chains, elements };
}

/** Rules and elements of a compiled table: what "ruleset size" means in benchmarks. */
export function compiledSize(c: CompiledPolicy): { chains: number; rules: number; sets: number; elements: number } {
  let rules = 0;
  for (const ch of c.chains.values()) rules += ch.rules.length;
  let elements = 0;
  for (const els of c.elements.values()) elements += els.size;
  return { chains: c.chains.size, rules, sets: c.sets.size, elements };
}
