/**
 * Drift detection for the policy table: compare `nft -j list table inet weft-policy` with the
 * compiled state — sets and maps with their elements, chains with their hooks, rules by position
 * and comment, and each rule's expressions against a fingerprint taken from the kernel right
 * after weft wrote them (nft normalises rules, so text cannot be compared with its echo). Pure.
 */
import { normalizeAddress } from '../ipam/cidr.js';
import { POLICY_FAMILY } from './nft-names.js';
import type { CompiledPolicy } from './policy-compiler.js';

type Obj = Record<string, unknown>;

function objects(json: unknown, kind: string): Obj[] {
  const list = (json as { nftables?: unknown } | undefined)?.nftables;
  if (!Array.isArray(list)) return [];
  return (list as Obj[]).filter((o) => kind in o).map((o) => o[kind] as Obj);
}

function canonicalAddress(v: unknown): string {
  if (typeof v !== 'string') return JSON.stringify(v);
  try {
    return normalizeAddress(v, 'nft');
  } catch {
    // Not an address (a prefix or range weft never writes): keep it visible as drift.
    return v;
  }
}

/** Elements of a live set or verdict map in the compiler's text form. */
export function liveElements(set: Obj): string[] {
  const elems = Array.isArray(set.elem) ? (set.elem as unknown[]) : [];
  return elems.map((raw) => {
    if (!Array.isArray(raw)) return canonicalAddress(raw);
    const [key, verdict] = raw as [unknown, Obj];
    const [verb, arg] = Object.entries(verdict ?? {})[0] ?? ['?', undefined];
    const target = (arg as { target?: unknown } | null)?.target;
    return `${canonicalAddress(key)} : ${verb}${typeof target === 'string' ? ` ${target}` : ''}`;
  });
}

/** "chain#index" → JSON of the rule's expressions, as the kernel echoes them. */
export function ruleFingerprints(live: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const r of objects(live, 'rule')) {
    const chain = String(r.chain);
    const i = seen.get(chain) ?? 0;
    seen.set(chain, i + 1);
    out.set(`${chain}#${i}`, JSON.stringify(r.expr));
  }
  return out;
}

function commentOf(ruleText: string): string {
  const m = / comment "([^"]*)"$/.exec(ruleText);
  return m ? m[1]! : '';
}

/** Problems found; empty when the live table is exactly the compiled one. */
export function checkPolicyTable(live: unknown, want: CompiledPolicy, reference?: ReadonlyMap<string, string>): string[] {
  const t = `${POLICY_FAMILY} ${want.table}`;
  if (live === undefined) return [`table ${t} is missing`];
  const problems: string[] = [];
  const sets = new Map([...objects(live, 'set'), ...objects(live, 'map')].map((s) => [String(s.name), s]));
  for (const [name, spec] of want.sets) {
    const s = sets.get(name);
    if (!s) {
      problems.push(`set ${t} ${name} is missing`);
      continue;
    }
    if (s.type !== spec.type || (s.map === 'verdict') !== (spec.verdictMap ?? false)) problems.push(`set ${t} ${name} has the wrong type`);
    const have = new Set(liveElements(s));
    const expected = want.elements.get(name) ?? new Set<string>();
    for (const e of expected) if (!have.has(e)) problems.push(`set ${name}: element ${e} is missing`);
    for (const e of have) if (!expected.has(e)) problems.push(`set ${name}: unexpected element ${e}`);
  }
  for (const name of sets.keys()) if (!want.sets.has(name)) problems.push(`unexpected set ${t} ${name}`);
  const chains = new Map(objects(live, 'chain').map((c) => [String(c.name), c]));
  const rules = objects(live, 'rule');
  for (const [name, spec] of want.chains) {
    const c = chains.get(name);
    if (!c) {
      problems.push(`chain ${t} ${name} is missing`);
      continue;
    }
    const hooked = c.hook !== undefined;
    if (
      spec.priority === undefined
        ? hooked
        : c.hook !== 'forward' || c.prio !== spec.priority || c.type !== 'filter' || c.policy !== 'accept'
    ) {
      problems.push(`chain ${t} ${name} is hooked as ${String(c.type)}/${String(c.hook)}/${String(c.prio)}/${String(c.policy)}`);
    }
    const live = rules.filter((r) => r.chain === name);
    const tags = live.map((r) => (typeof r.comment === 'string' ? r.comment : '(no comment)'));
    const wantTags = spec.rules.map(commentOf);
    if (tags.join('\n') !== wantTags.join('\n')) {
      problems.push(
        `chain ${t} ${name}: rules differ (have ${live.length}, want ${spec.rules.length}: ${wantTags.filter((x) => !tags.includes(x)).join(', ') || 'order or extra rules'})`,
      );
      continue;
    }
    live.forEach((r, i) => {
      const ref = reference?.get(`${name}#${i}`);
      if (ref !== undefined && ref !== JSON.stringify(r.expr)) problems.push(`chain ${t} ${name}: rule "${tags[i]}" was modified`);
    });
  }
  for (const name of chains.keys()) if (!want.chains.has(name)) problems.push(`unexpected chain ${t} ${name}`);
  return problems;
}
