/**
 * SWIM membership on a deterministic simulated network: joining, crash detection within a
 * stated bound, no false "dead" under loss, refutation, leave, partitions and heal. Seeds are
 * fixed so a failure is reproducible; several seeds per property.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Membership } from '../../../src/mesh/membership/membership.js';
import { BroadcastQueue } from '../../../src/mesh/membership/broadcast-queue.js';
import { DEFAULT_MEMBERSHIP_CONFIG, retransmitLimit, suspicionMinMs, suspicionTimeoutMs } from '../../../src/mesh/membership/config.js';
import { SwimSim } from './swim-sim.js';

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `p${String(i).padStart(2, '0')}`);
const C = DEFAULT_MEMBERSHIP_CONFIG;

/** Start n peers, each joining through p00, and run until everyone sees everyone. */
function cluster(seed: number, n: number, loss = 0): SwimSim {
  const sim = new SwimSim(seed);
  sim.loss = loss;
  const ps = names(n);
  for (const p of ps) sim.add(p);
  for (const p of ps.slice(1)) sim.pushPull(p, ps[0]!);
  const t = sim.runUntil(60_000, () => sim.converged());
  assert.ok(t !== undefined, `seed ${seed}: ${n} peers did not converge in 60 s`);
  return sim;
}

/**
 * Upper bound for "all live peers mark a crashed one dead": within n probe periods some peer
 * has probed it and failed (round-robin probing, one period of slack), one suspicion timer at
 * its longest, then a few gossip rounds to reach everyone.
 */
function detectionBoundMs(n: number): number {
  const min = suspicionMinMs(C, n);
  return n * C.probeIntervalMs + min * C.suspicionMaxTimeoutMult + 10 * C.gossipIntervalMs;
}

