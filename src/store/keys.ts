/**
 * Key helpers shared by every Store backend: one key order, one prefix range and one commit
 * validation, so the backends cannot disagree on what a commit or a listing means.
 */
import { InvalidArgumentError } from '../errors.js';
import type { KvCommit } from './store.js';

/**
 * Compare two keys by Unicode code point. SQLite's BINARY collation compares UTF-8 bytes,
 * which is code point order; plain JS `<` compares UTF-16 units and disagrees for astral
 * characters versus U+E000..U+FFFF. Every backend sorts with this order.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Move surrogates (D800..DFFF) above E000..FFFF, which turns UTF-16 order into code point order.
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * The smallest string greater than every string that starts with prefix (code point order),
 * or undefined when there is none (empty prefix, or only U+10FFFF). Used for
 * `key >= prefix AND key < end` range scans, which use the primary key index (LIKE does not).
 */
export function prefixEnd(prefix: string): string | undefined {
  const cps = Array.from(prefix, (c) => c.codePointAt(0) as number);
  while (cps.length > 0) {
    const last = (cps.pop() as number) + 1;
    if (last > 0x10ffff) continue;
    cps.push(last >= 0xd800 && last < 0xe000 ? 0xe000 : last);
    return String.fromCodePoint(...cps);
  }
  return undefined;
}

/** A commit after validation: every field present, deletes de-duplicated. */
export interface NormalizedCommit {
  checks: { key: string; version: number }[];
  puts: { key: string; value: string }[];
  deletes: string[];
}

/**
 * Validate a commit. A key may be put at most once and not both put and deleted, because the
 * outcome would depend on apply order (etcd rejects such transactions too). Deleting a key
 * twice is harmless and collapsed.
 */
export function normalizeCommit(c: KvCommit): NormalizedCommit {
  const checks = c.checks ?? [];
  const puts = c.puts ?? [];
  const deletes = [...new Set(c.deletes ?? [])];
  for (const ch of checks) {
    checkKey(ch.key, 'checks');
    if (!Number.isSafeInteger(ch.version) || ch.version < 0) {
      throw new InvalidArgumentError('checks', `version of "${ch.key}" must be an integer >= 0`);
    }
  }
  const putKeys = new Set<string>();
  for (const p of puts) {
    checkKey(p.key, 'puts');
    if (typeof p.value !== 'string') throw new InvalidArgumentError('puts', `value of "${p.key}" must be a string`);
    if (putKeys.has(p.key)) throw new InvalidArgumentError('puts', `key "${p.key}" is put twice in one commit`);
    putKeys.add(p.key);
  }
  for (const d of deletes) {
    checkKey(d, 'deletes');
    if (putKeys.has(d)) throw new InvalidArgumentError('deletes', `key "${d}" is both put and deleted in one commit`);
  }
  return { checks, puts, deletes };
}

/** Keys are non-empty strings. */
export function checkKey(key: unknown, field = 'key'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError(field, 'key must be a non-empty string');
}
