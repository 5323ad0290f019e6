import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareKeys, prefixEnd } from '../../src/store/keys.js';

/** Reference order: UTF-8 bytes, which is what SQLite's BINARY collation compares. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
const sign = (n: number) => Math.sign(n);

function randomKey(rnd: () => number): string {
  const pool = [0x41, 0x7a, 0x2f, 0xe9, 0x100, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff];
  let s = '';
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) s += String.fromCodePoint(pool[Math.floor(rnd() * pool.length)]!);
  return s;
}

describe('store key order', () => {
  // Deterministic PRNG so a failure is reproducible.
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

  it('compareKeys agrees with UTF-8 byte order', () => {
    for (let i = 0; i < 5000; i++) {
      const a = randomKey(rnd);
      const b = randomKey(rnd);
      assert.equal(sign(compareKeys(a, b)), sign(byBytes(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  });

  it('prefixEnd bounds exactly the keys that start with the prefix', () => {
    for (let i = 0; i < 2000; i++) {
      const prefix = randomKey(rnd);
      const key = randomKey(rnd);
      const end = prefixEnd(prefix);
      const inRange = byBytes(key, prefix) >= 0 && (end === undefined || byBytes(key, end) < 0);
      assert.equal(inRange, key.startsWith(prefix), `prefix ${JSON.stringify(prefix)} key ${JSON.stringify(key)}`);
    }
  });

  it('prefixEnd edge cases', () => {
    assert.equal(prefixEnd(''), undefined);
    assert.equal(prefixEnd('a/'), 'a0');
    assert.equal(prefixEnd('a\u{10FFFF}'), 'b');
    assert.equal(prefixEnd('\u{10FFFF}'), undefined);
    assert.equal(prefixEnd('a\uD7FF'), 'a\uE000');
  });
});
