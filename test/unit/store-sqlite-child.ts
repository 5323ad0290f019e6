/**
 * Child process for the SQLite multi-process tests (spawned by store-sqlite.test.ts). Inert
 * unless WEFT_STORE_CHILD=1, because the test runner may also load every file under test/.
 * Prints one JSON line with its result on stdout.
 *   alloc DB WHO COUNT START_AT_MS STRATEGY
 *                                    claim COUNT keys alloc/N with create-only commits; STRATEGY
 *                                    "read" skips keys it sees taken (like IPAM), "blind" just
 *                                    tries every N, so every N is contended
 *   lockcount DB WHO ITERATIONS      read-modify-write "counter" under withLock
 *   hold DB NAME TTL_MS              take a lock, print {"held":true}, wait to be killed
 *   commit DB                        a few commits for a watcher in another process
 */
import { SqliteStore } from '../../src/store/sqlite-store.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const out = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n');

async function main(argv: string[]): Promise<void> {
  const [mode, db, ...args] = argv;
  if (!mode || !db) throw new Error('usage: MODE DB ARGS…');
  const s = SqliteStore.open(db);
  try {
    switch (mode) {
      case 'alloc': {
        const [who, count, startAt, blind] = [args[0], Number(args[1]), Number(args[2]), args[3] === 'blind'];
        await sleep(Math.max(0, startAt - Date.now())); // start together to maximise the race
        const claimed: number[] = [];
        let conflicts = 0;
        for (let n = 0; claimed.length < count;) {
          const key = `alloc/${n}`;
          if (!blind && (await s.get(key))) {
            n++;
            continue;
          }
          // Free when we looked (or never looked); the check catches the other process's claim.
          if (await s.commit({ checks: [{ key, version: 0 }], puts: [{ key, value: JSON.stringify(who) }] })) claimed.push(n);
          else conflicts++;
          if (blind) n++;
        }
        out({ claimed, conflicts });
        break;
      }
      case 'lockcount': {
        const [who, iterations] = [args[0], Number(args[1])];
        const intervals: [number, number][] = [];
        for (let i = 0; i < iterations; i++) {
          await s.withLock('counter', async () => {
            const start = Date.now();
            const cur = Number((await s.get('counter'))?.value ?? '0');
            await sleep(1);
            // Unconditional put: only the lock prevents lost updates here.
            await s.commit({ puts: [{ key: 'counter', value: String(cur + 1) }] });
            intervals.push([start, Date.now()]);
          });
        }
        out({ who, intervals });
        break;
      }
      case 'hold': {
        const [name, ttlMs] = [args[0] ?? 'lock', Number(args[1])];
        await s.withLock(
          name,
          async () => {
            out({ held: true });
            await new Promise(() => setInterval(() => {}, 1000)); // until killed
          },
          { ttlMs },
        );
        break;
      }
      case 'commit': {
        await s.commit({
          puts: [
            { key: 'w/a', value: '"from-child"' },
            { key: 'x/b', value: '1' },
          ],
        });
        await s.commit({ deletes: ['w/a', 'x/b'] });
        out({ done: true });
        break;
      }
      default:
        throw new Error(`unknown mode ${mode}`);
    }
  } finally {
    await s.close();
  }
}

if (process.env.WEFT_STORE_CHILD === '1') {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
