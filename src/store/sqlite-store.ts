/**
 * SqliteStore: the default single-host Store, one SQLite file shared by every weft process on
 * the host. WAL lets readers run beside the one writer; every write is a BEGIN IMMEDIATE
 * transaction so processes serialize on the write lock (waiting up to busy_timeout) instead
 * of failing with SQLITE_BUSY half-way through. Watches poll a change log, so they see
 * commits made by other processes; locks are rows with an owner and an expiry.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { StoreError, TimeoutError, WeftError } from '../errors.js';
import { checkKey, normalizeCommit, prefixEnd, type NormalizedCommit } from './keys.js';
import { LockQueue } from './lock-queue.js';
import { migrate } from './sqlite-schema.js';
import { Watchers } from './watchers.js';
import type { KvCommit, KvEntry, KvEvent, Store } from './store.js';

export interface SqliteStoreOptions {
  /** How often watchers poll the change log for commits from any process (ms). */
  pollIntervalMs?: number;
  /** How long a write waits for another process's write lock before failing (ms). */
  busyTimeoutMs?: number;
  /** Change-log rows kept; a watcher more than this many changes behind misses events. */
  changeLogKeep?: number;
}

interface ChangeRow {
  rev: number;
  key: string;
  type: 'put' | 'delete';
  value: string | null;
}

const POLL_BATCH = 1000;
const PRUNE_EVERY_COMMITS = 256;

