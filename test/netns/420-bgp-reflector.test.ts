/**
 * Route reflection with real BIRD: h1 is a route reflector, h2 and h3 its clients (no mesh
 * between the clients). Each client learns the other's block through the reflector with the
 * originating host as next hop; the reflector's kernel has both; moving to a full mesh is a
 * reconfigure.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BgpModel } from '../../src/bgp/model.js';
import type { BgpSpeaker } from '../../src/bgp/bgp-speaker.js';
import type { Rtnl } from '../../src/kernel/netlink/rtnl.js';
import { BgpTopology, waitBirdRoute, waitEstablished, type LabNode } from './bgp-topology.js';

const H1 = '198.18.43.1';
const H2 = '198.18.43.2';
const H3 = '198.18.43.3';
const hosts = [
  { name: 'h1', asNumber: 64512, address4: H1, reflectorClusterId: '1' },
  { name: 'h2', asNumber: 64512, address4: H2 },
  { name: 'h3', asNumber: 64512, address4: H3 },
];

const model = (name: string, addr: string, block: string, over: Partial<BgpModel> = {}): BgpModel => ({
  hostName: name,
  routerId: addr,
  asNumber: 64512,
  address4: addr,
  pools: ['10.43.0.0/16'],
  blocks: [block],
  mesh: 'reflectors',
  hosts,
  timers: { holdSeconds: 9, keepaliveSeconds: 3 },
  ...over,
});

describe('bgp: route reflector with real BIRD', () => {
  const lab = new BgpTopology();
  let n1: LabNode, n2: LabNode, n3: LabNode;
  let s1: BgpSpeaker, s2: BgpSpeaker, s3: BgpSpeaker;
  let r2: Rtnl, r3: Rtnl, r1: Rtnl;

  before(async () => {
    await lab.segment('l2');
    [n1, n2, n3] = [await lab.router('h1'), await lab.router('h2'), await lab.router('h3')];
    await lab.attach(n1, 'l2', 'eth0', [`${H1}/24`]);
    await lab.attach(n2, 'l2', 'eth0', [`${H2}/24`]);
    await lab.attach(n3, 'l2', 'eth0', [`${H3}/24`]);
    [r1, r2, r3] = await Promise.all([lab.rtnl(n1), lab.rtnl(n2), lab.rtnl(n3)]);
  });

  after(async () => {
    await lab.cleanup();
  });

  it('clients peer with the reflector only and learn each other through it', async () => {
    [s1, s2, s3] = await Promise.all([
      lab.speaker(n1, model('h1', H1, '10.43.1.0/26', { reflectorClusterId: '1' })),
      lab.speaker(n2, model('h2', H2, '10.43.2.0/26')),
      lab.speaker(n3, model('h3', H3, '10.43.3.0/26')),
    ]);
    await Promise.all([s1, s2, s3].map((s) => waitEstablished(s)));
    assert.deepEqual(
      (await s2.peers()).map((p) => p.peer),
      ['h1'],
    );
    assert.deepEqual(
      (await s1.peers()).map((p) => p.peer),
      ['h2', 'h3'],
    );
    // Reflected: learned from h1, next hop still h3.
    await waitBirdRoute(r2, 4, '10.43.3.0/26', H3);
    await waitBirdRoute(r3, 4, '10.43.2.0/26', H2);
    await waitBirdRoute(r1, 4, '10.43.2.0/26', H2);
    await waitBirdRoute(r1, 4, '10.43.3.0/26', H3);
    const raw = await s2.control((c) => c.command('show route 10.43.3.0/26 all'));
    const routes = await s2.routes({ all: true });
    const reflected = routes.find((r) => r.net === '10.43.3.0/26');
    assert.ok(reflected, JSON.stringify(raw));
    assert.equal(reflected.from, H1);
    assert.deepEqual(reflected.nextHops, [{ via: H3, dev: 'eth0' }]);
    assert.equal(reflected.attributes['BGP.originator_id'], H3);
    assert.equal(reflected.attributes['BGP.cluster_list'], '0.0.0.1');
  });

  it('switching to a full mesh is a reconfigure: clients then peer directly', async () => {
    const full = (name: string, addr: string, block: string): BgpModel => ({ ...model(name, addr, block), mesh: 'full' });
    const pid2 = s2.pid;
    await Promise.all([
      s1.apply(full('h1', H1, '10.43.1.0/26')),
      s2.apply(full('h2', H2, '10.43.2.0/26')),
      s3.apply(full('h3', H3, '10.43.3.0/26')),
    ]);
    assert.equal(s2.pid, pid2);
    await waitEstablished(s2);
    assert.deepEqual(
      (await s2.peers()).map((p) => p.peer),
      ['h1', 'h3'],
    );
    await waitBirdRoute(r2, 4, '10.43.3.0/26', H3);
    const direct = (await s2.routes({ protocol: 'host4_198_18_43_3' })).find((r) => r.net === '10.43.3.0/26');
    assert.ok(direct, 'learned over the direct session now');
    assert.equal(direct.from, undefined);
  });
});
