/**
 * Wall-clock cost of the pure core's hot paths and of the local SQLite store, one run, printed
 * (the unit tests check the same paths by counting work, never by a clock):
 *   - nextFreeAddress on a /16 with 60 000 used (front and wrap-around worst case), a full /16,
 *     an IPv6 /64 with 5 000 used
 *   - pickSubnet over the 3840 default /24s with 3000 taken
 *   - DNS header screening of junk that claims 65535 records of each kind
 *   - SQLite store get / create-only commit / list of 1000 keys / uncontended withLock
 * Usage: npm run build && node dist/bench/core.js [--reps 20]
 * Anchor: none outside weft; read the figures against the budgets in bench/README.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { nextFreeAddress } from '../src/ipam/allocator.js';
import { resolvePoolConfig } from '../src/ipam/pool-config.js';
import { DEFAULT_POOLS_V4, pickSubnet } from '../src/ipam/default-pools.js';
import { screen } from '../src/dns/header-guard.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { printTable, summarize } from './stats.js';

const i = process.argv.indexOf('--reps');
const REPS = i >= 0 ? Number(process.argv[i + 1]) : 20;

/** ms per call over REPS calls (after one warm-up call). */
function timeSync(fn: () => unknown): number[] {
  fn();
  const out: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

async function timeAsync(n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let k = 0; k < n; k++) await op(k);
  return ((performance.now() - t0) * 1000) / n;
}

function pureRows(): (string | number)[][] {
  const p16 = resolvePoolConfig({ subnet: '10.20.0.0/16' });
  const front = new Set<string>();
  for (let k = 2; front.size < 60000; k++) front.add(`10.20.${k >> 8}.${k & 255}`);
  const tail = new Set<string>();
  for (let k = 6000; k < 65535; k++) tail.add(`10.20.${k >> 8}.${k & 255}`);
  const full = new Set<string>();
  for (let k = 2; k < 65535; k++) full.add(`10.20.${k >> 8}.${k & 255}`);
  const p64 = resolvePoolConfig({ subnet: 'fd7e:57ef:0:1::/64' });
  const used6 = new Set(Array.from({ length: 5000 }, (_, k) => `fd7e:57ef:0:1::${(k + 2).toString(16)}`));
  const taken: string[] = [];
  for (let k = 0; k < 3000; k++) taken.push(`172.${18 + (k >> 8)}.${k & 255}.0/24`);
  const junk = Buffer.alloc(12, 0xff);
  junk[2] = 0x01;
  junk[3] = 0;
  const cases: [string, string, () => unknown][] = [
    ['nextFreeAddress /16, 60 000 used', '50 ms', () => nextFreeAddress(p16, front)],
    ['nextFreeAddress /16, wrap-around', '50 ms', () => nextFreeAddress(p16, tail, '10.20.23.111')],
    [
      'nextFreeAddress /16, full → exhausted',
      '100 ms',
      () => {
        try {
          nextFreeAddress(p16, full, '10.20.100.100');
        } catch {
          /* exhausted is the expected outcome */
        }
      },
    ],
    ['nextFreeAddress /64, 5000 used', '200 ms', () => nextFreeAddress(p64, used6)],
    ['pickSubnet, 3000 of 3840 /24s taken', '5 ms', () => pickSubnet(DEFAULT_POOLS_V4, 4, taken)],
    [
      'screen × 100 000 junk headers',
      '1000 ms',
      () => {
        for (let k = 0; k < 100_000; k++) screen(junk);
      },
    ],
  ];
  return cases.map(([label, budget, fn]) => {
    const s = summarize(timeSync(fn));
    return [label, s.p50, s.p99, budget];
  });
}

async function storeRows(): Promise<(string | number)[][]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-core-'));
  const s = SqliteStore.open(path.join(dir, 'weft.db'));
  try {
    await s.commit({
      puts: Array.from({ length: 1000 }, (_, k) => ({ key: `bench/${String(k).padStart(4, '0')}`, value: JSON.stringify({ k }) })),
    });
    return [
      ['get', await timeAsync(5000, (k) => s.get(`bench/${String(k % 1000).padStart(4, '0')}`))],
      [
        'create-only commit',
        await timeAsync(2000, (k) => s.commit({ checks: [{ key: `c/${k}`, version: 0 }], puts: [{ key: `c/${k}`, value: '{}' }] })),
      ],
      ['list of 1000 keys', await timeAsync(200, () => s.list('bench/'))],
      ['withLock (uncontended)', await timeAsync(1000, () => s.withLock('bench', async () => undefined))],
    ];
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`pure core, ${REPS} calls each (ms per call):`);
  printTable(['path', 'p50 ms', 'p99 ms', 'budget'], pureRows());
  console.log('\nSQLite store (µs per operation):');
  printTable(['operation', 'µs/op'], await storeRows());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
