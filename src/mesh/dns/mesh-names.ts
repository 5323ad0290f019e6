/**
 * Names across the mesh without a store (weaveDNS's model): each peer owns the records of its
 * own endpoints — a name plus aliases and addresses — and publishes them with a version only it
 * raises; a removal is a tombstone (so a stale copy cannot resurrect the name) that is dropped
 * after a while. Merge per (origin, id) by highest version. Every peer can therefore answer for
 * the whole mesh; records of a dead or forgotten peer vanish with it.
 */
import { InvalidArgumentError } from '../../errors.js';

export interface NameRecord {
  origin: string;
  /** Endpoint or container id, unique within its origin. */
  id: string;
  /** Primary name first, then aliases; lower case, no trailing dot. */
  names: string[];
  addrs: string[];
  version: number;
  deleted: boolean;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower-cased, trailing dot removed, each label checked. */
export function normalizeName(name: string): string {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n.length === 0 || n.length > 253 || !n.split('.').every((l) => LABEL.test(l))) {
    throw new InvalidArgumentError('name', `"${name}" is not a valid DNS name`);
  }
  return n;
}

const key = (origin: string, id: string): string => `${origin}\u0000${id}`;

export class MeshNames {
  private readonly records = new Map<string, NameRecord>();
  /** When each tombstone was first seen here (local clock), for garbage collection. */
  private readonly buried = new Map<string, number>();

  constructor(readonly self: string) {}

  /** Publish (or replace) our record for `id`. Returns the record to gossip. */
  set(id: string, names: readonly string[], addrs: readonly string[], now: number): NameRecord {
    if (names.length === 0) throw new InvalidArgumentError('names', 'at least one name is needed');
    const k = key(this.self, id);
    const prev = this.records.get(k);
    const rec: NameRecord = {
      origin: this.self,
      id,
      names: [...new Set(names.map(normalizeName))],
      addrs: [...new Set(addrs)],
      // The clock lets a restarted peer outbid records of its previous run.
      version: Math.max((prev?.version ?? 0) + 1, Math.floor(now)),
      deleted: false,
    };
    this.records.set(k, rec);
    this.buried.delete(k);
    return { ...rec };
  }

  /** Withdraw our record for `id` (a tombstone); removing what was never added returns undefined. */
  remove(id: string, now: number): NameRecord | undefined {
    const k = key(this.self, id);
    const prev = this.records.get(k);
    if (!prev || prev.deleted) return undefined;
    const rec = { ...prev, names: [], addrs: [], version: Math.max(prev.version + 1, Math.floor(now)), deleted: true };
    this.records.set(k, rec);
    this.buried.set(k, now);
    return { ...rec };
  }

  /**
   * Merge gossiped records; returns those that were news. Records about ourselves from elsewhere
   * are only used to outbid them. `accept(origin)` false skips another origin's records: a peer
   * that left or was forgotten (its records were dropped here) must not have them brought back
   * by a peer that has not heard yet — nothing would ever drop them again.
   */
  merge(incoming: readonly NameRecord[], now: number, accept: (origin: string) => boolean = () => true): NameRecord[] {
    const news: NameRecord[] = [];
    for (const r of incoming) {
      if (r.origin !== this.self && !accept(r.origin)) continue;
      const k = key(r.origin, r.id);
      const cur = this.records.get(k);
      if (cur && cur.version >= r.version) continue;
      if (r.origin === this.self) {
        // A record of a previous run of ours: bury it above its version unless we publish it now.
        if (!cur) {
          const tomb = { ...r, names: [], addrs: [], version: r.version + 1, deleted: true };
          this.records.set(k, tomb);
          this.buried.set(k, now);
          news.push({ ...tomb });
        } else {
          const bumped = { ...cur, version: r.version + 1 };
          this.records.set(k, bumped);
          news.push({ ...bumped });
        }
        continue;
      }
      const rec = { ...r, names: r.deleted ? [] : r.names.map(normalizeName), addrs: r.deleted ? [] : [...r.addrs] };
      this.records.set(k, rec);
      if (rec.deleted) this.buried.set(k, now);
      else this.buried.delete(k);
      news.push({ ...rec });
    }
    return news;
  }

  /** Forget every record of a peer (dead past its grace, or forgotten by the operator). */
  dropPeer(origin: string): number {
    let n = 0;
    for (const [k, r] of this.records) {
      if (r.origin !== origin) continue;
      this.records.delete(k);
      this.buried.delete(k);
      n++;
    }
    return n;
  }

  /** Drop tombstones older than `ttlMs`. */
  collect(now: number, ttlMs: number): void {
    for (const [k, t] of this.buried) {
      if (now - t < ttlMs) continue;
      this.records.delete(k);
      this.buried.delete(k);
    }
  }

  /**
   * Addresses for `name` across the mesh, sorted. `live` (the membership's view) hides records of
   * peers that are not currently alive.
   */
  lookup(name: string, live?: (origin: string) => boolean): string[] {
    let n: string;
    try {
      n = normalizeName(name);
    } catch {
      return []; // an invalid name simply has no records
    }
    const out = new Set<string>();
    for (const r of this.records.values()) {
      if (r.deleted || (live && !live(r.origin))) continue;
      if (r.names.includes(n)) for (const a of r.addrs) out.add(a);
    }
    return [...out].sort();
  }

  /** Names (primary first) registered for an address, for PTR answers. */
  reverse(addr: string, live?: (origin: string) => boolean): string[] {
    const out: string[] = [];
    for (const r of this.records.values()) {
      if (r.deleted || (live && !live(r.origin))) continue;
      if (r.addrs.includes(addr) && r.names[0]) out.push(r.names[0]);
    }
    return out.sort();
  }

  /** Everything, for a full gossip exchange. */
  all(): NameRecord[] {
    return [...this.records.values()].map((r) => ({ ...r, names: [...r.names], addrs: [...r.addrs] }));
  }
}