describe('mesh membership: building blocks', () => {
  it('suspicion timeout starts at max and falls to min with confirmations', () => {
    assert.equal(suspicionTimeoutMs(4000, 24000, 0, 2), 24000);
    assert.ok(suspicionTimeoutMs(4000, 24000, 1, 2) < 24000);
    assert.equal(suspicionTimeoutMs(4000, 24000, 2, 2), 4000);
    assert.equal(suspicionTimeoutMs(4000, 24000, 5, 0), 4000);
    assert.equal(suspicionMinMs(C, 100), 8000); // 4 × log10(100) × 1 s
    assert.equal(retransmitLimit(4, 9), 4);
    assert.equal(retransmitLimit(4, 16), 8);
  });

  it('broadcast queue: a newer fact replaces the older, each is sent a bounded number of times', () => {
    const q = new BroadcastQueue();
    q.push({ t: 'alive', name: 'a', inc: 1, addr: 'a', meta: 'm' });
    q.push({ t: 'suspect', name: 'a', inc: 1, from: 'b' });
    q.push({ t: 'alive', name: 'c', inc: 0, addr: 'c', meta: 'm' });
    assert.equal(q.size, 2);
    const first = q.take(10_000, 3);
    assert.deepEqual(first.map((u) => `${u.t}:${u.name}`).sort(), ['alive:c', 'suspect:a']);
    q.take(10_000, 3);
    q.take(10_000, 3);
    assert.equal(q.size, 0, 'dropped after 3 transmissions');
    q.push({ t: 'alive', name: 'x', inc: 0, addr: 'x'.repeat(500), meta: '' });
    assert.deepEqual(q.take(100, 3), [], 'an update over the byte budget waits');
  });

  it('a peer that hears it is suspected or dead refutes with a higher incarnation', () => {
    const m = new Membership({ name: 'a', addr: 'a', meta: 'run1', now: 0, random: () => 0.5 });
    m.receive('b', { updates: [{ t: 'alive', name: 'b', inc: 0, addr: 'b', meta: 'x' }] }, 1);
    m.receive('b', { updates: [{ t: 'suspect', name: 'a', inc: 0, from: 'b' }] }, 2);
    assert.equal(m.self.incarnation, 1);
    m.receive('b', { updates: [{ t: 'dead', name: 'a', inc: 4, from: 'b', left: false }] }, 3);
    assert.equal(m.self.incarnation, 5);
    assert.equal(m.self.state, 'alive');
    const out = m.tick(1000);
    const sent = out.flatMap((o) => (o.kind === 'send' ? o.packet.updates : []));
    assert.ok(
      sent.some((u) => u.t === 'alive' && u.name === 'a' && u.inc === 5),
      'the refutation is gossiped',
    );
    // Old facts about others are ignored; a higher incarnation wins.
    m.receive('b', { updates: [{ t: 'suspect', name: 'b', inc: 0, from: 'c' }] }, 4);
    assert.equal(m.member('b')?.state, 'suspect');
    m.receive('b', { updates: [{ t: 'alive', name: 'b', inc: 0, addr: 'b', meta: 'x' }] }, 5);
    assert.equal(m.member('b')?.state, 'suspect', 'alive at the same incarnation does not clear a suspicion');
    m.receive('b', { updates: [{ t: 'alive', name: 'b', inc: 1, addr: 'b', meta: 'x' }] }, 6);
    assert.equal(m.member('b')?.state, 'alive');
  });

  it('answers only pings meant for it, and relays indirect probes with an ack or a nack', () => {
    const m = new Membership({ name: 'a', addr: 'A', meta: 'r', now: 0, random: () => 0.5 });
    assert.deepEqual(m.receive('B', { msg: { t: 'ping', seq: 7, target: 'old-owner', from: 'b' }, updates: [] }, 1), []);
    const acks = m.receive('B', { msg: { t: 'ping', seq: 8, target: 'a', from: 'b' }, updates: [] }, 1);
    assert.ok(acks.some((o) => o.kind === 'send' && o.to === 'B' && o.packet.msg?.t === 'ack' && o.packet.msg.seq === 8));
    const fwd = m.receive('B', { msg: { t: 'ping-req', seq: 9, target: 'c', targetAddr: 'C', from: 'b' }, updates: [] }, 2);
    const ping = fwd.find((o) => o.kind === 'send' && o.to === 'C' && o.packet.msg?.t === 'ping');
    assert.ok(ping && ping.kind === 'send' && ping.packet.msg?.t === 'ping');
    const nack = m.tick(2 + C.probeTimeoutMs);
    assert.ok(nack.some((o) => o.kind === 'send' && o.to === 'B' && o.packet.msg?.t === 'nack' && o.packet.msg.seq === 9));
    const late = m.receive('C', { msg: { t: 'ack', seq: ping.packet.msg.seq, from: 'c' }, updates: [] }, 3 + C.probeTimeoutMs);
    assert.ok(late.some((o) => o.kind === 'send' && o.to === 'B' && o.packet.msg?.t === 'ack' && o.packet.msg.seq === 9));
  });
});

