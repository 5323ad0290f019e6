/**
 * The store-less address ring under partitions, on real processes and a real underlay: four
 * mesh routers (no TUN: only the ring is under test) in namespaces; each round a seeded random
 * split of the peers is cut by nft in every host, every peer allocates (and releases some) at
 * the same time, at least 50 allocations per peer per round, then the cut is healed and the
 * ring must converge. No address may ever be held by two holders at once. The range is small
 * (/22) so peers run short and ask each other for space during the partitions.
 *
 * Default: 4 rounds (≥ 200 allocations per peer during partitions). WEFT_LONG=1: 12 rounds of
 * 100. WEFT_SEED=N replays a run (the seed is printed).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MeshLab, type MeshNode } from './mesh-lab.js';

const LONG = process.env.WEFT_LONG === '1';
const ROUNDS = LONG ? 12 : 4;
const ALLOCS_PER_ROUND = LONG ? 100 : 50;
const SEED = Number(process.env.WEFT_SEED ?? 16016);
const SUBNET = '198.19.0.0/22';
const N = 4;

/** mulberry32: small, seedable, good enough to pick splits and operations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(
  `mesh ring: randomized partitions (seed ${SEED}, ${ROUNDS} rounds × ≥ ${ALLOCS_PER_ROUND} allocations per peer)`,
  { timeout: 900_000 },
  () => {
    let lab: MeshLab;
    const node = (i: number): MeshNode => lab.nodes.get(i)!;

    before(async () => {
      lab = await MeshLab.create(N);
      for (let i = 0; i < N; i++) {
        await lab.start(i, {
          peers: ['198.18.0.10:6783'],
          subnet: SUBNET,
          tun: undefined,
          ipalloc: { init: 'seed', peers: ['h0', 'h1', 'h2', 'h3'] },
        });
      }
      await lab.until('full mesh', (s) => s.connections.filter((c) => c.established).length === N - 1, 60_000);
    });
    after(async () => {
      await lab?.destroy();
    });

    const setCut = async (i: number, drop: string[]): Promise<void> => {
      await lab.exec(i, 'nft', ['delete', 'table', 'inet', 'mspart']); // absent the first time: fine
      if (drop.length === 0) return;
      const set = drop.join(', ');
      const rules = `table inet mspart {\n chain in { type filter hook input priority -10; ip saddr { ${set} } drop; }\n chain out { type filter hook output priority -10; ip daddr { ${set} } drop; }\n}\n`;
      const r = await lab.exec(i, 'sh', ['-c', `printf '%s' '${rules}' | nft -f -`]);
      assert.equal(r.code, 0, r.stderr);
    };

    it('never hands out one address twice, and the ring converges after every heal', async () => {
      console.log(`# seed ${SEED} (replay: WEFT_SEED=${SEED})`);
      const rnd = prng(SEED);
      const holder = new Map<string, string>(); // address → key holding it now
      const held: string[][] = Array.from({ length: N }, () => []);
      const allocs = new Array<number>(N).fill(0);
      const failures = new Array<number>(N).fill(0);
      const duplicates: string[] = [];
      let nextKey = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // A random proper split: each peer in side A with probability ½, never all on one side.
        let sideA: boolean[];
        do sideA = Array.from({ length: N }, () => rnd() < 0.5);
        while (sideA.every(Boolean) || sideA.every((x) => !x));
        for (let i = 0; i < N; i++)
          await setCut(
            i,
            lab.hosts.filter((h) => sideA[h.index] !== sideA[i]).map((h) => h.ip),
          );
        // The operations of each peer are drawn up front from the seed (so a replay does the same),
        // then every peer runs its own list concurrently with the others.
        const plans = Array.from({ length: N }, () => {
          const ops: ('alloc' | 'release')[] = [];
          let a = 0;
          while (a < ALLOCS_PER_ROUND) {
            if (rnd() < 0.3) ops.push('release');
            else {
              ops.push('alloc');
              a++;
            }
          }
          return ops;
        });
        const picks = plans.map((ops) => ops.map(() => rnd()));
        await Promise.all(
          plans.map(async (ops, i) => {
            for (const [k, op] of ops.entries()) {
              if (op === 'release') {
                if (held[i]!.length === 0) continue;
                const j = Math.floor(picks[i]![k]! * held[i]!.length);
                const [key] = held[i]!.splice(j, 1);
                const addr = [...holder].find(([, v]) => v === key)?.[0];
                await node(i).call('release', { key });
                if (addr) holder.delete(addr);
                continue;
              }
              const key = `k${nextKey++}`;
              allocs[i]!++;
              let addr: string;
              try {
                addr = await node(i).call<string>('allocate', { key }, 20_000);
              } catch {
                failures[i]!++; // no space reachable in this partition: refused, never duplicated
                continue;
              }
              const other = holder.get(addr);
              if (other) duplicates.push(`${addr}: ${other} and ${key} (h${i}, round ${round})`);
              holder.set(addr, key);
              held[i]!.push(key);
            }
          }),
        );
        for (let i = 0; i < N; i++) await setCut(i, []);
        await lab.until(
          `round ${round}: healed and converged`,
          (s) =>
            s.members.filter((m) => m.state === 'alive').length === N &&
            s.connections.filter((c) => c.established).length === N - 1 &&
            s.ring.conflicts.length === 0,
          60_000,
        );
        console.log(
          `# round ${round}: split ${sideA.map((a) => (a ? 'A' : 'B')).join('')}, held ${holder.size}, refused ${failures.join('/')}`,
        );
      }
      // Every peer's view of the ring agrees once healed.
      const views = await Promise.all(Array.from({ length: N }, (_, i) => node(i).status()));
      await lab.until('one ring', (s) => JSON.stringify(s.ring.ownership) === JSON.stringify(views[0]!.ring.ownership), 30_000);
      console.log(
        `# allocations per peer during partitions: ${allocs.join(', ')}; refused ${failures.join(', ')}; duplicates ${duplicates.length}`,
      );
      for (const a of allocs) assert.ok(a >= ROUNDS * ALLOCS_PER_ROUND, `${a} allocations`);
      assert.deepEqual(duplicates, [], 'no address held twice');
      const succeeded = allocs.reduce((s, a) => s + a, 0) - failures.reduce((s, a) => s + a, 0);
      assert.ok(succeeded > N * ROUNDS * ALLOCS_PER_ROUND * 0.5, `most allocations succeed (${succeeded})`);
    });
  },
);
