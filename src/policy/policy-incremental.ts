/**
 * Incremental compilation: the same result as compilePolicies() + diffTransaction(), at a cost
 * that follows what changed rather than how many endpoints exist. The structure (sets, chains)
 * is rebuilt from policies and networks each time — that is small; each endpoint's elements are
 * cached with the input they came from and recomputed only when that endpoint changed (or when
 * the selectors and policies that decide membership changed). Pure; state lives in the object.
 *
 *   const plan = compiler.plan(input);   // validate, compute the transaction; nothing committed
 *   …apply plan.transaction (or plan.full() if the kernel refused it)…
 *   compiler.commit(plan);               // now this is the state the next plan starts from
 */
import { type CompiledPolicy, type PolicyStructure, compileStructure, endpointElements } from './policy-compiler.js';
import { InvalidArgumentError } from '../errors.js';
import { normalizeEndpoint, normalizeNetworks, normalizePolicies } from './policy-model.js';
import { type ElementDelta, type PolicyTransaction, fullTransaction, shapeTransaction } from './policy-transaction.js';
import type { PolicyEndpoint, PolicyInput } from './policy-types.js';

interface Entry {
  /** The endpoint as given, serialised: equal text = unchanged endpoint. */
  raw: string;
  ep: PolicyEndpoint;
  /** Its elements as "set\telement". */
  elements: string[];
}

export interface PolicyPlan {
  /** The transaction from the committed state (the whole table if there is none). */
  readonly transaction: PolicyTransaction;
  /** The whole table for the planned state, for when the kernel refused the transaction. */
  full(): PolicyTransaction;
  /** Endpoints whose elements were recomputed (the rest came from the cache). */
  readonly recomputed: number;
  readonly structure: PolicyStructure;
  readonly entries: Map<string, Entry>;
  readonly delta: ElementDelta;
  readonly owners: OwnerChange;
}

/** Addresses given up (by changed or removed endpoints) and taken (by changed ones). */
interface OwnerChange {
  released: Set<string>;
  claimed: Map<string, string>;
}

const SEP = '\t';
const split = (e: string): [string, string] => {
  const i = e.indexOf(SEP);
  return [e.slice(0, i), e.slice(i + 1)];
};

function push(map: Map<string, string[]>, set: string, el: string): void {
  const list = map.get(set);
  if (list) list.push(el);
  else map.set(set, [el]);
}

export class IncrementalPolicyCompiler {
  private structure: PolicyStructure | undefined;
  private entries = new Map<string, Entry>();
  private elements = new Map<string, Set<string>>();
  /** Committed address → endpoint id, so only changed endpoints need an ownership check. */
  private owners = new Map<string, string>();
  /** False until a commit, and after forget(): the next plan is a full transaction. */
  private inSync = false;

  /** The committed state as a compiled table (its element sets are live: do not mutate). */
  get compiled(): CompiledPolicy | undefined {
    const s = this.structure;
    return s ? { table: s.table, sets: s.sets, chains: s.chains, elements: this.elements } : undefined;
  }

  /** Plan the change to `input`; throws (naming the field) on invalid input, changing nothing. */
  plan(input: PolicyInput): PolicyPlan {
    const networks = normalizeNetworks(input.networks);
    const structure = compileStructure(normalizePolicies(input.policies), [...networks.values()]);
    const sameCtx = this.structure !== undefined && this.structure.ctxKey === structure.ctxKey;
    const entries = new Map<string, Entry>();
    const changed: { i: number; ep: PolicyEndpoint }[] = [];
    let recomputed = 0;
    input.endpoints.forEach((ep, i) => {
      if (entries.has(ep.id)) throw new InvalidArgumentError(`endpoints[${i}].id`, `endpoint "${ep.id}" is listed twice`);
      const raw = JSON.stringify([ep.id, ep.network, ep.labels, ep.addresses, ep.local]);
      const old = this.entries.get(ep.id);
      const same = old !== undefined && old.raw === raw && networks.has(old.ep.network);
      if (same && sameCtx) return void entries.set(ep.id, old);
      const n = same ? old.ep : normalizeEndpoint(ep, `endpoints[${i}]`, networks);
      if (!same) changed.push({ i, ep: n });
      entries.set(n.id, { raw, ep: n, elements: endpointElements(structure.ctx, n).map(([s, e]) => s + SEP + e) });
      recomputed++;
    });
    const owners = this.claimAddresses(entries, changed);

    const delta: ElementDelta = { adds: new Map(), dels: new Map() };
    for (const [id, e] of entries) {
      const old = this.entries.get(id);
      if (old === e) continue;
      const before = new Set(old?.elements ?? []);
      const after = new Set(e.elements);
      for (const x of after) if (!before.has(x)) push(delta.adds, ...split(x));
      for (const x of before) if (!after.has(x)) push(delta.dels, ...split(x));
    }
    for (const [id, old] of this.entries) if (!entries.has(id)) for (const x of old.elements) push(delta.dels, ...split(x));

    const full = (): PolicyTransaction => {
      const elements = new Map<string, Set<string>>([...structure.sets.keys()].map((k) => [k, new Set<string>()]));
      for (const e of entries.values()) {
        for (const x of e.elements) {
          const [set, el] = split(x);
          elements.get(set)!.add(el);
        }
      }
      return fullTransaction({ table: structure.table, sets: structure.sets, chains: structure.chains, elements });
    };
    const incremental = this.inSync && this.structure ? shapeTransaction(this.structure, structure, delta) : undefined;
    return { transaction: incremental ?? full(), full, recomputed, structure, entries, delta, owners };
  }

  /** Every address has one owner: checked for changed endpoints against everyone else. */
  private claimAddresses(entries: ReadonlyMap<string, Entry>, changed: readonly { i: number; ep: PolicyEndpoint }[]): OwnerChange {
    const released = new Set<string>();
    for (const { ep } of changed) for (const a of this.entries.get(ep.id)?.ep.addresses ?? []) released.add(a);
    for (const [id, old] of this.entries) if (!entries.has(id)) for (const a of old.ep.addresses) released.add(a);
    const claimed = new Map<string, string>();
    for (const { i, ep } of changed) {
      for (const a of ep.addresses) {
        const holder = claimed.get(a) ?? (released.has(a) ? undefined : this.owners.get(a));
        if (holder !== undefined && holder !== ep.id)
          throw new InvalidArgumentError(`endpoints[${i}].addresses`, `${a} also belongs to endpoint "${holder}"`);
        claimed.set(a, ep.id);
      }
    }
    return { released, claimed };
  }

  /** Make a planned state the current one (call once the kernel holds it). */
  commit(plan: PolicyPlan): CompiledPolicy {
    const { structure, delta } = plan;
    for (const name of [...this.elements.keys()]) if (!structure.sets.has(name)) this.elements.delete(name);
    for (const name of structure.sets.keys()) if (!this.elements.has(name)) this.elements.set(name, new Set());
    for (const [set, els] of delta.dels) {
      const s = this.elements.get(set);
      if (s) for (const e of els) s.delete(e);
    }
    for (const [set, els] of delta.adds) {
      const s = this.elements.get(set)!;
      for (const e of els) s.add(e);
    }
    for (const a of plan.owners.released) this.owners.delete(a);
    for (const [a, id] of plan.owners.claimed) this.owners.set(a, id);
    this.structure = structure;
    this.entries = plan.entries;
    this.inSync = true;
    return this.compiled!;
  }

  /** The kernel's state is unknown (a transaction failed): the next plan replaces the table. */
  forget(): void {
    this.inSync = false;
  }
}
