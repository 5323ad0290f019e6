/**
 * The store-less address ring under partitions, on real processes and a real underlay: four
 * mesh routers (no TUN: only the ring is under test) in namespaces. Two peers seed the ring, two
 * start with no space at all and live on donations. Each round a seeded random split of the
 * peers is cut by nft in every host; once every peer's links across the cut are down (the
 * partition is in force, not merely configured), every peer allocates and releases at the same
 * time, asking peers on its own side for space when it runs short; then the cut is healed and
 * the ring must converge. Rounds go on until every peer has been *granted* at least
 * MIN_GRANTED addresses while partitioned (refusals — no space reachable on its side — are
 * counted apart and never count towards it). No address may ever be held by two holders at
 * once: checked after every grant against the test's own book, and at the end against what
 * every router says it holds and the space the converged ring gives it.
 *
 * Default: ≥ 200 grants per peer. WEFT_LONG=1: ≥ 600. WEFT_SEED=N replays a run's splits and
 * operation lists (the seed is printed; timing can still differ).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../src/lab/sim-host.js';
import { MeshLab, type MeshNode } from './mesh-lab.js';

const LONG = process.env.WEFT_LONG === '1';
const MIN_GRANTED = LONG ? 600 : 200;
/** Allocation operations per peer per round (releases come on top, 30 % of the operations). */
const ALLOCS_PER_ROUND = 60;
/** Rounds are bounded: enough for MIN_GRANTED even if a peer is cut off from all space in half of them. */
const MAX_ROUNDS = Math.ceil((2 * MIN_GRANTED) / ALLOCS_PER_ROUND) + 4;
/** Before each round a peer gives back all but this many of its addresses, so the small range never fills up. */
const KEEP = 10;
/** How long a peer without free space waits for a donation before the allocation is refused. */
const ASK_MS = 800;
const SEED = Number(process.env.WEFT_SEED ?? 16016);
/** 256 addresses: h0 and h1 seed 128 each, h2 and h3 own nothing until given space. */
const SUBNET = '198.19.0.0/24';
const N = 4;
const SEEDERS = ['h0', 'h1'];

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

const ip2n = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
/** "a.b.c.d-e.f.g.h" ranges (inclusive) as number pairs. */
const ranges = (owned: string[]): [number, number][] =>
  owned.map((r) => {
    const [a, b] = r.split('-') as [string, string];
    return [ip2n(a), ip2n(b)];
  });

