/**
 * The address ring without a store: seeded, randomized partitions with allocations, frees,
 * donations and gossip; after every single step no address is held by two peers, and every
 * holding lies in space its holder owns; after heal all rings are identical. Plus the basic
 * operations: claim, seed split, donation, forget (take-over) and conflict reporting.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from '../../../src/mesh/ring/ring.js';
import { MeshAllocator } from '../../../src/mesh/ring/allocator.js';
import { ip4ToNum } from '../../../src/mesh/ring/ipv4.js';
import { Prng } from '../../../src/lab/prng.js';
import { WeftError } from '../../../src/errors.js';

const UNIVERSE = '10.32.0.0/22';

function peer(name: string, universe = UNIVERSE): MeshAllocator {
  return new MeshAllocator(new Ring(name, universe));
}

/** One-way gossip: b learns a's ring. */
function gossip(a: MeshAllocator, b: MeshAllocator): void {
  if (b.ring.merge(a.ring.state()).changed) b.refreshHint();
}

function assertNoDuplicates(peers: MeshAllocator[], where: string): void {
  const holder = new Map<string, string>();
  for (const p of peers) {
    for (const { address } of p.allocations()) {
      const other = holder.get(address);
      assert.equal(other, undefined, `${where}: ${address} held by ${other} and ${p.ring.self}`);
      holder.set(address, p.ring.self);
      assert.equal(p.ring.ownerOf(ip4ToNum(address)), p.ring.self, `${where}: ${p.ring.self} holds ${address} outside its own space`);
    }
  }
}

describe('mesh ring: operations', () => {
  it('seed split is identical on every peer; claimAll only on an empty ring', () => {
    const a = new Ring('a', UNIVERSE);
    const b = new Ring('b', UNIVERSE);
    a.seed(['c', 'a', 'b']);
    b.seed(['a', 'b', 'c']);
    assert.deepEqual(a.state().entries, b.state().entries);
    assert.deepEqual([...a.ownership().values()].sort(), [341, 341, 342]);
    assert.equal(a.claimAll(), false);
    const c = new Ring('c', UNIVERSE);
    assert.equal(c.claimAll(), true);
    assert.deepEqual(c.rangesOf('c'), [[ip4ToNum('10.32.0.0'), ip4ToNum('10.32.4.0')]]);
  });

  it('allocations skip the network and broadcast addresses; release of the unknown is a no-op; claim only in own space', () => {
    const a = peer('a');
    a.ring.claimAll();
    assert.equal(a.allocate('c1'), '10.32.0.1');
    assert.equal(a.allocate('c1'), '10.32.0.1', 'same id, same address');
    assert.equal(a.claim('c2', '10.32.0.9'), '10.32.0.9');
    assert.throws(
      () => a.claim('c3', '10.32.0.9'),
      (e: unknown) => e instanceof WeftError && e.code === 'WEFT_IPAM_ADDRESS_IN_USE',
    );
    assert.equal(a.release('never'), false);
    const b = peer('b');
    assert.throws(
      () => b.allocate('x'),
      (e: unknown) => e instanceof WeftError && e.code === 'WEFT_IPAM_EXHAUSTED',
    );
    assert.throws(
      () => b.claim('x', '10.32.0.5'),
      (e: unknown) => e instanceof WeftError && e.code === 'WEFT_INVALID_ARGUMENT',
    );
  });

  it('a new peer gets space by donation and allocates from it; the donor never gives away a held address', () => {
    const a = peer('a');
    const b = peer('b');
    a.ring.claimAll();
    for (let i = 0; i < 100; i++) a.allocate(`a${i}`);
    gossip(a, b);
    assert.equal(b.chooseDonor(['a']), 'a');
    const given = a.donate('b');
    assert.ok(given, 'a had space to give');
    gossip(a, b);
    const addr = b.allocate('b0');
    assert.equal(b.ring.ownerOf(ip4ToNum(addr)), 'b');
    assertNoDuplicates([a, b], 'after donation');
    assert.ok(b.freeCount() > 400 && a.freeCount() > 400, `split roughly in half: a ${a.freeCount()} b ${b.freeCount()}`);
  });

  it('forget: a peer takes over a dead peer’s ranges; the take-over wins everywhere', () => {
    const ps = ['a', 'b', 'c'].map((n) => peer(n));
    for (const p of ps) p.ring.seed(['a', 'b', 'c']);
    const [a, b, c] = ps as [MeshAllocator, MeshAllocator, MeshAllocator];
    const taken = a.ring.takeOver('c');
    assert.equal(taken, 342);
    gossip(a, b);
    assert.equal(b.ring.ownership().get('c'), undefined);
    assert.equal(b.ring.ownership().get('a'), 683); // 341 + 342
    // Were c alive after all, it would be told loudly.
    const r = c.ring.merge(a.ring.state());
    assert.equal(r.conflicts.length, 1);
    assert.match(r.conflicts[0]!, /taken over by a/);
  });

  it('two take-overs at the same version (forget run on two peers) resolve the same way everywhere and are reported', () => {
    const a = new Ring('a', UNIVERSE);
    const b = new Ring('b', UNIVERSE);
    a.seed(['a', 'b', 'c']);
    b.seed(['a', 'b', 'c']);
    a.takeOver('c');
    b.takeOver('c');
    const ra = a.merge(b.state());
    const rb = b.merge(a.state());
    assert.deepEqual(a.state().entries, b.state().entries);
    assert.equal(ra.conflicts.length, 1, 'the first peer to see both reports it');
    assert.deepEqual(rb.conflicts, [], 'by then the winner is already agreed');
    assert.equal(a.ownerOf(a.rangesOf('b').at(-1)![0]), 'b', 'the larger name won');
  });

  it('refuses a ring for another universe and tokens outside it', () => {
    const a = new Ring('a', UNIVERSE);
    const other = new Ring('b', '10.33.0.0/22');
    other.claimAll();
    assert.throws(() => a.merge(other.state()), /range/);
    assert.throws(() => a.merge({ universe: UNIVERSE, entries: [{ token: 5, owner: 'x', version: 1 }], hints: {} }), /outside/);
  });
});

