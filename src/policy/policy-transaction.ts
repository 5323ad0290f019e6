/**
 * nft scripts for the policy table: the whole table in one transaction, or the minimal change
 * from one compiled state to the next (new sets and chains declared, changed chains flushed and
 * refilled, elements added and deleted, unused chains and sets dropped last). Either script is
 * applied with one `nft -f`, so it lands whole or not at all. Pure.
 */
import { POLICY_FAMILY } from './nft-names.js';
import type { CompiledPolicy, NftChainSpec, NftSetSpec } from './policy-compiler.js';

export interface TransactionStats {
  setsAdded: number;
  setsRemoved: number;
  chainsAdded: number;
  chainsRemoved: number;
  /** Existing chains whose rules were replaced. */
  chainsRewritten: number;
  /** Rules written (in added or rewritten chains). */
  rulesWritten: number;
  elementsAdded: number;
  elementsRemoved: number;
}

export interface PolicyTransaction {
  /** Script for `nft -f -`; empty when nothing changes. */
  script: string;
  stats: TransactionStats;
  /** True when this replaces the whole table. */
  full: boolean;
}

const emptyStats = (): TransactionStats => ({
  setsAdded: 0,
  setsRemoved: 0,
  chainsAdded: 0,
  chainsRemoved: 0,
  chainsRewritten: 0,
  rulesWritten: 0,
  elementsAdded: 0,
  elementsRemoved: 0,
});

function setDecl(t: string, s: NftSetSpec): string {
  const type = s.verdictMap ? `${s.type} : verdict` : s.type;
  return `add ${s.verdictMap ? 'map' : 'set'} ${POLICY_FAMILY} ${t} ${s.name} { type ${type}; }`;
}

function chainDecl(t: string, c: NftChainSpec): string {
  const base = c.priority === undefined ? '' : ` { type filter hook forward priority ${c.priority}; policy accept; }`;
  return `add chain ${POLICY_FAMILY} ${t} ${c.name}${base}`;
}

function ruleLines(t: string, c: NftChainSpec): string[] {
  return c.rules.map((r) => `add rule ${POLICY_FAMILY} ${t} ${c.name} ${r}`);
}

/** Elements in batches: one command per set and at most `chunk` elements per command. */
function elementLines(verb: 'add' | 'delete', t: string, set: string, els: readonly string[], chunk = 2000): string[] {
  const out: string[] = [];
  for (let i = 0; i < els.length; i += chunk)
    out.push(`${verb} element ${POLICY_FAMILY} ${t} ${set} { ${els.slice(i, i + chunk).join(', ')} }`);
  return out;
}

/** Delete by key: a map element is named by its key alone. */
function keyOf(element: string): string {
  const i = element.indexOf(' : ');
  return i === -1 ? element : element.slice(0, i);
}

/** The whole table, replacing whatever weft-policy table exists, in one transaction. */
export function fullTransaction(c: CompiledPolicy): PolicyTransaction {
  const t = c.table;
  const stats = emptyStats();
  const lines = [`add table ${POLICY_FAMILY} ${t}`, `delete table ${POLICY_FAMILY} ${t}`, `add table ${POLICY_FAMILY} ${t}`];
  for (const s of c.sets.values()) lines.push(setDecl(t, s));
  for (const ch of c.chains.values()) lines.push(chainDecl(t, ch));
  for (const [set, els] of c.elements) {
    lines.push(...elementLines('add', t, set, [...els]));
    stats.elementsAdded += els.size;
  }
  for (const ch of c.chains.values()) {
    lines.push(...ruleLines(t, ch));
    stats.rulesWritten += ch.rules.length;
  }
  stats.setsAdded = c.sets.size;
  stats.chainsAdded = c.chains.size;
  return { script: lines.join('\n') + '\n', stats, full: true };
}

function sameSet(a: NftSetSpec, b: NftSetSpec): boolean {
  return a.type === b.type && (a.verdictMap ?? false) === (b.verdictMap ?? false);
}

function sameRules(a: NftChainSpec, b: NftChainSpec): boolean {
  return a.rules.length === b.rules.length && a.rules.every((r, i) => r === b.rules[i]);
}

/**
 * The minimal transaction from `prev` (what the kernel holds) to `next`. Falls back to the full
 * table when a base chain's hook changes or a set changes type (neither happens between two
 * compilations of this version, but a stored state from another version could differ).
 */
export function diffTransaction(prev: CompiledPolicy, next: CompiledPolicy): PolicyTransaction {
  const t = next.table;
  if (prev.table !== t) return fullTransaction(next);
  for (const [name, s] of next.sets) {
    const p = prev.sets.get(name);
    if (p && !sameSet(p, s)) return fullTransaction(next);
  }
  for (const [name, c] of next.chains) {
    const p = prev.chains.get(name);
    if (p && p.priority !== c.priority) return fullTransaction(next);
  }
  const stats = emptyStats();
  const lines: string[] = [];
  for (const [name, s] of next.sets) {
    if (!prev.sets.has(name)) {
      lines.push(setDecl(t, s));
      stats.setsAdded++;
    }
  }
  for (const [name, c] of next.chains) {
    if (!prev.chains.has(name)) {
      lines.push(chainDecl(t, c));
      stats.chainsAdded++;
    }
  }
  // Flush chains that go away first: they may hold the last references to sets removed below.
  for (const name of prev.chains.keys()) if (!next.chains.has(name)) lines.push(`flush chain ${POLICY_FAMILY} ${t} ${name}`);
  for (const [name, c] of next.chains) {
    const p = prev.chains.get(name);
    if (p && sameRules(p, c)) continue;
    if (p) {
      lines.push(`flush chain ${POLICY_FAMILY} ${t} ${name}`);
      stats.chainsRewritten++;
    }
    lines.push(...ruleLines(t, c));
    stats.rulesWritten += c.rules.length;
  }
  const adds: string[] = [];
  for (const [name, els] of next.elements) {
    const old = prev.sets.has(name) ? (prev.elements.get(name) ?? new Set<string>()) : new Set<string>();
    const gone = [...old].filter((e) => !els.has(e));
    const fresh = [...els].filter((e) => !old.has(e));
    if (gone.length > 0) lines.push(...elementLines('delete', t, name, gone.map(keyOf)));
    if (fresh.length > 0) adds.push(...elementLines('add', t, name, fresh));
    stats.elementsRemoved += gone.length;
    stats.elementsAdded += fresh.length;
  }
  // Deletes before adds: a map element whose verdict changed is deleted, then added back.
  lines.push(...adds);
  for (const name of prev.chains.keys()) {
    if (!next.chains.has(name)) {
      lines.push(`delete chain ${POLICY_FAMILY} ${t} ${name}`);
      stats.chainsRemoved++;
    }
  }
  for (const [name, s] of prev.sets) {
    if (!next.sets.has(name)) {
      lines.push(`delete ${s.verdictMap ? 'map' : 'set'} ${POLICY_FAMILY} ${t} ${name}`);
      stats.setsRemoved++;
    }
  }
  return { script: lines.length === 0 ? '' : lines.join('\n') + '\n', stats, full: false };
}

/** The transaction that takes the kernel from `prev` (undefined: unknown) to `next`. */
export function planTransaction(prev: CompiledPolicy | undefined, next: CompiledPolicy): PolicyTransaction {
  return prev === undefined ? fullTransaction(next) : diffTransaction(prev, next);
}
