/**
 * Drift detection: compare weft's tables as nft lists them (JSON) with what the model says
 * should be there — tables, chains and their hooks, rules (found by their comment tag, and
 * compared with a fingerprint taken right after the last full apply) and set elements. Pure.
 */
import { normalizeIp } from './validate.js';
import { CHAINS, type Element, type NftFamily, SETS, type SetDef, TABLE, USER_CHAIN, USER_TABLE, canonicalElement } from './nft-ruleset.js';

/** Parsed `nft -j list table …` output of each table; undefined = table missing. */
export interface LiveTables {
  inet?: unknown;
  bridge?: unknown;
  user?: unknown;
}

type Obj = Record<string, unknown>;

function items(json: unknown): Obj[] {
  const list = (json as { nftables?: unknown } | undefined)?.nftables;
  return Array.isArray(list) ? (list as Obj[]) : [];
}

function ofKind(json: unknown, kind: string): Obj[] {
  return items(json)
    .filter((o) => kind in o)
    .map((o) => o[kind] as Obj);
}

const PROTO_BY_NUMBER: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

function atom(type: string, v: unknown, interval: boolean): string {
  if (type === 'ipv4_addr' || type === 'ipv6_addr') {
    const bits = type === 'ipv4_addr' ? 32 : 128;
    const norm = (a: unknown): string => {
      try {
        return normalizeIp(a, 'nft').ip;
      } catch {
        return String(a);
      }
    };
    if (typeof v === 'object' && v !== null && 'prefix' in v) {
      const p = (v as { prefix: { addr: unknown; len: number } }).prefix;
      return `${norm(p.addr)}/${p.len}`;
    }
    if (typeof v === 'object' && v !== null && 'range' in v) {
      const [a, b] = (v as { range: unknown[] }).range;
      return `${norm(a)}-${norm(b)}`;
    }
    return interval ? `${norm(v)}/${bits}` : norm(v);
  }
  if (type === 'inet_proto' && typeof v === 'number') return PROTO_BY_NUMBER[v] ?? String(v);
  if (type === 'verdict' && typeof v === 'object' && v !== null) return Object.keys(v)[0] ?? '?';
  return String(v);
}

function parts(v: unknown): unknown[] {
  if (typeof v === 'object' && v !== null && 'concat' in v) return (v as { concat: unknown[] }).concat;
  return [v];
}

/** Canonical element strings of one live set/map, in the same form canonicalElement gives. */
export function liveElements(def: SetDef, set: Obj): string[] {
  const elems = Array.isArray(set.elem) ? (set.elem as unknown[]) : [];
  return elems.map((raw) => {
    let key: unknown = raw;
    let value: unknown;
    if (def.value !== undefined && Array.isArray(raw)) [key, value] = raw as [unknown, unknown];
    // Elements with comments or timeouts come wrapped as {"elem": {"val": …}}.
    if (typeof key === 'object' && key !== null && 'elem' in key) key = ((key as Obj).elem as Obj).val;
    const k = parts(key).map((p, i) => atom(def.key[i] ?? '', p, def.interval === true));
    const e: Element = { set: def.name, key: k };
    if (def.value !== undefined) {
      const vt = def.value === 'verdict' ? ['verdict'] : def.value;
      e.value = parts(value).map((p, i) => atom(vt[i] ?? '', p, false));
    }
    return canonicalElement(e);
  });
}

/** Fingerprint of each tagged rule: "family/chain/comment" → JSON of its expressions. */
export function ruleFingerprints(live: LiveTables): Map<string, string> {
  const out = new Map<string, string>();
  for (const fam of ['inet', 'bridge'] as const) {
    for (const rule of ofKind(live[fam], 'rule')) {
      if (typeof rule.comment === 'string') out.set(`${fam}/${String(rule.chain)}/${rule.comment}`, JSON.stringify(rule.expr));
    }
  }
  return out;
}

/** Problems found; empty when the live tables hold exactly what they should. */
export function checkLive(live: LiveTables, expected: readonly Element[], reference?: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const fam of ['inet', 'bridge'] as NftFamily[]) {
    const json = live[fam];
    if (json === undefined) {
      problems.push(`table ${fam} ${TABLE} is missing`);
      continue;
    }
    const chains = new Map(ofKind(json, 'chain').map((c) => [String(c.name), c]));
    const rules = ofKind(json, 'rule');
    for (const def of CHAINS.filter((c) => c.family === fam)) {
      const c = chains.get(def.name);
      const where = `chain ${fam} ${TABLE} ${def.name}`;
      if (!c) {
        problems.push(`${where} is missing`);
        continue;
      }
      if (def.base && (c.type !== def.base.type || c.hook !== def.base.hook || c.prio !== def.base.prio || c.policy !== 'accept')) {
        problems.push(
          `${where} is hooked as ${String(c.type)}/${String(c.hook)}/${String(c.prio)}/${String(c.policy)}, expected ${def.base.type}/${def.base.hook}/${def.base.prio}/accept`,
        );
      }
      const live = rules.filter((x) => x.chain === def.name);
      const liveTags = live.map((x) => (typeof x.comment === 'string' ? x.comment : '(untagged)'));
      const want = def.rules.map((x) => x.comment);
      for (const tag of want) if (!liveTags.includes(tag)) problems.push(`${where}: rule ${tag} is missing`);
      for (const tag of liveTags) if (!want.includes(tag)) problems.push(`${where}: unexpected rule ${tag}`);
      if (want.every((t) => liveTags.includes(t)) && liveTags.filter((t) => want.includes(t)).join() !== want.join()) {
        problems.push(`${where}: rules are out of order`);
      }
      for (const x of live) {
        const key = `${fam}/${def.name}/${String(x.comment)}`;
        const ref = reference?.get(key);
        if (ref !== undefined && ref !== JSON.stringify(x.expr)) problems.push(`${where}: rule ${String(x.comment)} was modified`);
      }
    }
    const sets = new Map([...ofKind(json, 'set'), ...ofKind(json, 'map')].map((s) => [String(s.name), s]));
    for (const def of SETS.filter((s) => s.family === fam)) {
      const s = sets.get(def.name);
      if (!s) {
        problems.push(`set ${fam} ${TABLE} ${def.name} is missing`);
        continue;
      }
      const have = new Set(liveElements(def, s));
      const want = new Set(expected.filter((e) => e.set === def.name).map(canonicalElement));
      for (const e of want) if (!have.has(e)) problems.push(`set ${def.name}: element ${e} is missing`);
      for (const e of have) if (!want.has(e)) problems.push(`set ${def.name}: unexpected element ${e}`);
    }
  }
  if (live.user === undefined) problems.push(`table inet ${USER_TABLE} is missing`);
  else if (!ofKind(live.user, 'chain').some((c) => c.name === USER_CHAIN))
    problems.push(`chain inet ${USER_TABLE} ${USER_CHAIN} is missing`);
  return problems;
}