describe('mesh ring: randomized partitions never duplicate an address', () => {
  for (const seed of [1, 7, 42, 1234, 99_999]) {
    it(`seed ${seed}: 5 peers (2 start without space), ≥ 200 allocations each while partitioned`, () => {
      const rng = new Prng(seed);
      const names = ['p0', 'p1', 'p2', 'p3', 'p4'];
      const ps = names.map((n) => peer(n, '10.32.0.0/23'));
      for (const p of ps.slice(0, 3)) p.ring.seed(['p0', 'p1', 'p2']);
      // side[i]: which partition group peer i is in; everyone in group 0 = healed.
      let side = names.map(() => 0);
      const allocsWhilePartitioned = names.map(() => 0);
      let step = 0;
      let donations = 0;
      let donationsWhilePartitioned = 0;
      let failedAsks = 0;
      const partitioned = (): boolean => side.some((s) => s !== side[0]);
      const reachable = (i: number): MeshAllocator[] => ps.filter((_, j) => j !== i && side[j] === side[i]);
      const next = new Map<string, number>();
      while (allocsWhilePartitioned.some((n) => n < 200)) {
        step++;
        assert.ok(step < 200_000, 'the test makes progress');
        const r = rng.next();
        if (r < 0.01) {
          // New partition layout: 2 or 3 groups, or healed.
          const groups = rng.int(1, 3);
          side = names.map(() => rng.int(0, groups - 1));
        } else if (r < 0.3) {
          const i = rng.int(0, 4);
          const peersThere = reachable(i);
          if (peersThere.length > 0) gossip(ps[i]!, rng.pick(peersThere));
        } else if (r < 0.7) {
          const i = rng.int(0, 4);
          const p = ps[i]!;
          const n = next.get(p.ring.self) ?? 0;
          next.set(p.ring.self, n + 1);
          try {
            p.allocate(`${p.ring.self}-c${n}`);
            if (partitioned()) allocsWhilePartitioned[i]!++;
          } catch (err) {
            if (!(err instanceof WeftError && err.code === 'WEFT_IPAM_EXHAUSTED')) throw err;
            // Out of space: ask a reachable donor (a point-to-point request + the donor's ring as the reply).
            const donorName = p.chooseDonor(reachable(i).map((x) => x.ring.self));
            const donor = ps.find((x) => x.ring.self === donorName);
            if (donor && donor.donate(p.ring.self)) {
              donations++;
              if (partitioned()) donationsWhilePartitioned++;
              gossip(donor, p);
            } else failedAsks++;
          }
        } else {
          // Free one of a random peer's addresses (more often when space is tight).
          const p = rng.pick(ps);
          const held = p.allocations();
          if (held.length > 0) p.release(rng.pick(held).id);
        }
        assertNoDuplicates(ps, `seed ${seed} step ${step}`);
      }
      // Heal and gossip until nothing changes.
      for (let round = 0; round < 10; round++) for (const a of ps) for (const b of ps) if (a !== b) gossip(a, b);
      const first = JSON.stringify(ps[0]!.ring.state().entries);
      for (const p of ps) assert.equal(JSON.stringify(p.ring.state().entries), first, `${p.ring.self}'s ring converged`);
      assertNoDuplicates(ps, `seed ${seed} after heal`);
      for (const p of ps) assert.deepEqual(p.orphans(), []);
      const total = [...ps[0]!.ring.ownership().values()].reduce((x, y) => x + y, 0);
      assert.equal(total, 512, 'every address owned exactly once');
      assert.ok(donationsWhilePartitioned > 0, 'space changed hands during partitions');
      console.log(
        `# seed ${seed}: ${step} steps, allocations while partitioned ${allocsWhilePartitioned.join('/')}, ${donations} donations (${donationsWhilePartitioned} while partitioned), ${failedAsks} unanswerable asks, ${ps[0]!.ring.state().entries.length} tokens`,
      );
    });
  }
});

describe('allocator free count', () => {
  it('equals a walk over every owned address, with reserved addresses and allocations', () => {
    const ring = new Ring('a', '10.32.0.0/22');
    ring.seed(['a', 'b', 'c']);
    const al = new MeshAllocator(ring, ['10.32.0.1', '10.32.3.200']);
    const walk = (): number => {
      let n = 0;
      for (const [x, y] of ring.rangesOf('a'))
        for (let v = x; v < y; v++)
          if (v !== ring.start && v !== ring.end - 1 && v !== ip4ToNum('10.32.0.1', 'r') && v !== ip4ToNum('10.32.3.200', 'r'))
            n += al.allocations().some((e) => ip4ToNum(e.address, 'a') === v) ? 0 : 1;
      return n;
    };
    assert.equal(al.freeCount(), walk());
    for (let i = 0; i < 50; i++) al.allocate(`e${i}`);
    for (let i = 0; i < 50; i += 3) al.release(`e${i}`);
    assert.equal(al.freeCount(), walk());
  });
});
