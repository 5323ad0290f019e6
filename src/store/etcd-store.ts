/**
 * EtcdStore: the Store contract on a real etcd (v3 API), plus the cluster operations the agent
 * needs. Every key lives under one prefix (default `/weft/v1/`), so weft shares an etcd with
 * others and tests share one etcd without seeing each other.
 *   version   = the key's mod_revision (store-wide, so it only grows, even across re-creation)
 *   commit    = one Txn: compare mod_revision per check (0 = absent), puts then deletes
 *   watch     = an etcd watch from the last revision this client saw; resumes after reconnects
 *   withLock  = a key under `locks/` held with a lease (see etcd-lock.ts)
 * Every operation is bounded: WEFT_STORE_UNAVAILABLE within opTimeoutMs when etcd is away.
 */
import type { Etcd3, IKeyValue, IRangeRequest, IRequestOp, ICompare } from 'etcd3';
import { performance } from 'node:perf_hooks';
import { StoreError } from '../errors.js';
import { checkKey, normalizeCommit } from './keys.js';
import { LockQueue } from './lock-queue.js';
import { bounded, createEtcdClient, DEFAULT_OP_TIMEOUT_MS, type EtcdTlsFiles } from './etcd-client.js';
import { EtcdLease } from './etcd-lease.js';
import { withEtcdLock } from './etcd-lock.js';
import { startRevisionWatch } from './etcd-watch.js';
import type { EtcdTarget } from './etcd-url.js';
import type { ClusterCommit, ClusterStore, RevisionWatch, Snapshot, StoreLease } from './cluster-store.js';
import type { KvCommit, KvEntry, KvEvent, Store } from './store.js';

export interface EtcdStoreOptions {
  target: EtcdTarget;
  tls?: EtcdTlsFiles;
  /** Key prefix of this store inside etcd (ends with "/"). */
  prefix?: string;
  opTimeoutMs?: number;
  /**
   * Skip the round trip at open: the client connects on first use. weftd opens its cluster
   * store this way so that it starts while etcd is away (bad URLs and TLS files still fail here).
   */
  lazy?: boolean;
}

export const DEFAULT_ETCD_PREFIX = '/weft/v1/';

/** The byte string just past every key starting with p (etcd's prefix range end). */
function rangeEnd(p: Buffer): Buffer {
  const end = Buffer.from(p);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key
}

export class EtcdStore implements ClusterStore {
  readonly backend = 'etcd';
  private readonly prefix: Buffer;
  private readonly locks = new LockQueue();
  private readonly stops = new Set<() => void>();
  private readonly leases = new Set<EtcdLease>();
  private closed = false;
  /** Highest store revision seen in any reply: plain watches start after it. */
  private seen = 0;
  private sent = 0;
  /** Told about every bounded request (metrics): operation, milliseconds, success. */
  onRequest: ((op: string, ms: number, ok: boolean) => void) | undefined;

  private constructor(
    readonly client: Etcd3,
    prefix: string,
    readonly opTimeoutMs: number,
    readonly display: string,
  ) {
    this.prefix = Buffer.from(prefix, 'utf8');
  }

  /**
   * Connect and make one round trip, so a wrong or unreachable etcd fails here (within
   * opTimeoutMs); with `lazy`, only the local checks (prefix, TLS files) run here.
   */
  static async open(o: EtcdStoreOptions): Promise<EtcdStore> {
    const prefix = o.prefix ?? DEFAULT_ETCD_PREFIX;
    if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new StoreError(`etcd key prefix "${prefix}" must start and end with "/"`);
    const s = new EtcdStore(createEtcdClient(o), prefix, o.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS, o.target.display);
    if (o.lazy) return s;
    try {
      await s.snapshot('\u0000probe');
    } catch (err) {
      s.client.close();
      throw err;
    }
    return s;
  }

  get requests(): number {
    return this.sent;
  }

  /** The latest store revision this client has seen. */
  get revision(): number {
    return this.seen;
  }

  private key(k: string): Buffer {
    return Buffer.concat([this.prefix, Buffer.from(k, 'utf8')]);
  }

  private unkey(b: Buffer): string {
    return b.subarray(this.prefix.length).toString('utf8');
  }

  private note(header: { revision: string } | undefined): number {
    const rev = Number(header?.revision ?? 0);
    if (rev > this.seen) this.seen = rev;
    return rev;
  }

  private entry(kv: IKeyValue): KvEntry {
    return { key: this.unkey(kv.key), value: kv.value.toString('utf8'), version: Number(kv.mod_revision) };
  }

