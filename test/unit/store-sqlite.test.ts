import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { SCHEMA_VERSION } from '../../src/store/sqlite-schema.js';
import { WeftError } from '../../src/errors.js';
import type { KvEvent } from '../../src/store/store.js';
import { runStoreConformance, waitFor } from './store-conformance.js';

const tmpDirs: string[] = [];
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-store-'));
  tmpDirs.push(d);
  return d;
}
const tmpDb = () => path.join(tmpDir(), 'weft.db');

runStoreConformance('sqlite', async () => SqliteStore.open(tmpDb()));

const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'store-sqlite-child.js');

/** Start the child script; `result` resolves with its last JSON line, rejects on failure or timeout. */
function startChild(args: string[], timeoutMs = 20_000): { proc: ChildProcess; lines: unknown[]; result: Promise<unknown> } {
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_STORE_CHILD: '1' };
  delete env.NODE_TEST_CONTEXT;
  const proc = spawn(process.execPath, [childScript, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  const lines: unknown[] = [];
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    let i;
    while ((i = stdout.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(stdout.slice(0, i)));
      stdout = stdout.slice(i + 1);
    }
  });
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const result = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`child ${args[0]} timed out after ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(proc);
      if (code === 0) resolve(lines[lines.length - 1]);
      else reject(new Error(`child ${args[0]} exited ${code ?? signal}; stderr: ${stderr}`));
    });
  });
  // eslint-disable-next-line no-restricted-syntax -- the test that awaits `result` observes its failure
  result.catch(() => {});
  return { proc, lines, result };
}

function isCode(code: string) {
  return (err: unknown) => err instanceof WeftError && err.code === code;
}

describe('sqlite store specifics', () => {
  it('creates parent directories 0700, uses WAL and records the schema version', async () => {
    const root = tmpDir();
    const file = path.join(root, 'a', 'b', 'weft.db');
    const s = SqliteStore.open(file);
    await s.close();
    assert.equal(fs.statSync(path.join(root, 'a')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(root, 'a', 'b')).mode & 0o777, 0o700);
    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      const tables = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
      for (const t of ['changes', 'kv', 'locks', 'meta']) assert.ok(tables.includes(t), `table ${t} in ${tables.join(',')}`);
    } finally {
      raw.close();
    }
  });

  it('keeps data across reopen and versions keep growing', async () => {
    const file = tmpDb();
    const a = SqliteStore.open(file);
    await a.commit({ puts: [{ key: 'k', value: '1' }] });
    const v1 = (await a.get('k'))!.version;
    await a.commit({ deletes: ['k'] });
    await a.close();
    const b = SqliteStore.open(file);
    assert.equal(await b.get('k'), undefined);
    await b.commit({ puts: [{ key: 'k', value: '2' }] });
    const e = (await b.get('k'))!;
    assert.equal(e.value, '2');
    assert.ok(e.version > v1);
    await b.close();
  });

  it('refuses a schema newer than it supports, and leaves the file alone', async () => {
    const file = tmpDb();
    await SqliteStore.open(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(
      () => SqliteStore.open(file),
      (err: unknown) => isCode('WEFT_STORE')(err) && /schema version 2, newer than the 1/.test((err as Error).message),
    );
    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
    check.close();
  });

  it('reports an unopenable path as a store error', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'file'), '');
    assert.throws(() => SqliteStore.open(path.join(dir, 'file', 'weft.db')), isCode('WEFT_STORE'));
  });

  it('keeps the change log bounded', async () => {
    const file = tmpDb();
    const s = SqliteStore.open(file, { changeLogKeep: 100 });
    for (let i = 0; i < 1000; i++) await s.commit({ puts: [{ key: `k/${i % 10}`, value: String(i) }] });
    await s.close();
    const raw = new Database(file, { readonly: true });
    const n = raw.prepare('SELECT count(*) FROM changes').pluck().get() as number;
    raw.close();
    assert.ok(n > 0 && n <= 100 + 256, `change log has ${n} rows`);
  });
});

describe('sqlite store across processes', { timeout: 60_000 }, () => {
  for (const strategy of ['read', 'blind'])
    it(`two processes racing create-only commits (${strategy}) claim every key exactly once`, async () => {
      const file = tmpDb();
      await SqliteStore.open(file).close(); // migrate once so the race is about the data
      const startAt = Date.now() + 400;
      const runs = ['A', 'B'].map((who) => startChild(['alloc', file, who, '200', String(startAt), strategy]).result);
      const [a, b] = (await Promise.all(runs)) as [{ claimed: number[]; conflicts: number }, { claimed: number[]; conflicts: number }];
      console.log(`alloc race (${strategy}): lost create-only checks A=${a.conflicts} B=${b.conflicts}`);
      assert.equal(a.claimed.length, 200);
      assert.equal(b.claimed.length, 200);
      const all = [...a.claimed, ...b.claimed].sort((x, y) => x - y);
      assert.deepEqual(
        all,
        Array.from({ length: 400 }, (_, i) => i),
        'no key claimed twice, none skipped',
      );
      const s = SqliteStore.open(file);
      const stored = await s.list('alloc/');
      await s.close();
      assert.equal(stored.length, 400);
      const owner = new Map(stored.map((e) => [Number(e.key.slice('alloc/'.length)), JSON.parse(e.value) as string]));
      for (const n of a.claimed) assert.equal(owner.get(n), 'A', `alloc/${n}`);
      for (const n of b.claimed) assert.equal(owner.get(n), 'B', `alloc/${n}`);
    });

  it('withLock excludes holders in other processes (no lost updates, no overlap)', async () => {
    const file = tmpDb();
    await SqliteStore.open(file).close();
    const runs = ['A', 'B', 'C'].map((who) => startChild(['lockcount', file, who, '30']).result);
    const results = (await Promise.all(runs)) as { who: string; intervals: [number, number][] }[];
    const s = SqliteStore.open(file);
    assert.equal((await s.get('counter'))?.value, '90');
    await s.close();
    const intervals = results.flatMap((r) => r.intervals).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    for (let i = 1; i < intervals.length; i++) {
      assert.ok(intervals[i]![0] >= intervals[i - 1]![1], `critical sections overlap: ${JSON.stringify(intervals.slice(i - 1, i + 1))}`);
    }
  });

  it('a live holder in another process keeps the lock past its TTL; a killed one loses it after the TTL', async () => {
    const file = tmpDb();
    const s = SqliteStore.open(file);
    try {
      const holder = startChild(['hold', file, 'T', '400']);
      await waitFor(() => holder.lines.length > 0, 10_000, 'child to hold the lock');
      await assert.rejects(
        s.withLock('T', async () => assert.fail('lock is held'), { timeoutMs: 200 }),
        isCode('WEFT_TIMEOUT'),
      );
      // Longer than the TTL: the child renews its lease, so still excluded.
      await assert.rejects(
        s.withLock('T', async () => assert.fail('lease renewed'), { timeoutMs: 900 }),
        isCode('WEFT_TIMEOUT'),
      );
      holder.proc.kill('SIGKILL');
      await assert.rejects(holder.result);
      const t0 = Date.now();
      assert.equal(await s.withLock('T', async () => 'taken over', { timeoutMs: 5000 }), 'taken over');
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    } finally {
      await s.close();
    }
  });

  it('a watch in this process sees commits made by another process', async () => {
    const file = tmpDb();
    const s = SqliteStore.open(file);
    const seen: KvEvent[] = [];
    const stop = s.watch('w/', (e) => seen.push(e));
    try {
      await startChild(['commit', file]).result;
      await waitFor(() => seen.length >= 2, 3000, 'events from the other process');
      assert.deepEqual(seen, [
        { type: 'put', key: 'w/a', value: '"from-child"' },
        { type: 'delete', key: 'w/a' },
      ]);
    } finally {
      stop();
      await s.close();
    }
  });
});
