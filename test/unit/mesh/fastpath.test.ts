/** The fast-path plan: VXLAN entries only for direct peers of unencrypted networks, CIDR cover of ring ranges, diffs. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { diffPlans, planFastPath, rangeToCidrs, vtepMac } from '../../../src/mesh/fastpath/vxlan-plan.js';
import { ip4ToNum } from '../../../src/mesh/ring/ipv4.js';
import { Ring } from '../../../src/mesh/ring/ring.js';

describe('mesh fast-path plan', () => {
  it('covers a range with the fewest CIDRs', () => {
    const r = (a: string, b: string): string[] => rangeToCidrs(ip4ToNum(a), ip4ToNum(b));
    assert.deepEqual(r('198.19.0.0', '198.19.16.0'), ['198.19.0.0/20']);
    assert.deepEqual(r('198.19.5.85', '198.19.5.88'), ['198.19.5.85/32', '198.19.5.86/31']);
    assert.deepEqual(r('198.19.0.0', '198.19.5.85'), [
      '198.19.0.0/22',
      '198.19.4.0/24',
      '198.19.5.0/26',
      '198.19.5.64/28',
      '198.19.5.80/30',
      '198.19.5.84/32',
    ]);
    assert.deepEqual(rangeToCidrs(0x80000000, 0x80000004), ['128.0.0.0/30']);
  });

  it('programs direct peers only, and nothing for an encrypted network', () => {
    const ring = new Ring('a', '198.19.0.0/20');
    ring.seed(['a', 'b', 'c']);
    const routes = new Map([
      ['b', { via: 'b', hops: 1 }],
      ['c', { via: 'b', hops: 2 }],
    ]);
    const vteps = new Map([
      ['b', { underlay: '198.18.0.11', vtepIp: '198.19.5.86' }],
      ['c', { underlay: '198.18.0.12', vtepIp: '198.19.10.171' }],
    ]);
    const plan = planFastPath({ self: 'a', encrypted: false, routes, vteps, rangesOf: (p) => ring.rangesOf(p) });
    assert.deepEqual(plan.fdb, [{ mac: vtepMac('b'), dst: '198.18.0.11' }]);
    assert.deepEqual(plan.neighbours, [{ ip: '198.19.5.86', mac: vtepMac('b') }]);
    assert.ok(plan.routes.length > 0 && plan.routes.every((r) => r.via === '198.19.5.86'));
    assert.deepEqual(plan.sleeve, ['c'], 'the relayed peer stays on the sleeve');
    const enc = planFastPath({ self: 'a', encrypted: true, routes, vteps, rangesOf: (p) => ring.rangesOf(p) });
    assert.deepEqual(enc.fdb, []);
    assert.deepEqual(enc.sleeve, ['b', 'c']);
    assert.match(vtepMac('b'), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(parseInt(vtepMac('b').slice(0, 2), 16) & 3, 2, 'locally administered unicast');
    // c becomes direct: the diff adds c's entries and removes nothing.
    const direct = planFastPath({
      self: 'a',
      encrypted: false,
      routes: new Map([...routes, ['c', { via: 'c', hops: 1 }]]),
      vteps,
      rangesOf: (p) => ring.rangesOf(p),
    });
    const d = diffPlans(plan, direct);
    assert.deepEqual(d.add.fdb, [{ mac: vtepMac('c'), dst: '198.18.0.12' }]);
    assert.deepEqual(d.remove, { fdb: [], neighbours: [], routes: [], sleeve: [] });
    const back = diffPlans(direct, plan);
    assert.equal(back.remove.fdb.length, 1);
  });
});
