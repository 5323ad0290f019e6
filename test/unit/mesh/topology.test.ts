/** Topology gossip and route choice: direct, relayed around a missing link, back to direct, symmetric links only. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, computeRoutes, forwardTo, type PeerLinks } from '../../../src/mesh/topology/topology.js';

/** A mesh of Topology instances that gossip by flooding until nothing is news. */
function mesh(names: string[]): Map<string, Topology> {
  return new Map(names.map((n) => [n, new Topology(n)]));
}

function flood(ts: Map<string, Topology>): void {
  for (let round = 0; round < 10; round++) {
    let changed = false;
    for (const a of ts.values()) for (const b of ts.values()) if (a !== b && b.merge(a.entries()).length > 0) changed = true;
    if (!changed) return;
  }
}

let clock = 1000;
/** Make the undirected link set `links` the truth, as each peer's connection layer would report it. */
function connect(ts: Map<string, Topology>, links: [string, string][]): void {
  clock += 10;
  for (const [name, t] of ts) {
    const mine = links.flatMap(([a, b]) => (a === name ? [b] : b === name ? [a] : []));
    t.setLocalLinks(mine, clock);
  }
  flood(ts);
}

/** Every pair of `names`, each once: a full mesh's links. */
const fullMesh = (names: string[]): [string, string][] => names.flatMap((a, i) => names.slice(i + 1).map((b): [string, string] => [a, b]));

describe('mesh topology', () => {
  it('full mesh: everyone direct', () => {
    const ts = mesh(['a', 'b', 'c', 'd']);
    connect(ts, fullMesh(['a', 'b', 'c', 'd']));
    for (const [n, t] of ts) for (const m of ts.keys()) if (m !== n) assert.deepEqual(t.routes().get(m), { via: m, hops: 1 });
  });

  it('A–C missing: A→C goes through B (the first of the equal relays), C→A likewise; back to direct when the link returns', () => {
    const ts = mesh(['a', 'b', 'c', 'd']);
    const all = fullMesh(['a', 'b', 'c', 'd']);
    connect(
      ts,
      all.filter(([x, y]) => !(x === 'a' && y === 'c')),
    );
    assert.deepEqual(ts.get('a')!.routes().get('c'), { via: 'b', hops: 2 });
    assert.deepEqual(ts.get('c')!.routes().get('a'), { via: 'b', hops: 2 });
    assert.equal(ts.get('b')!.nextHop('c'), 'c');
    connect(ts, all);
    assert.deepEqual(ts.get('a')!.routes().get('c'), { via: 'c', hops: 1 });
  });

  it('a chain routes hop by hop; an isolated peer is unreachable', () => {
    const ts = mesh(['a', 'b', 'c', 'd', 'e']);
    connect(ts, [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
    ]);
    assert.deepEqual(ts.get('a')!.routes().get('d'), { via: 'b', hops: 3 });
    assert.equal(ts.get('c')!.nextHop('a'), 'b');
    assert.equal(ts.get('a')!.nextHop('e'), undefined);
  });

  it('a link only one end reports is not used between others, but our own links count at once', () => {
    const peers = new Map<string, PeerLinks>([
      ['a', { name: 'a', version: 1, links: ['b'] }],
      ['b', { name: 'b', version: 1, links: ['a', 'c'] }],
      ['c', { name: 'c', version: 1, links: [] }],
    ]);
    const fromA = computeRoutes('a', peers);
    assert.equal(fromA.get('c'), undefined, 'b→c is half-open: c does not report it');
    const fromC = computeRoutes('c', peers);
    assert.equal(fromC.size, 0);
    const fromB = computeRoutes('b', peers);
    assert.deepEqual(fromB.get('c'), { via: 'c', hops: 1 }, 'b trusts its own link');
  });

  it('merge keeps the highest version, reports news only once, and drops forgotten peers', () => {
    const a = new Topology('a');
    const news = a.merge([{ name: 'b', version: 5, links: ['a'] }]);
    assert.equal(news.length, 1);
    assert.deepEqual(a.merge([{ name: 'b', version: 5, links: ['a'] }]), []);
    assert.deepEqual(a.merge([{ name: 'b', version: 4, links: [] }]), []);
    assert.deepEqual(a.entry('b')?.links, ['a']);
    a.setLocalLinks(['b'], 10);
    assert.equal(a.nextHop('b'), 'b');
    a.remove('b');
    assert.equal(a.entry('b'), undefined);
    // An older run of ours with a higher version: we jump past it.
    const bumped = a.merge([{ name: 'a', version: 99, links: ['zz'] }]);
    assert.equal(bumped[0]?.version, 100);
    assert.deepEqual(a.entry('a')?.links, ['b']);
  });
});