describe(
  `mesh ring: randomized partitions (seed ${SEED}, ≥ ${MIN_GRANTED} grants per peer while partitioned)`,
  { timeout: 1_200_000 },
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
          ipalloc: i < SEEDERS.length ? { init: 'seed', peers: SEEDERS } : { init: 'join' },
        });
      }
      await lab.until(
        'full mesh, ring known everywhere',
        (s) => s.connections.filter((c) => c.established).length === N - 1 && SEEDERS.every((p) => s.ring.ownership[p] !== undefined),
        60_000,
      );
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
      const addrOf = new Map<string, string>(); // key → address
      const held: string[][] = Array.from({ length: N }, () => []);
      const granted = new Array<number>(N).fill(0);
      const refused = new Array<number>(N).fill(0);
      const duplicates: string[] = [];
      let donationsWhilePartitioned = 0;
      let nextKey = 0;
      let round = 0;
      const release = async (i: number, key: string): Promise<void> => {
        held[i]!.splice(held[i]!.indexOf(key), 1);
        assert.equal(await node(i).call('release', { key }), true, `h${i} held ${key}`);
        holder.delete(addrOf.get(key)!);
        addrOf.delete(key);
      };
      for (; round < MAX_ROUNDS && granted.some((g) => g < MIN_GRANTED); round++) {
        // A random proper split: each peer in side A with probability ½, never all on one side.
        let sideA: boolean[];
        do sideA = Array.from({ length: N }, () => rnd() < 0.5);
        while (sideA.every(Boolean) || sideA.every((x) => !x));
        // Give back all but KEEP addresses (chosen by the seed), while still healed.
        for (let i = 0; i < N; i++) {
          while (held[i]!.length > KEEP) await release(i, held[i]![Math.floor(rnd() * held[i]!.length)]!);
        }
        // The operations of each peer are drawn up front from the seed (so a replay does the same).
        const plans = Array.from({ length: N }, () => {
          const ops: { op: 'alloc' | 'release'; pick: number }[] = [];
          let a = 0;
          while (a < ALLOCS_PER_ROUND) {
            const op = rnd() < 0.3 ? 'release' : 'alloc';
            if (op === 'alloc') a++;
            ops.push({ op, pick: rnd() });
          }
          return ops;
        });
        for (let i = 0; i < N; i++)
          await setCut(
            i,
            lab.hosts.filter((h) => sideA[h.index] !== sideA[i]).map((h) => h.ip),
          );
        // In force: no peer has a working link across the cut any more, and every link on its side still works.
        await lab.until(
          `round ${round}: partition in force`,
          (s, n) => {
            const mine = sideA[n.host.index];
            const up = s.connections.filter((c) => c.established).map((c) => Number(c.peer.slice(1)));
            const sameSide = lab.hosts.filter((h) => h.index !== n.host.index && sideA[h.index] === mine).length;
            return up.every((j) => sideA[j] === mine) && up.length === sameSide;
          },
          30_000,
        );
        // Donations are logged by the donor ("donated A-B to hX"); count those made during the cut.
        const donations = (): number => [...lab.nodes.values()].reduce((n, x) => n + (x.log.match(/\] donated /g)?.length ?? 0), 0);
        const donatedBefore = donations();
        await Promise.all(
          plans.map(async (ops, i) => {
            for (const { op, pick } of ops) {
              if (op === 'release') {
                if (held[i]!.length > 0) await release(i, held[i]![Math.floor(pick * held[i]!.length)]!);
                continue;
              }
              const key = `k${nextKey++}`;
              let addr: string;
              try {
                addr = await node(i).call<string>('allocate', { key, timeoutMs: ASK_MS }, 20_000);
              } catch (err) {
                // No space on this side of the cut: refused, never duplicated.
                assert.match((err as Error).message, /no free address left/);
                refused[i]!++;
                continue;
              }
              granted[i]!++;
              const other = holder.get(addr);
              if (other) duplicates.push(`${addr}: ${other} and ${key} (h${i}, round ${round})`);
              holder.set(addr, key);
              addrOf.set(key, addr);
              held[i]!.push(key);
            }
          }),
        );
        donationsWhilePartitioned += donations() - donatedBefore;
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
          `# round ${round}: split ${sideA.map((a) => (a ? 'A' : 'B')).join('')}, granted ${granted.join('/')}, refused ${refused.join('/')}, held ${holder.size}`,
        );
      }
      // One ring everywhere once healed.
      await waitFor(
        'one ring',
        async () => {
          const views = await Promise.all(Array.from({ length: N }, (_, i) => node(i).status()));
          return views.every((v) => JSON.stringify(v.ring.ownership) === JSON.stringify(views[0]!.ring.ownership));
        },
        30_000,
      );
      // What the routers hold, independently of the test's book: no address twice, each inside
      // the space the converged ring gives its holder, none outside it, and the same as the book.
      const views = await Promise.all(Array.from({ length: N }, (_, i) => node(i).status()));
      const owned = views.map((v) => ranges(v.ring.owned));
      for (let i = 0; i < N; i++)
        for (let j = i + 1; j < N; j++)
          for (const [a, b] of owned[i]!)
            for (const [c, d] of owned[j]!) assert.ok(b < c || d < a, `h${i} and h${j} both own ${a}-${b} / ${c}-${d}`);
      const seen = new Map<string, string>();
      for (let i = 0; i < N; i++) {
        const r = await node(i).call<{ allocations: { id: string; address: string }[]; orphans: string[] }>('allocations');
        assert.deepEqual(r.orphans, [], `h${i} holds nothing outside its ring space`);
        for (const { id, address } of r.allocations) {
          assert.equal(seen.get(address), undefined, `${address} held by ${seen.get(address)} and ${id}`);
          seen.set(address, id);
          const x = ip2n(address);
          assert.ok(
            owned[i]!.some(([a, b]) => x >= a && x <= b),
            `${address} (h${i}) in h${i}'s space`,
          );
        }
        assert.deepEqual(
          r.allocations.map((a) => a.id).sort(),
          [...held[i]!].sort(),
          `h${i} holds exactly what it was granted and not released`,
        );
      }
      console.log(
        `# ${round} rounds; granted per peer while partitioned: ${granted.join(', ')}; refused ${refused.join(', ')}; donations during cuts ${donationsWhilePartitioned}; duplicates ${duplicates.length}`,
      );
      assert.deepEqual(duplicates, [], 'no address held twice');
      for (const [i, g] of granted.entries())
        assert.ok(g >= MIN_GRANTED, `h${i}: ${g} grants while partitioned (≥ ${MIN_GRANTED}) in ${round} rounds`);
      for (const p of ['h2', 'h3']) assert.ok((views[0]!.ring.ownership[p] ?? 0) > 0, `${p} started without space and was given some`);
      assert.ok(donationsWhilePartitioned > 0, 'space changed hands while a partition was in force');
    });
  },
);
