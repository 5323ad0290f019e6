/**
 * The address ring (Weave's IPAM CRDT). The universe [start, end) is cut by tokens; the entry at
 * a token says who owns the addresses from it up to the next token. Rules that make it converge
 * and keep allocations unique without a store:
 *  - only the current owner of a range changes it: it inserts tokens inside its own range and
 *    hands entries to others, raising the entry's version each time;
 *  - merge = union of tokens, per token the highest version wins;
 *  - tokens are never removed, so a version lineage per token is linear: whoever a peer's view
 *    says owns an entry is the only one who can have changed it since.
 * Hence a peer that sees itself as owner really is (until an operator's `forget` of a peer that
 * was not dead: the one unsafe act, exactly as Weave's rmpeer). Two equal versions with
 * different owners can only come from such misuse; the larger name wins everywhere and the
 * conflict is reported.
 */
import { InvalidArgumentError } from '../../errors.js';
import { numToIp4, parseUniverse } from './ipv4.js';

export interface RingEntry {
  token: number;
  owner: string;
  version: number;
}

/** Free-space advertisement a peer publishes about itself (used to pick a donor). */
export interface FreeHint {
  free: number;
  version: number;
}

/** What is gossiped: the whole ring (it is small: a few tokens per peer) plus free-space hints. */
export interface RingState {
  universe: string;
  entries: RingEntry[];
  hints: Record<string, FreeHint>;
}

export interface MergeResult {
  changed: boolean;
  /** Human-readable inconsistencies (two owners at one version, our range taken over). */
  conflicts: string[];
}

export class Ring {
  readonly start: number;
  readonly end: number;
  readonly universe: string;
  private entries: RingEntry[] = [];
  private readonly hints = new Map<string, FreeHint>();

  constructor(
    readonly self: string,
    universe: string,
  ) {
    const u = parseUniverse(universe);
    this.start = u.start;
    this.end = u.end;
    this.universe = universe;
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  /** The network's creator takes the whole universe (only while nobody owns anything). */
  claimAll(): boolean {
    if (!this.empty) return false;
    this.entries = [{ token: this.start, owner: this.self, version: 1 }];
    return true;
  }

  /** Split the universe evenly among `names` (sorted): every peer given the same list builds the same ring. */
  seed(names: readonly string[]): boolean {
    if (!this.empty || names.length === 0) return false;
    const sorted = [...new Set(names)].sort();
    const size = this.end - this.start;
    this.entries = sorted.map((owner, i) => ({ token: this.start + Math.floor((size * i) / sorted.length), owner, version: 0 }));
    return true;
  }

  /** Index of the entry whose range holds `addr`, or -1. */
  private indexOf(addr: number): number {
    let lo = 0;
    let hi = this.entries.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.token <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  private rangeEnd(i: number): number {
    return this.entries[i + 1]?.token ?? this.end;
  }

  ownerOf(addr: number): string | undefined {
    if (addr < this.start || addr >= this.end) return undefined;
    const i = this.indexOf(addr);
    return i < 0 ? undefined : this.entries[i]!.owner;
  }

  /** [start, end) ranges owned by `peer`, one per entry, in address order. */
  rangesOf(peer: string): [number, number][] {
    const out: [number, number][] = [];
    this.entries.forEach((e, i) => {
      if (e.owner === peer) out.push([e.token, this.rangeEnd(i)]);
    });
    return out;
  }

  /** Addresses owned per peer. */
  ownership(): Map<string, number> {
    const m = new Map<string, number>();
    this.entries.forEach((e, i) => m.set(e.owner, (m.get(e.owner) ?? 0) + this.rangeEnd(i) - e.token));
    return m;
  }

  /**
   * Hand [a, b) to `to`. It must lie inside one entry we own. Tokens are inserted at a (unless
   * it is the entry's token, whose owner then changes) and at b (so the rest stays ours).
   */
  transfer(a: number, b: number, to: string): void {
    const i = this.indexOf(a);
    const e = this.entries[i];
    if (!e || e.owner !== this.self || b > this.rangeEnd(i) || b <= a) {
      throw new InvalidArgumentError('range', `${numToIp4(a)}–${numToIp4(b - 1)} is not inside one range owned by ${this.self}`);
    }
    if (b < this.rangeEnd(i)) this.entries.splice(i + 1, 0, { token: b, owner: this.self, version: 1 });
    if (a === e.token) {
      e.owner = to;
      e.version++;
    } else {
      this.entries.splice(i + 1, 0, { token: a, owner: to, version: 1 });
    }
  }

  /** Take every entry of `peer` (operator's forget of a dead peer). Returns the addresses taken over. */
  takeOver(peer: string): number {
    if (peer === this.self) return 0;
    let taken = 0;
    this.entries.forEach((e, i) => {
      if (e.owner !== peer) return;
      e.owner = this.self;
      e.version++;
      taken += this.rangeEnd(i) - e.token;
    });
    this.hints.delete(peer);
    return taken;
  }

  setFreeHint(free: number): boolean {
    const cur = this.hints.get(this.self);
    if (cur?.free === free) return false;
    this.hints.set(this.self, { free, version: (cur?.version ?? 0) + 1 });
    return true;
  }

  hint(peer: string): FreeHint | undefined {
    return this.hints.get(peer);
  }

  state(): RingState {
    return {
      universe: this.universe,
      entries: this.entries.map((e) => ({ ...e })),
      hints: Object.fromEntries([...this.hints].map(([k, v]) => [k, { ...v }])),
    };
  }

  merge(s: RingState): MergeResult {
    if (s.universe !== this.universe) {
      throw new InvalidArgumentError('ring', `a peer uses the range ${s.universe}, this peer ${this.universe}`);
    }
    const conflicts: string[] = [];
    let changed = false;
    const byToken = new Map(this.entries.map((e) => [e.token, e]));
    for (const inc of s.entries) {
      if (!Number.isInteger(inc.token) || inc.token < this.start || inc.token >= this.end) {
        throw new InvalidArgumentError('ring', `token ${inc.token} lies outside ${this.universe}`);
      }
      const cur = byToken.get(inc.token);
      if (!cur) {
        byToken.set(inc.token, { ...inc });
        changed = true;
        continue;
      }
      const sameVersionOtherOwner = inc.version === cur.version && inc.owner !== cur.owner;
      if (inc.version < cur.version || (inc.version === cur.version && !sameVersionOtherOwner)) continue;
      if (sameVersionOtherOwner) {
        conflicts.push(`${numToIp4(inc.token)} claimed by ${cur.owner} and ${inc.owner} at version ${inc.version}`);
        if (inc.owner < cur.owner) continue;
      } else if (cur.owner === this.self && inc.owner !== this.self) {
        // Only a forget of this (live) peer elsewhere can do this: say so loudly.
        conflicts.push(`${numToIp4(inc.token)} owned here was taken over by ${inc.owner}`);
      }
      cur.owner = inc.owner;
      cur.version = inc.version;
      changed = true;
    }
    if (changed) this.entries = [...byToken.values()].sort((a, b) => a.token - b.token);
    for (const [peer, h] of Object.entries(s.hints)) {
      if (peer === this.self) continue;
      const cur = this.hints.get(peer);
      if (!cur || h.version > cur.version) {
        this.hints.set(peer, { ...h });
        changed = true;
      }
    }
    return { changed, conflicts };
  }
}
