/**
 * What the cluster agent needs beyond the Store contract: reads that say at which revision they
 * were taken, watches that resume from a revision and say when they could not (compaction), and
 * leases (keys that vanish when their holder stops renewing). etcd provides all of it.
 */
import type { KvCheck, KvEntry, KvEvent, Store } from './store.js';

export interface ClusterCommit {
  checks?: KvCheck[];
  /** A put with `lease` vanishes when that lease expires or is revoked. */
  puts?: { key: string; value: string; lease?: string }[];
  deletes?: string[];
}

export interface Snapshot {
  entries: KvEntry[];
  /** The store revision the read saw: a watch from revision + 1 misses nothing after it. */
  revision: number;
}

export interface RevisionWatch {
  /** One committed change, with the revision it committed at. */
  onEvent(e: KvEvent, revision: number): void;
  /**
   * The watch cannot continue from where it was (history compacted, or cancelled by the server):
   * the owner must read everything again and start a new watch from that read.
   */
  onLost(reason: string): void;
}

export interface StoreLease {
  readonly id: string;
  readonly ttlMs: number;
  /** Called once if the store says the lease is gone (expired or revoked elsewhere). */
  onLost(cb: (reason: string) => void): void;
  /** When a keepalive last succeeded (ms since epoch). */
  lastRenewed(): number;
  /** Stop renewing and delete the lease (and its keys) in the store. */
  revoke(): Promise<void>;
  /** Stop renewing without revoking: the keys live until the TTL runs out (crash simulation). */
  abandon(): void;
}

export interface ClusterStore extends Store {
  snapshot(prefix: string): Promise<Snapshot>;
  /** Watch prefix for changes committed after `afterRevision`. Returns the stop function. */
  watchFrom(prefix: string, afterRevision: number, w: RevisionWatch): () => void;
  /** Like commit, with leased puts; returns the revision of the commit (or of the failed read). */
  txn(c: ClusterCommit): Promise<{ ok: boolean; revision: number }>;
  /** Grant a lease that is kept alive until revoked or lost. */
  grantLease(ttlMs: number): Promise<StoreLease>;
  /** Remaining time to live of a lease in ms, or undefined when it no longer exists. */
  leaseRemaining(id: string): Promise<number | undefined>;
  /** Count of requests sent to the store since open (for metrics and benchmarks). */
  readonly requests: number;
  /** Told about every bounded request (metrics): operation, milliseconds, success. */
  onRequest: ((op: string, ms: number, ok: boolean) => void) | undefined;
}

/** Whether a Store also offers the cluster operations. */
export function isClusterStore(s: Store): s is ClusterStore {
  return typeof (s as Partial<ClusterStore>).watchFrom === 'function' && typeof (s as Partial<ClusterStore>).grantLease === 'function';
}