  /** One bounded request; counts it. */
  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    this.sent++;
    const t0 = performance.now();
    let ok = false;
    try {
      const r = await bounded(op, this.opTimeoutMs, fn);
      ok = true;
      return r;
    } finally {
      this.onRequest?.(op, performance.now() - t0, ok);
    }
  }

  async get(key: string): Promise<KvEntry | undefined> {
    checkKey(key);
    const res = await this.call('get', () => this.client.kv.range({ key: this.key(key) }));
    this.note(res.header);
    const kv = res.kvs[0];
    return kv === undefined ? undefined : this.entry(kv);
  }

  async list(prefix: string): Promise<KvEntry[]> {
    return (await this.snapshot(prefix)).entries;
  }

  async snapshot(prefix: string): Promise<Snapshot> {
    const from = this.key(prefix);
    const req: IRangeRequest = { key: from, range_end: rangeEnd(from), sort_order: 'Ascend', sort_target: 'Key' };
    const res = await this.call('list', () => this.client.kv.range(req));
    return { entries: res.kvs.map((kv) => this.entry(kv)), revision: this.note(res.header) };
  }

  async commit(c: KvCommit): Promise<boolean> {
    return (await this.txn(c)).ok;
  }

  async txn(c: ClusterCommit): Promise<{ ok: boolean; revision: number }> {
    const n = normalizeCommit(c);
    const leaseOf = new Map((c.puts ?? []).filter((p) => p.lease !== undefined).map((p) => [p.key, p.lease!]));
    const compare: ICompare[] = n.checks.map((ch) => ({
      key: this.key(ch.key),
      target: 'Mod',
      result: 'Equal',
      mod_revision: ch.version,
    }));
    // Puts before deletes: the order the other backends apply them, and the order of the events.
    const success: IRequestOp[] = [
      ...n.puts.map((p) => ({
        request_put: { key: this.key(p.key), value: Buffer.from(p.value, 'utf8'), lease: leaseOf.get(p.key) ?? 0 },
      })),
      ...n.deletes.map((d) => ({ request_delete_range: { key: this.key(d) } })),
    ];
    const res = await this.call('commit', () => this.client.kv.txn({ compare, success, failure: [] }));
    return { ok: res.succeeded, revision: this.note(res.header) };
  }

  watch(prefix: string, onEvent: (e: KvEvent) => void): () => void {
    this.assertOpen();
    // The Store contract has no way to say "resync": a watch that loses history restarts from
    // the present and says so.
    const restart = (after: number): (() => void) =>
      this.watchFrom(prefix, after, {
        onEvent: (e) => onEvent(e),
        onLost: (reason) => {
          process.emitWarning(`store watch on "${prefix}" restarted after a gap (${reason})`, { code: 'WEFT_STORE_WATCH' });
          stop();
          stop = restart(this.seen);
        },
      });
    let stop = restart(this.seen);
    return () => stop();
  }

  watchFrom(prefix: string, afterRevision: number, w: RevisionWatch): () => void {
    this.assertOpen();
    this.sent++;
    const stop = startRevisionWatch(this.client, {
      from: this.key(prefix),
      end: rangeEnd(this.key(prefix)),
      afterRevision,
      unkey: (b) => this.unkey(b),
      seen: (rev) => {
        if (rev > this.seen) this.seen = rev;
      },
      watch: w,
    });
    const wrapped = (): void => {
      this.stops.delete(wrapped);
      stop();
    };
    this.stops.add(wrapped);
    return wrapped;
  }

  async grantLease(ttlMs: number): Promise<StoreLease> {
    this.assertOpen();
    const lease = await EtcdLease.grant(this.client, ttlMs, this.opTimeoutMs, () => this.sent++);
    this.leases.add(lease);
    return lease;
  }

  async leaseRemaining(id: string): Promise<number | undefined> {
    const res = await this.call('lease ttl', () => this.client.leaseClient.leaseTimeToLive({ ID: id, keys: false }));
    const ttl = Number(res.TTL);
    return ttl < 0 ? undefined : ttl * 1000;
  }

  async withLock<T>(name: string, fn: () => Promise<T>, opts: { timeoutMs?: number; ttlMs?: number } = {}): Promise<T> {
    checkKey(name, 'lock');
    this.assertOpen();
    const timeoutMs = opts.timeoutMs ?? 10_000;
    // Waiters in this process queue here; only the head competes with other processes.
    const releaseLocal = await this.locks.acquire(name, timeoutMs);
    try {
      return await withEtcdLock(this, name, fn, { timeoutMs, ttlMs: opts.ttlMs ?? 30_000 });
    } finally {
      releaseLocal();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const stop of [...this.stops]) stop();
    // Leases still held (locks) are revoked so others need not wait for their TTL.
    const revokes = [...this.leases].filter((l) => l.active).map((l) => l.revoke());
    const results = await Promise.allSettled(revokes);
    for (const r of results) {
      if (r.status === 'rejected')
        process.emitWarning(`etcd store close: revoking a lease failed: ${String(r.reason)}`, { code: 'WEFT_STORE' });
    }
    this.closed = true;
    this.client.close();
  }

  /** Forget a lease the caller revoked or abandoned itself. */
  dropLease(l: StoreLease): void {
    this.leases.delete(l as EtcdLease);
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('etcd store is closed');
  }
}

/** Whether a Store is an EtcdStore (for the few places that need etcd specifics). */
export function isEtcdStore(s: Store): s is EtcdStore {
  return s instanceof EtcdStore;
}