describe('mesh topology: gossip terminates', () => {
  it('our own entry echoed back at the same version is not news (no ping-pong)', () => {
    const a = new Topology('a');
    const b = new Topology('b');
    const mine = a.setLocalLinks(['b'], 100)!;
    assert.equal(b.merge([mine]).length, 1);
    assert.deepEqual(
      a.merge(b.entries()).filter((e) => e.name === 'a'),
      [],
      'the echo of our own entry changes nothing',
    );
    assert.deepEqual(a.merge(b.entries()), [], 'and a second round has no news at all');
  });
});

describe('mesh topology: forwarding along the origin’s broadcast', () => {
  /**
   * Message passing as the router does it: the origin sends its new entry to every neighbour;
   * a peer that finds news passes it on, to every neighbour but the sender, only as forwardTo
   * allows (or to all, `everyone`). Returns the messages sent.
   */
  function spread(ts: Map<string, Topology>, conns: Map<string, string[]>, origin: string, links: string[], everyone: boolean): number {
    clock += 10;
    const mine = ts.get(origin)!.setLocalLinks(links, clock)!;
    const queue: { from: string; to: string; entries: PeerLinks[] }[] = conns
      .get(origin)!
      .map((to) => ({ from: origin, to, entries: [mine] }));
    let sent = queue.length;
    while (queue.length > 0) {
      const { from, to, entries } = queue.shift()!;
      const news = ts.get(to)!.merge(entries);
      for (const n of conns.get(to)!) {
        if (n === from || news.length === 0) continue;
        const fwd = everyone ? news : news.filter((e) => forwardTo(e, to, n));
        if (fwd.length === 0) continue;
        queue.push({ from: to, to: n, entries: fwd });
        sent++;
      }
    }
    return sent;
  }

  it('full mesh of 16: one change reaches everyone with n − 1 messages instead of ~n²', () => {
    const names = Array.from({ length: 16 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    const conns = new Map(names.map((n) => [n, names.filter((m) => m !== n)]));
    for (const everyone of [false, true]) {
      const ts = mesh(names);
      connect(
        ts,
        names.flatMap((a, i) => names.slice(i + 1).map((b): [string, string] => [a, b])),
      );
      // A new link (a peer joining p03), then a lost one (p00's heartbeats stop; the connection is still open).
      const joined = spread(ts, conns, 'p03', [...conns.get('p03')!, 'p99'], everyone);
      for (const t of ts.values()) assert.deepEqual(t.entry('p03'), ts.get('p03')!.entry('p03'), `${t.self} has p03's new entry`);
      const lost = spread(ts, conns, 'p03', conns.get('p03')!.slice(1), everyone);
      for (const t of ts.values()) assert.deepEqual(t.entry('p03'), ts.get('p03')!.entry('p03'), `${t.self} has p03's newer entry`);
      if (everyone) assert.deepEqual([joined, lost], [15 + 15 * 14, 15 + 15 * 14], 'flooding to everyone: n − 1 + (n − 1)(n − 2)');
      else
        assert.deepEqual([joined, lost], [15, 15 + 14], 'along the broadcast: the origin’s n − 1, plus one copy each for the peer it lost');
    }
  });

  it('partial connectivity: peers not linked to the origin still get its entry, through a relay', () => {
    // a–c missing: b relays; d hangs off c only.
    const ts = mesh(['a', 'b', 'c', 'd']);
    const links: [string, string][] = [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
    ];
    connect(ts, links);
    const conns = new Map([
      ['a', ['b']],
      ['b', ['a', 'c']],
      ['c', ['b', 'd']],
      ['d', ['c']],
    ]);
    // b learns of a new neighbour e (not in the graph for the others yet): everyone must hear of it.
    spread(ts, conns, 'b', ['a', 'c', 'e'], false);
    for (const t of ts.values()) assert.deepEqual(t.entry('b')?.links, ['a', 'c', 'e'], `${t.self} has b's entry`);
    spread(ts, conns, 'a', ['b', 'x'], false);
    for (const t of ts.values())
      assert.deepEqual(t.entry('a')?.links, ['b', 'x'], `${t.self} has a's entry (two hops away for c, three for d)`);
  });

  it('our own entry (bumped past an older run) goes to every neighbour', () => {
    assert.equal(forwardTo({ name: 'a', version: 5, links: ['b'] }, 'a', 'b'), true);
    assert.equal(forwardTo({ name: 'x', version: 5, links: ['b'] }, 'a', 'b'), false, 'b has it from x itself');
    assert.equal(forwardTo({ name: 'x', version: 5, links: ['b'] }, 'a', 'x'), false, 'never back to the origin');
    assert.equal(forwardTo({ name: 'x', version: 5, links: ['b'] }, 'a', 'c'), true, 'c is not linked to x');
  });
});
