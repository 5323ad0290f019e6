/**
 * A ClusterStore in memory for cluster-agent unit tests: MemoryStore's keys and versions, leases
 * whose keys go with them when revoked, and a switch that makes every request fail with
 * WEFT_STORE_UNAVAILABLE (an etcd that is away) without any network or timing. Leases never
 * expire by themselves: a test that wants a lease gone revokes it.
 */
import { StoreUnavailableError } from '../../src/errors.js';
import type { ClusterCommit, ClusterStore, RevisionWatch, Snapshot, StoreLease } from '../../src/store/cluster-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { KvCommit, KvEntry, KvEvent } from '../../src/store/store.js';

export class FakeClusterStore implements ClusterStore {
  readonly backend = 'fake-etcd';
  readonly mem = new MemoryStore();
  /** While true every request fails as an unreachable etcd does. */
  down = false;
  requests = 0;
  onRequest: ((op: string, ms: number, ok: boolean) => void) | undefined;
  private nextLease = 1;
  private readonly leases = new Map<string, Set<string>>();

  private gate(): void {
    this.requests++;
    if (this.down) throw new StoreUnavailableError('fake cluster store is down');
  }

  async get(key: string): Promise<KvEntry | undefined> {
    this.gate();
    return this.mem.get(key);
  }

  async list(prefix: string): Promise<KvEntry[]> {
    this.gate();
    return this.mem.list(prefix);
  }

  async commit(c: KvCommit): Promise<boolean> {
    this.gate();
    return this.mem.commit(c);
  }

  watch(prefix: string, onEvent: (e: KvEvent) => void): () => void {
    return this.mem.watch(prefix, onEvent);
  }

  withLock<T>(name: string, fn: () => Promise<T>, opts?: { timeoutMs?: number; ttlMs?: number }): Promise<T> {
    this.gate();
    return this.mem.withLock(name, fn, opts);
  }

  async close(): Promise<void> {
    await this.mem.close();
  }

  async snapshot(prefix: string): Promise<Snapshot> {
    this.gate();
    return { entries: await this.mem.list(prefix), revision: 0 };
  }

  watchFrom(prefix: string, _afterRevision: number, w: RevisionWatch): () => void {
    return this.mem.watch(prefix, (e) => w.onEvent(e, 0));
  }

  async txn(c: ClusterCommit): Promise<{ ok: boolean; revision: number }> {
    this.gate();
    for (const p of c.puts ?? []) if (p.lease !== undefined && !this.leases.has(p.lease)) return { ok: false, revision: 0 };
    const ok = await this.mem.commit({
      ...(c.checks ? { checks: c.checks } : {}),
      puts: (c.puts ?? []).map(({ key, value }) => ({ key, value })),
      ...(c.deletes ? { deletes: c.deletes } : {}),
    });
    if (ok) for (const p of c.puts ?? []) if (p.lease !== undefined) this.leases.get(p.lease)!.add(p.key);
    return { ok, revision: 0 };
  }

  async grantLease(ttlMs: number): Promise<StoreLease> {
    this.gate();
    const id = String(this.nextLease++);
    this.leases.set(id, new Set());
    return {
      id,
      ttlMs,
      onLost: () => undefined,
      // Always fresh: the agent's health check never sees a stale lease here.
      lastRenewed: () => Date.now(),
      revoke: async () => {
        const keys = this.leases.get(id);
        this.leases.delete(id);
        if (keys && keys.size > 0) await this.mem.commit({ deletes: [...keys] });
      },
      abandon: () => undefined,
    };
  }

  async leaseRemaining(id: string): Promise<number | undefined> {
    this.gate();
    return this.leases.has(id) ? 5000 : undefined;
  }
}