function prepareAll(db: Database.Database) {
  const entry = 'SELECT key, value, version FROM kv';
  return {
    get: db.prepare<[string], KvEntry>(`${entry} WHERE key = ?`),
    version: db.prepare<[string], number>('SELECT version FROM kv WHERE key = ?').pluck(),
    listAll: db.prepare<[], KvEntry>(`${entry} ORDER BY key`),
    listFrom: db.prepare<[string], KvEntry>(`${entry} WHERE key >= ? ORDER BY key`),
    listRange: db.prepare<[string, string], KvEntry>(`${entry} WHERE key >= ? AND key < ? ORDER BY key`),
    // UPDATE then SELECT: measurably cheaper than UPDATE … RETURNING in better-sqlite3.
    bumpRevision: db.prepare<[]>("UPDATE meta SET value = value + 1 WHERE key = 'revision'"),
    revision: db.prepare<[], number>("SELECT value FROM meta WHERE key = 'revision'").pluck(),
    upsert: db.prepare<[string, string, number]>(
      'INSERT INTO kv (key, value, version) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version',
    ),
    delete: db.prepare<[string]>('DELETE FROM kv WHERE key = ?'),
    logPut: db.prepare<[string, string]>("INSERT INTO changes (key, type, value) VALUES (?, 'put', ?)"),
    logDelete: db.prepare<[string]>("INSERT INTO changes (key, type, value) VALUES (?, 'delete', NULL)"),
    prune: db.prepare<[number]>('DELETE FROM changes WHERE rev <= ?'),
    headRev: db.prepare<[], number>('SELECT coalesce(max(rev), 0) FROM changes').pluck(),
    changesSince: db.prepare<[number, number], ChangeRow>('SELECT rev, key, type, value FROM changes WHERE rev > ? ORDER BY rev LIMIT ?'),
    // Take the lock when it is free or its holder's lease ran out.
    lockTake: db.prepare<{ name: string; owner: string; expires: number; now: number }>(
      'INSERT INTO locks (name, owner, expires_ms) VALUES (@name, @owner, @expires) ' +
        'ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms WHERE locks.expires_ms <= @now',
    ),
    lockRefresh: db.prepare<[number, string, string]>('UPDATE locks SET expires_ms = ? WHERE name = ? AND owner = ?'),
    lockRelease: db.prepare<[string, string]>('DELETE FROM locks WHERE name = ? AND owner = ?'),
    lockOwner: db.prepare<[string], string>('SELECT owner FROM locks WHERE name = ?').pluck(),
    lockSteal: db.prepare<[string, number, string, string]>('UPDATE locks SET owner = ?, expires_ms = ? WHERE name = ? AND owner = ?'),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether the process named in a lock owner ("<pid>-<random>") still exists. */
function ownerAlive(owner: string): boolean {
  const pid = Number(owner.split('-')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export class SqliteStore implements Store {
  readonly backend = 'sqlite';
  private readonly stmts: ReturnType<typeof prepareAll>;
  private readonly commitTx: Database.Transaction<(n: NormalizedCommit) => boolean>;
  private readonly takeTx: Database.Transaction<(name: string, owner: string, ttlMs: number) => boolean>;
  private readonly watchers = new Watchers();
  private readonly localLocks = new LockQueue();
  /** Lock rows this instance holds (name → owner), released on close. */
  private readonly held = new Map<string, string>();
  private readonly pollIntervalMs: number;
  private readonly changeLogKeep: number;
  /** Last change-log rev delivered to watchers. */
  private cursor = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private pollSoon = false;
  private commitsSincePrune = 0;
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
    opts: SqliteStoreOptions,
  ) {
    this.pollIntervalMs = opts.pollIntervalMs ?? 50;
    // At least one row must survive pruning: the newest rev is what keeps revs growing.
    this.changeLogKeep = Math.max(1, opts.changeLogKeep ?? 10_000);
    this.stmts = prepareAll(db);
    this.commitTx = db.transaction((n: NormalizedCommit) => this.applyCommit(n));
    this.takeTx = db.transaction((name: string, owner: string, ttlMs: number) => {
      const now = Date.now();
      if (this.stmts.lockTake.run({ name, owner, expires: now + ttlMs, now }).changes === 1) return true;
      // A holder that was SIGKILLed never releases; its lease would block everyone for a full
      // TTL. The store file is host-local, so the owner's pid says whether it is still alive.
      const holder = this.stmts.lockOwner.get(name);
      if (holder !== undefined && !ownerAlive(holder)) return this.stmts.lockSteal.run(owner, now + ttlMs, name, holder).changes === 1;
      return false;
    });
  }

  /** Open (creating it and its parent directories, mode 0700, if needed) and migrate a store file. */
  static open(file: string, opts: SqliteStoreOptions = {}): SqliteStore {
    const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    let db: Database.Database;
    try {
      if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
      db = new Database(file, { timeout: busyTimeoutMs });
    } catch (err) {
      throw new StoreError(`cannot open store ${file}: ${(err as Error).message}`, err);
    }
    try {
      db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: a power loss may drop the last commits but never corrupts the file;
      // weft re-derives kernel state on resync, so that trade buys ~10x faster commits.
      db.pragma('synchronous = NORMAL');
      migrate(db, file);
      return new SqliteStore(db, file, opts);
    } catch (err) {
      db.close();
      if (err instanceof WeftError) throw err;
      throw new StoreError(`cannot open store ${file}: ${(err as Error).message}`, err);
    }
  }

  async get(key: string): Promise<KvEntry | undefined> {
    checkKey(key);
    return this.guard('get', () => this.stmts.get.get(key));
  }

  async list(prefix: string): Promise<KvEntry[]> {
    return this.guard('list', () => {
      if (prefix === '') return this.stmts.listAll.all();
      const end = prefixEnd(prefix);
      return end === undefined ? this.stmts.listFrom.all(prefix) : this.stmts.listRange.all(prefix, end);
    });
  }

  async commit(c: KvCommit): Promise<boolean> {
    const n = normalizeCommit(c);
    const ok = this.guard('commit', () => this.commitTx.immediate(n));
    if (ok && this.watchers.size > 0 && (n.puts.length > 0 || n.deletes.length > 0)) this.schedulePoll();
    return ok;
  }

  watch(prefix: string, onEvent: (e: KvEvent) => void): () => void {
    const head = this.guard('watch', () => this.stmts.headRev.get() as number);
    if (this.watchers.size === 0) {
      this.cursor = head;
      this.pollTimer = setInterval(() => this.poll(), this.pollIntervalMs);
      this.pollTimer.unref();
    }
    const remove = this.watchers.add(prefix, onEvent, head);
    return () => {
      remove();
      if (this.watchers.size === 0) this.stopPolling();
    };
  }

  async withLock<T>(name: string, fn: () => Promise<T>, opts: { timeoutMs?: number; ttlMs?: number } = {}): Promise<T> {
    checkKey(name, 'lock');
    this.assertOpen();
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const ttlMs = opts.ttlMs ?? 30_000;
    const deadline = performance.now() + timeoutMs;
    // Queue behind holders in this process first, then compete with other processes.
    const releaseLocal = await this.localLocks.acquire(name, timeoutMs);
    try {
      const owner = await this.acquireRow(name, ttlMs, timeoutMs, deadline);
      // Renew the lease while fn runs so a long, live holder is never mistaken for a dead one.
      const renew = setInterval(() => this.renewRow(name, owner, ttlMs), Math.max(5, Math.floor(ttlMs / 3)));
      renew.unref();
      try {
        return await fn();
      } finally {
        clearInterval(renew);
        this.releaseRow(name, owner);
      }
    } finally {
      releaseLocal();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopPolling();
    this.watchers.clear();
    for (const [name, owner] of this.held) this.releaseRow(name, owner);
    this.closed = true;
    this.db.close();
  }

  private applyCommit(n: NormalizedCommit): boolean {
    const s = this.stmts;
    for (const ch of n.checks) if ((s.version.get(ch.key) ?? 0) !== ch.version) return false;
    if (n.puts.length === 0 && n.deletes.length === 0) return true;
    s.bumpRevision.run();
    const rev = s.revision.get() as number;
    let lastChange = 0;
    for (const p of n.puts) {
      s.upsert.run(p.key, p.value, rev);
      lastChange = Number(s.logPut.run(p.key, p.value).lastInsertRowid);
    }
    for (const d of n.deletes) {
      if (s.delete.run(d).changes > 0) lastChange = Number(s.logDelete.run(d).lastInsertRowid);
    }
    if (++this.commitsSincePrune >= PRUNE_EVERY_COMMITS && lastChange > this.changeLogKeep) {
      this.commitsSincePrune = 0;
      s.prune.run(lastChange - this.changeLogKeep);
    }
    return true;
  }

  private async acquireRow(name: string, ttlMs: number, timeoutMs: number, deadline: number): Promise<string> {
    const owner = `${process.pid}-${randomBytes(6).toString('hex')}`;
    let backoff = 1;
    for (;;) {
      this.assertOpen();
      if (this.guard('lock', () => this.takeTx.immediate(name, owner, ttlMs))) {
        this.held.set(name, owner);
        return owner;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new TimeoutError(`lock "${name}"`, timeoutMs);
      await sleep(Math.min(left, backoff * (0.5 + Math.random())));
      backoff = Math.min(backoff * 2, 50);
    }
  }

  private renewRow(name: string, owner: string, ttlMs: number): void {
    if (this.closed) return;
    try {
      if (this.stmts.lockRefresh.run(Date.now() + ttlMs, name, owner).changes === 0) {
        process.emitWarning(`store lock "${name}" was lost: its lease expired and another holder took it`, { code: 'WEFT_STORE_LOCK' });
      }
    } catch (err) {
      process.emitWarning(`store lock "${name}": renewing the lease failed: ${String(err)}`, { code: 'WEFT_STORE_LOCK' });
    }
  }

  /** Best effort: a release that fails must not mask fn's outcome; the lease expires anyway. */
  private releaseRow(name: string, owner: string): void {
    if (this.held.get(name) === owner) this.held.delete(name);
    if (this.closed) return;
    try {
      this.stmts.lockRelease.run(name, owner);
    } catch (err) {
      process.emitWarning(`store lock "${name}": release failed, it expires with its lease: ${String(err)}`, { code: 'WEFT_STORE_LOCK' });
    }
  }

  private schedulePoll(): void {
    if (this.pollSoon) return;
    this.pollSoon = true;
    setImmediate(() => {
      this.pollSoon = false;
      this.poll();
    });
  }

  /** Deliver change-log rows after the cursor, in rev order, to matching watchers. */
  private poll(): void {
    if (this.closed || this.watchers.size === 0) return;
    try {
      for (;;) {
        const rows = this.stmts.changesSince.all(this.cursor, POLL_BATCH);
        const first = rows[0];
        if (first && first.rev > this.cursor + 1) {
          process.emitWarning(`store watch fell behind: changes ${this.cursor + 1}..${first.rev - 1} were pruned before delivery`, {
            code: 'WEFT_STORE_WATCH',
          });
        }
        for (const r of rows) {
          if (this.closed) return;
          this.cursor = r.rev;
          const e: KvEvent = r.type === 'put' ? { type: 'put', key: r.key, value: r.value ?? '' } : { type: 'delete', key: r.key };
          this.watchers.dispatch(r.rev, e);
        }
        if (rows.length < POLL_BATCH) return;
      }
    } catch (err) {
      // Transient (e.g. the file is busy being checkpointed): the next tick retries from the cursor.
      process.emitWarning(`store watch poll failed: ${String(err)}`, { code: 'WEFT_STORE_WATCH' });
    }
  }

  private stopPolling(): void {
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError(`store ${this.file} is closed`);
  }

  /** Run a database call, turning driver errors (SQLITE_BUSY, I/O) into StoreError. */
  private guard<T>(what: string, fn: () => T): T {
    this.assertOpen();
    try {
      return fn();
    } catch (err) {
      if (err instanceof WeftError) throw err;
      const code = (err as { code?: string }).code;
      throw new StoreError(`store ${what} failed${code ? ` (${code})` : ''}: ${(err as Error).message}`, err);
    }
  }
}
