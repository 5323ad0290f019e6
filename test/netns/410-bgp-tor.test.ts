/**
 * Pure L3 across two L2 segments (seed 004's Calico story): hosts a and b on segment 1, host
 * c on segment 2, joined by a router namespace running BIRD as a top-of-rack router from the
 * same renderer (role "router"). Hosts have their own AS and peer only with the router (eBGP).
 * Checks the router's kernel table (each block with the right next hop), the hosts' tables, a
 * borrowed /32 from a's block living on c, real TCP across segments, and withdrawal when a
 * host's BIRD dies (session closed at once) and when a host drops off the network (hold timer).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BgpModel } from '../../src/bgp/model.js';
import { hostBehindTorModel, torRouterModel } from '../../src/bgp/tor-model.js';
import type { BgpSpeaker } from '../../src/bgp/bgp-speaker.js';
import type { Rtnl } from '../../src/kernel/netlink/rtnl.js';
import { mustRun, waitFor } from '../../src/lab/sim-host.js';
import { BgpTopology, birdRoutes, waitBirdRoute, waitEstablished, waitNoBirdRoute, type LabNode } from './bgp-topology.js';

const R1 = '198.18.41.254';
const R2 = '198.18.42.254';
const A = '198.18.41.1';
const B = '198.18.41.2';
const C = '198.18.42.1';
const POOLS = ['10.41.0.0/16'];
const HOLD = 9;
const timers = { holdSeconds: HOLD, keepaliveSeconds: 3 };
const figure = (name: string, value: string): void => void process.stdout.write(`# figure ${name}: ${value}\n`);

const TOR = { name: 'tor', asNumber: 65000 };
const hostModel = (name: string, as: number, addr: string, tor: string, blocks: string[], borrowed: string[] = []): BgpModel =>
  hostBehindTorModel({ name, asNumber: as, address: addr, router: { ...TOR, address: tor }, pools: POOLS, blocks, borrowed, timers });

// Built with the same helper the lab's `--bgp` routers use.
const torModel: BgpModel = torRouterModel({
  ...TOR,
  pools: POOLS,
  segments: [
    {
      routerAddress: R1,
      hosts: [
        { name: 'a', asNumber: 64601, address: A },
        { name: 'b', asNumber: 64602, address: B },
      ],
    },
    { routerAddress: R2, hosts: [{ name: 'c', asNumber: 64603, address: C }] },
  ],
  timers,
});

describe('bgp: three hosts in two L2 segments behind a BIRD top-of-rack router', () => {
  const lab = new BgpTopology();
  let a: LabNode, b: LabNode, c: LabNode, r: LabNode;
  let wa: LabNode, wb: LabNode, wc: LabNode, wc2: LabNode;
  let sa: BgpSpeaker, sb: BgpSpeaker, sc: BgpSpeaker, sr: BgpSpeaker;
  let ra: Rtnl, rb: Rtnl, rc: Rtnl, rr: Rtnl;

  before(async () => {
    await lab.segment('s1');
    await lab.segment('s2');
    r = await lab.router('tor');
    a = await lab.router('a');
    b = await lab.router('b');
    c = await lab.router('c');
    await lab.attach(r, 's1', 'eth1', [`${R1}/24`]);
    await lab.attach(r, 's2', 'eth2', [`${R2}/24`]);
    await lab.attach(a, 's1', 'eth0', [`${A}/24`]);
    await lab.attach(b, 's1', 'eth0', [`${B}/24`]);
    await lab.attach(c, 's2', 'eth0', [`${C}/24`]);
    // The underlay between segments is the router's business; hosts only know their gateway.
    for (const [n, gw] of [
      [a, R1],
      [b, R1],
      [c, R2],
    ] as const) {
      await mustRun('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', gw]);
    }
    wa = await lab.workload(a, 'wa', '10.41.1.10');
    wb = await lab.workload(b, 'wb', '10.41.2.10');
    wc = await lab.workload(c, 'wc', '10.41.3.10');
    wc2 = await lab.workload(c, 'wc2', '10.41.1.60'); // borrowed from a's block
    [ra, rb, rc, rr] = await Promise.all([lab.rtnl(a), lab.rtnl(b), lab.rtnl(c), lab.rtnl(r)]);
  });

  after(async () => {
    await lab.cleanup();
  });

  it('brings up the router and the hosts; every host session is Established within a bound', async () => {
    const t0 = Date.now();
    [sr, sa, sb, sc] = await Promise.all([
      lab.speaker(r, torModel),
      lab.speaker(a, hostModel('a', 64601, A, R1, ['10.41.1.0/26'])),
      lab.speaker(b, hostModel('b', 64602, B, R1, ['10.41.2.0/26'])),
      lab.speaker(c, hostModel('c', 64603, C, R2, ['10.41.3.0/26'], ['10.41.1.60']), { restart: { enabled: false } }),
    ]);
    await Promise.all([sr, sa, sb, sc].map((s) => waitEstablished(s)));
    const ms = Date.now() - t0;
    figure('4 BIRDs started until every session Established (3 eBGP)', `${ms} ms`);
    const peers = await sr.peers();
    assert.deepEqual(
      peers.map((p) => [p.peer, p.neighborAs, p.state]),
      [
        ['a', 64601, 'Established'],
        ['b', 64602, 'Established'],
        ['c', 64603, 'Established'],
      ],
    );
  });

  it("the router's kernel holds each host's block (and the borrowed /32) with the right next hop", async () => {
    await waitBirdRoute(rr, 4, '10.41.1.0/26', A);
    await waitBirdRoute(rr, 4, '10.41.2.0/26', B);
    await waitBirdRoute(rr, 4, '10.41.3.0/26', C);
    await waitBirdRoute(rr, 4, '10.41.1.60/32', C);
    assert.equal(birdRoutes(rr, 4).length, 4, JSON.stringify(birdRoutes(rr, 4)));
  });

  it('the router redistributes: every host learns the other blocks through it', async () => {
    await waitBirdRoute(rc, 4, '10.41.1.0/26', R2);
    await waitBirdRoute(rc, 4, '10.41.2.0/26', R2);
    await waitBirdRoute(ra, 4, '10.41.3.0/26', R1);
    // a's own block is a blackhole on a; the /32 c borrowed from it goes to the router.
    await waitBirdRoute(ra, 4, '10.41.1.0/26', 'blackhole');
    await waitBirdRoute(ra, 4, '10.41.1.60/32', R1);
    // b and a share a segment: BIRD passes on the first hop when it is on the peer's network.
    const bToA = await waitFor('b learns a', () => birdRoutes(rb, 4, '10.41.1.0/26')[0]);
    assert.ok(bToA.gateway === A || bToA.gateway === R1, `next hop ${bToA.gateway}`);
    figure(
      'b → a block next hop',
      `${bToA.gateway} (${bToA.gateway === A ? 'third-party next hop on the shared segment' : 'via the router'})`,
    );
  });

  it('carries TCP across the segments, including to the borrowed address', async () => {
    for (const w of [wa, wb, wc, wc2]) await lab.tcpServer(w, 7000);
    assert.equal(await waitFor('wa → wc', () => lab.tcpProbe(wa, '10.41.3.10', 7000), 10_000), '10.41.1.10 hi');
    assert.equal(await waitFor('wc → wb', () => lab.tcpProbe(wc, '10.41.2.10', 7000), 10_000), '10.41.3.10 hi');
    assert.equal(await waitFor('wb → wc2', () => lab.tcpProbe(wb, '10.41.1.60', 7000), 10_000), '10.41.2.10 hi');
    assert.equal(await waitFor('wa → wc2 (its own block, on c)', () => lab.tcpProbe(wa, '10.41.1.60', 7000), 10_000), '10.41.1.10 hi');
  });

  it("a host's BIRD killed → its routes leave the router and the other hosts at once", async () => {
    const pid = sc.pid!;
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL'); // our own child, by pid; restarts are off for c
    const atR = await waitNoBirdRoute(rr, 4, '10.41.3.0/26', 10_000);
    await waitNoBirdRoute(rr, 4, '10.41.1.60/32', 10_000);
    await waitNoBirdRoute(ra, 4, '10.41.3.0/26', 10_000);
    const atA = Date.now() - t0;
    await waitNoBirdRoute(rb, 4, '10.41.3.0/26', 10_000);
    await waitNoBirdRoute(ra, 4, '10.41.1.60/32', 10_000);
    figure('host BIRD killed → withdrawn at the router', `${atR} ms`);
    figure('host BIRD killed → withdrawn at another host (via the router)', `${atA} ms`);
    assert.ok(atA < 3000, `${atA} ms`);
    // a's blackhole covers the address c borrowed again: traffic to it is dropped on a, not looped.
    assert.equal(await lab.tcpProbe(wa, '10.41.1.60', 7000, 800), undefined);
    await waitFor('c gave up (restarts off)', () => sc.process.state === 'failed' || undefined, 5000);
  });

  it('the host comes back: its routes return', async () => {
    const t0 = Date.now();
    await sc.process.ensure();
    await waitEstablished(sc);
    await waitBirdRoute(ra, 4, '10.41.3.0/26', R1);
    figure('host BIRD restarted → its block back at another host', `${Date.now() - t0} ms`);
  });

  it('a host that drops off the network is withdrawn after the hold time', async () => {
    const t0 = Date.now();
    // Power loss, as the router sees it: c's link goes down, no FIN, no NOTIFICATION.
    await mustRun('ip', ['-n', c.ns, 'link', 'set', 'eth0', 'down']);
    const atR = await waitNoBirdRoute(rr, 4, '10.41.3.0/26', (HOLD + 5) * 1000);
    await waitNoBirdRoute(ra, 4, '10.41.3.0/26', 5000);
    const atA = Date.now() - t0;
    figure(`host link down → withdrawn at the router (hold ${HOLD} s)`, `${atR} ms`);
    figure(`host link down → withdrawn at another host (hold ${HOLD} s)`, `${atA} ms`);
    assert.ok(atR >= (HOLD - 4) * 1000 && atR <= (HOLD + 4) * 1000, `${atR} ms for a ${HOLD} s hold time`);
    await mustRun('ip', ['-n', c.ns, 'link', 'set', 'eth0', 'up']);
    await mustRun('ip', ['-n', c.ns, 'route', 'replace', 'default', 'via', R2]);
    await waitBirdRoute(ra, 4, '10.41.3.0/26', R1, 30_000);
  });
});
