/**
 * The Store contract as one test suite, run against every backend (memory, sqlite, later etcd)
 * so they cannot drift apart. Each test gets a fresh, empty store from the factory.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/errors.js';
import type { KvEvent, Store } from '../../src/store/store.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until cond() holds; fail after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

function hasCode(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof WeftError, `expected WeftError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

/** Register the conformance tests for one backend; `name` must equal the store's `backend`. */
export function runStoreConformance(name: string, factory: () => Promise<Store>): void {
  /** Run body against a fresh store and close it afterwards, even on failure. */
  const withStore = (body: (s: Store) => Promise<void>) => async () => {
    const s = await factory();
    try {
      await body(s);
    } finally {
      await s.close();
    }
  };
  const put = (s: Store, key: string, value: string) => s.commit({ puts: [{ key, value }] });

  describe(`Store conformance: ${name}`, () => {
    it(
      `is the ${name} backend`,
      withStore(async (s) => assert.equal(s.backend, name)),
    );

    it(
      'get of a missing key is undefined',
      withStore(async (s) => assert.equal(await s.get('nope'), undefined)),
    );

    it(
      'put then get returns the value with a version > 0 that grows on update',
      withStore(async (s) => {
        assert.equal(await put(s, 'k', '"v1"'), true);
        const a = await s.get('k');
        assert.equal(a?.key, 'k');
        assert.equal(a?.value, '"v1"');
        assert.ok(a !== undefined && a.version > 0);
        await put(s, 'k', '"v2"');
        const b = await s.get('k');
        assert.equal(b?.value, '"v2"');
        assert.ok(b.version > a.version, `${b.version} > ${a.version}`);
      }),
    );

    it(
      'version 0 check means create-only',
      withStore(async (s) => {
        const create = (v: string) => s.commit({ checks: [{ key: 'once', version: 0 }], puts: [{ key: 'once', value: v }] });
        assert.equal(await create('"first"'), true);
        assert.equal(await create('"second"'), false);
        assert.equal((await s.get('once'))?.value, '"first"');
      }),
    );

    it(
      'a stale check fails the whole commit and changes nothing',
      withStore(async (s) => {
        await s.commit({
          puts: [
            { key: 'a', value: '1' },
            { key: 'b', value: '1' },
            { key: 'd', value: '1' },
          ],
        });
        const a1 = (await s.get('a'))!;
        await put(s, 'a', '2');
        const before = await s.list('');
        const b = (await s.get('b'))!;
        const ok = await s.commit({
          checks: [
            { key: 'b', version: b.version },
            { key: 'a', version: a1.version },
          ],
          puts: [
            { key: 'b', value: '9' },
            { key: 'c', value: '9' },
          ],
          deletes: ['d'],
        });
        assert.equal(ok, false);
        assert.deepEqual(await s.list(''), before);
        assert.equal(await s.get('c'), undefined);
      }),
    );

    it(
      'current checks let a multi-key commit through atomically',
      withStore(async (s) => {
        await s.commit({
          puts: [
            { key: 'x', value: '1' },
            { key: 'y', value: '1' },
          ],
        });
        const x = (await s.get('x'))!;
        const y = (await s.get('y'))!;
        const ok = await s.commit({
          checks: [
            { key: 'x', version: x.version },
            { key: 'y', version: y.version },
            { key: 'z', version: 0 },
          ],
          puts: [
            { key: 'x', value: '2' },
            { key: 'z', value: '2' },
          ],
          deletes: ['y'],
        });
        assert.equal(ok, true);
        assert.deepEqual(
          (await s.list('')).map((e) => [e.key, e.value]),
          [
            ['x', '2'],
            ['z', '2'],
          ],
        );
      }),
    );

    it(
      'a checks-only commit reports whether the checks hold',
      withStore(async (s) => {
        await put(s, 'k', '1');
        const v = (await s.get('k'))!.version;
        assert.equal(await s.commit({ checks: [{ key: 'k', version: v }] }), true);
        assert.equal(await s.commit({ checks: [{ key: 'k', version: v + 1 }] }), false);
        assert.equal(await s.commit({ checks: [{ key: 'missing', version: 0 }] }), true);
        assert.equal((await s.get('k'))!.version, v);
      }),
    );

    it(
      'deletes remove keys; deleting a missing key succeeds',
      withStore(async (s) => {
        await s.commit({
          puts: [
            { key: 'p/1', value: '1' },
            { key: 'p/2', value: '2' },
          ],
        });
        assert.equal(await s.commit({ deletes: ['p/1', 'never-there'] }), true);
        assert.equal(await s.get('p/1'), undefined);
        assert.equal((await s.get('p/2'))?.value, '2');
        assert.equal(await s.commit({ deletes: ['p/1'] }), true, 'delete twice');
      }),
    );

    it(
      'a deleted and recreated key never reuses an old version',
      withStore(async (s) => {
        await put(s, 'r', '1');
        const v1 = (await s.get('r'))!.version;
        await s.commit({ deletes: ['r'] });
        assert.equal(await s.commit({ checks: [{ key: 'r', version: 0 }], puts: [{ key: 'r', value: '2' }] }), true);
        const v2 = (await s.get('r'))!.version;
        assert.ok(v2 > v1, `${v2} > ${v1}`);
        assert.equal(await s.commit({ checks: [{ key: 'r', version: v1 }], puts: [{ key: 'r', value: '3' }] }), false);
      }),
    );

    it(
      'rejects ambiguous or malformed commits',
      withStore(async (s) => {
        await assert.rejects(s.commit({ puts: [{ key: 'k', value: '1' }], deletes: ['k'] }), hasCode('WEFT_INVALID_ARGUMENT'));
        await assert.rejects(
          s.commit({
            puts: [
              { key: 'k', value: '1' },
              { key: 'k', value: '2' },
            ],
          }),
          hasCode('WEFT_INVALID_ARGUMENT'),
        );
        await assert.rejects(s.commit({ puts: [{ key: '', value: '1' }] }), hasCode('WEFT_INVALID_ARGUMENT'));
        await assert.rejects(s.commit({ checks: [{ key: 'k', version: -1 }] }), hasCode('WEFT_INVALID_ARGUMENT'));
        assert.equal(await s.get('k'), undefined);
      }),
    );

    it(
      'list returns keys under the prefix only, sorted',
      withStore(async (s) => {
        const keys = ['a/2', 'ab', 'a/10', 'a', 'a/1', 'b/1', 'a/', 'a0', 'a.x'];
        await s.commit({ puts: keys.map((key) => ({ key, value: JSON.stringify(key) })) });
        assert.deepEqual(
          (await s.list('a/')).map((e) => e.key),
          ['a/', 'a/1', 'a/10', 'a/2'],
        );
        assert.deepEqual(
          (await s.list('a')).map((e) => e.key),
          ['a', 'a.x', 'a/', 'a/1', 'a/10', 'a/2', 'a0', 'ab'],
        );
        assert.deepEqual(
          (await s.list('')).map((e) => e.key),
          [...keys].sort(),
        );
        assert.deepEqual(await s.list('c/'), []);
        const e = (await s.list('b/'))[0];
        assert.deepEqual(e, { key: 'b/1', value: '"b/1"', version: (await s.get('b/1'))!.version });
      }),
    );

    it(
      'list orders and bounds non-ASCII keys by code point',
      withStore(async (s) => {
        // U+FFFD sorts before U+1F600 by code point, after it by UTF-16 unit: backends must agree.
        const keys = ['u/\u{1F600}', 'u/\uFFFD', 'u/é', 'u/z', 'u/\u{1F600}x', 'u/\u00FF', 'u\u0100'];
        await s.commit({ puts: keys.map((key) => ({ key, value: '0' })) });
        assert.deepEqual(
          (await s.list('u/')).map((e) => e.key),
          ['u/z', 'u/é', 'u/\u00FF', 'u/\uFFFD', 'u/\u{1F600}', 'u/\u{1F600}x'],
        );
        assert.deepEqual(
          (await s.list('u/\u{1F600}')).map((e) => e.key),
          ['u/\u{1F600}', 'u/\u{1F600}x'],
        );
        assert.deepEqual(
          (await s.list('u/\u00FF')).map((e) => e.key),
          ['u/\u00FF'],
        );
      }),
    );

    it(
      'watch sees puts and deletes under its prefix only, in order',
      withStore(async (s) => {
        await put(s, 'w/before', '0');
        const seen: KvEvent[] = [];
        const stop = s.watch('w/', (e) => seen.push(e));
        try {
          await s.commit({
            puts: [
              { key: 'w/a', value: '1' },
              { key: 'wx', value: 'no' },
              { key: 'other/a', value: 'no' },
            ],
          });
          await s.commit({ puts: [{ key: 'w/a', value: '2' }], deletes: ['w/before', 'w/never'] });
          await s.commit({ deletes: ['w/a', 'wx'] });
          const expected: KvEvent[] = [
            { type: 'put', key: 'w/a', value: '1' },
            { type: 'put', key: 'w/a', value: '2' },
            { type: 'delete', key: 'w/before' },
            { type: 'delete', key: 'w/a' },
          ];
          await waitFor(() => seen.length >= expected.length, 3000, 'watch events');
          await sleep(100); // nothing extra may trickle in
          assert.deepEqual(seen, expected);
        } finally {
          stop();
        }
      }),
    );

    it(
      'a stopped watch gets nothing more; other watches keep going',
      withStore(async (s) => {
        const a: KvEvent[] = [];
        const b: KvEvent[] = [];
        const stopA = s.watch('k/', (e) => a.push(e));
        const stopB = s.watch('', (e) => b.push(e));
        try {
          await put(s, 'k/1', '1');
          await waitFor(() => a.length === 1 && b.length === 1, 3000, 'first events');
          stopA();
          await put(s, 'k/2', '2');
          await waitFor(() => b.length === 2, 3000, 'second event on the remaining watch');
          await sleep(100);
          assert.equal(a.length, 1);
          assert.deepEqual(b[1], { type: 'put', key: 'k/2', value: '2' });
        } finally {
          stopA();
          stopB();
        }
      }),
    );

    it(
      'withLock excludes concurrent holders and returns fn’s value',
      withStore(async (s) => {
        let inside = 0;
        let maxInside = 0;
        let done = 0;
        const holder = async (i: number) =>
          s.withLock('L', async () => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            await sleep(1 + (i % 3));
            inside--;
            done++;
            return i;
          });
        const results = await Promise.all(Array.from({ length: 12 }, (_, i) => holder(i)));
        assert.deepEqual(
          results,
          Array.from({ length: 12 }, (_, i) => i),
        );
        assert.equal(maxInside, 1);
        assert.equal(done, 12);
      }),
    );

    it(
      'withLock releases when fn throws',
      withStore(async (s) => {
        await assert.rejects(
          s.withLock('L', async () => {
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.equal(await s.withLock('L', async () => 'again', { timeoutMs: 500 }), 'again');
      }),
    );

    it(
      'withLock times out while another holder keeps the lock',
      withStore(async (s) => {
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        let entered = false;
        const holding = s.withLock('L', async () => {
          entered = true;
          await gate;
        });
        await waitFor(() => entered, 2000, 'first holder');
        const t0 = Date.now();
        await assert.rejects(
          s.withLock('L', async () => assert.fail('must not run'), { timeoutMs: 100 }),
          hasCode('WEFT_TIMEOUT'),
        );
        const waited = Date.now() - t0;
        assert.ok(waited >= 90 && waited < 2000, `waited ${waited} ms`);
        // Another name is independent.
        assert.equal(await s.withLock('M', async () => 'm', { timeoutMs: 500 }), 'm');
        release();
        await holding;
        assert.equal(await s.withLock('L', async () => 'free', { timeoutMs: 500 }), 'free');
      }),
    );

    it('close is idempotent and later calls fail with a store error', async () => {
      const s = await factory();
      await put(s, 'k', '1');
      await s.close();
      await s.close();
      await assert.rejects(s.get('k'), hasCode('WEFT_STORE'));
      await assert.rejects(put(s, 'k', '2'), hasCode('WEFT_STORE'));
      await assert.rejects(
        s.withLock('L', async () => 1),
        hasCode('WEFT_STORE'),
      );
    });
  });
}
