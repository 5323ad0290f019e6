/**
 * MemoryStore: the Store contract in one process's memory, for unit tests and `memory:`.
 * Same semantics as the SQLite store (revision-numbered versions, code point key order,
 * events delivered after commit), but nothing survives the process.
 */
import { StoreError } from '../errors.js';
import { compareKeys, checkKey, normalizeCommit } from './keys.js';
import { LockQueue } from './lock-queue.js';
import { Watchers } from './watchers.js';
import type { KvCommit, KvEntry, KvEvent, Store } from './store.js';

interface Cell {
  value: string;
  version: number;
}

export class MemoryStore implements Store {
  readonly backend = 'memory';
  private readonly data = new Map<string, Cell>();
  /** Global commit counter: every put in a commit gets it as version, so versions never repeat. */
  private revision = 0;
  private readonly watchers = new Watchers();
  private readonly locks = new LockQueue();
  private closed = false;

  async get(key: string): Promise<KvEntry | undefined> {
    this.assertOpen();
    checkKey(key);
    const c = this.data.get(key);
    return c === undefined ? undefined : { key, value: c.value, version: c.version };
  }

  async list(prefix: string): Promise<KvEntry[]> {
    this.assertOpen();
    const out: KvEntry[] = [];
    for (const [key, c] of this.data) if (key.startsWith(prefix)) out.push({ key, value: c.value, version: c.version });
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  async commit(c: KvCommit): Promise<boolean> {
    this.assertOpen();
    const n = normalizeCommit(c);
    for (const ch of n.checks) if ((this.data.get(ch.key)?.version ?? 0) !== ch.version) return false;
    if (n.puts.length === 0 && n.deletes.length === 0) return true;
    const rev = ++this.revision;
    const events: KvEvent[] = [];
    for (const p of n.puts) {
      this.data.set(p.key, { value: p.value, version: rev });
      events.push({ type: 'put', key: p.key, value: p.value });
    }
    for (const d of n.deletes) if (this.data.delete(d)) events.push({ type: 'delete', key: d });
    // Deliver after the caller's await resumes, as a remote backend would: never re-entrantly.
    if (this.watchers.size > 0 && events.length > 0) {
      queueMicrotask(() => {
        for (const e of events) this.watchers.dispatch(rev, e);
      });
    }
    return true;
  }

  watch(prefix: string, onEvent: (e: KvEvent) => void): () => void {
    this.assertOpen();
    return this.watchers.add(prefix, onEvent, this.revision);
  }

  /**
   * In-process FIFO mutex. ttlMs is accepted for interface parity but unused: a holder can
   * only "crash" by taking the whole process (and this store) down with it.
   */
  async withLock<T>(name: string, fn: () => Promise<T>, opts: { timeoutMs?: number; ttlMs?: number } = {}): Promise<T> {
    this.assertOpen();
    const release = await this.locks.acquire(name, opts.timeoutMs ?? 10_000);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('memory store is closed');
  }
}