describe('mesh membership: simulated clusters', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 8 peers joined through one seed converge, a crashed peer is dead everywhere within the bound`, () => {
      const sim = cluster(seed, 8);
      const victim = 'p05';
      sim.crashed.add(victim);
      const bound = detectionBoundMs(8);
      const t = sim.runUntil(bound, () => sim.live().every((o) => sim.stateOf(o, victim) === 'dead'));
      assert.ok(t !== undefined, `not detected by all within ${bound} ms`);
      const firstSuspect = sim.events.find((e) => e.type === 'suspect' && e.member.name === victim);
      assert.ok(firstSuspect, 'a suspicion came first');
      // No one else was ever declared dead.
      assert.deepEqual(
        sim.events.filter((e) => (e.type === 'dead' || e.type === 'left') && e.member.name !== victim),
        [],
      );
      console.log(`# seed ${seed}: crash detected by all 7 peers in ${t} ms (bound ${bound} ms)`);
    });
  }

  for (const [seed, loss] of [
    [11, 0.1],
    [12, 0.1],
    [13, 0.2],
  ] as const) {
    it(`seed ${seed}: ${loss * 100} % datagram loss for 10 simulated minutes → no live peer declared dead`, () => {
      const sim = cluster(seed, 10, loss);
      sim.run(600_000);
      const dead = sim.events.filter((e) => e.type === 'dead' || e.type === 'left');
      const suspects = sim.events.filter((e) => e.type === 'suspect').length;
      assert.deepEqual(dead, [], `false positives: ${dead.map((e) => `${e.observer}→${e.member.name}@${e.at}`).join(', ')}`);
      assert.ok(sim.converged(), 'everyone still sees everyone alive');
      console.log(`# seed ${seed}: loss ${loss}: ${suspects} suspicions raised and refuted, 0 dead`);
    });
  }

  it('a partition marks the other side dead; healed within the retention window, everyone is alive again through reconnect exchanges', () => {
    const sim = cluster(21, 8);
    const ps = names(8);
    sim.partition(ps.slice(0, 4), ps.slice(4));
    const split = sim.runUntil(60_000, () => ps.slice(0, 4).every((a) => ps.slice(4).every((b) => sim.stateOf(a, b) === 'dead')));
    assert.ok(split !== undefined, 'each side declared the other dead');
    sim.heal();
    const t = sim.runUntil(C.deadRetainMs, () => sim.converged());
    assert.ok(t !== undefined, 'converged after heal');
    console.log(`# partition: split seen after ${split} ms, converged ${t} ms after heal`);
  });

  it('after the dead are forgotten, a heal converges through a re-join (what the router does with its seeds)', () => {
    const sim = cluster(22, 6);
    const ps = names(6);
    sim.partition(ps.slice(0, 3), ps.slice(3));
    sim.run(60_000 + C.deadRetainMs);
    assert.equal(sim.peers.get('p00')!.member('p05'), undefined, 'p05 forgotten by p00');
    sim.heal();
    for (const p of ps.slice(3)) sim.pushPull(p, 'p00');
    const t = sim.runUntil(30_000, () => sim.converged());
    assert.ok(t !== undefined, 'converged after re-join');
  });

  it('graceful leave: left everywhere at once, forgotten after the retention window', () => {
    const sim = cluster(31, 5);
    sim.collectLeave('p03');
    sim.run(100); // what a leaving peer waits for its word to get out
    sim.crashed.add('p03');
    const t = sim.runUntil(5_000, () => sim.live().every((o) => sim.stateOf(o, 'p03') === 'left'));
    assert.ok(t !== undefined);
    sim.run(C.deadRetainMs + 1000);
    assert.ok(
      sim.live().every((o) => sim.stateOf(o, 'p03') === undefined),
      'forgotten',
    );
    assert.deepEqual(
      sim.events.filter((e) => e.type === 'dead'),
      [],
      'a leave is not a failure',
    );
  });

  it('a restarted peer (same name, new run, incarnation 0) outbids its dead record and rejoins', () => {
    const sim = cluster(41, 5);
    sim.crashed.add('p02');
    sim.runUntil(60_000, () => sim.stateOf('p00', 'p02') === 'dead');
    sim.add('p02');
    sim.pushPull('p02', 'p00');
    const t = sim.runUntil(20_000, () => sim.converged());
    assert.ok(t !== undefined, 'restarted peer alive everywhere');
    assert.ok(sim.peers.get('p02')!.self.incarnation > 0);
  });

  it('forget marks a dead peer left everywhere', () => {
    const sim = cluster(51, 5);
    sim.crashed.add('p04');
    sim.runUntil(60_000, () => sim.stateOf('p00', 'p04') === 'dead');
    sim.forgetAt('p00', 'p04');
    const t = sim.runUntil(5_000, () => sim.live().every((o) => sim.stateOf(o, 'p04') === 'left'));
    assert.ok(t !== undefined);
  });
});
