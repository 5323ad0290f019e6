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
  /** Chains whose rules this transaction writes (all of them for a full one). */
  chainsWritten: string[];
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
  return { script: lines.join('\n') + '\n', stats, full: true, chainsWritten: [...c.chains.keys()] };
}

function sameSet(a: NftSetSpec, b: NftSetSpec): boolean {
  return a.type === b.type && (a.verdictMap ?? false) === (b.verdictMap ?? false);
}

function sameRules(a: NftChainSpec, b: NftChainSpec): boolean {
  return a.rules.length === b.rules.length && a.rules.every((r, i) => r === b.rules[i]);
}

/** Element changes, per set: what to add and what to delete (by full element text). */
export interface ElementDelta {
  adds: Map<string, string[]>;
  dels: Map<string, string[]>;
}

/** Sets and chains only: what a transaction needs of a state besides the element changes. */
export type TableShape = Pick<CompiledPolicy, 'table' | 'sets' | 'chains'>;

/** Element changes between two full states (sets only in `next` get all their elements). */
export function elementDelta(prev: CompiledPolicy, next: CompiledPolicy): ElementDelta {
  const delta: ElementDelta = { adds: new Map(), dels: new Map() };
  for (const [name, els] of next.elements) {
    const old = prev.sets.has(name) ? (prev.elements.get(name) ?? new Set<string>()) : new Set<string>();
    const gone = [...old].filter((e) => !els.has(e));
    const fresh = [...els].filter((e) => !old.has(e));
    if (gone.length > 0) delta.dels.set(name, gone);
    if (fresh.length > 0) delta.adds.set(name, fresh);
  }
  return delta;
}

/** Whether `next` can be reached from `prev` without replacing the table. */
function compatible(prev: TableShape, next: TableShape): boolean {
  if (prev.table !== next.table) return false;
  for (const [name, s] of next.sets) {
    const p = prev.sets.get(name);
    if (p && !sameSet(p, s)) return false;
  }
  for (const [name, c] of next.chains) {
    const p = prev.chains.get(name);
    if (p && p.priority !== c.priority) return false;
  }
  return true;
}

/**
 * The minimal transaction from `prev` (what the kernel holds) to `next`, given the element
 * changes: new sets and chains declared, chains whose rules changed flushed and refilled,
 * elements deleted then added (a map element whose verdict changed is deleted, then added back),
 * chains and sets that went away dropped last. Deletes for sets that go away are skipped.
 * Returns undefined when only a full transaction can do it (a base chain's hook or a set's
 * type changed — never between two compilations of this version).
 */
export function shapeTransaction(prev: TableShape, next: TableShape, delta: ElementDelta): PolicyTransaction | undefined {
  if (!compatible(prev, next)) return undefined;
  const t = next.table;
  const stats = emptyStats();
  const lines: string[] = [];
  const written: string[] = [];
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
    written.push(name);
  }
  for (const [name, gone] of delta.dels) {
    if (!prev.sets.has(name) || !next.sets.has(name) || gone.length === 0) continue;
    lines.push(...elementLines('delete', t, name, gone.map(keyOf)));
    stats.elementsRemoved += gone.length;
  }
  for (const [name, fresh] of delta.adds) {
    if (!next.sets.has(name) || fresh.length === 0) continue;
    lines.push(...elementLines('add', t, name, fresh));
    stats.elementsAdded += fresh.length;
  }
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
  return { script: lines.length === 0 ? '' : lines.join('\n') + '\n', stats, full: false, chainsWritten: written };
}

/** The minimal transaction between two full states (the whole table when they are incompatible). */
export function diffTransaction(prev: CompiledPolicy, next: CompiledPolicy): PolicyTransaction {
  return shapeTransaction(prev, next, elementDelta(prev, next)) ?? fullTransaction(next);
}

/** The transaction that takes the kernel from `prev` (undefined: unknown) to `next`. */
export function planTransaction(prev: CompiledPolicy | undefined, next: CompiledPolicy): PolicyTransaction {
  return prev === undefined ? fullTransaction(next) : diffTransaction(prev, next);
}
