/** Mesh network definitions (LWW per name): merge order does not matter, removals win over stale copies. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MeshNetworks, type MeshNetworkRecord } from '../../../src/mesh/networks/mesh-networks.js';

const spec = { options: {}, labels: { a: 'b' }, internal: false, subnet: '10.32.0.0/12', gateway: '10.32.0.1' };
const ID1 = 'a'.repeat(64);
const ID2 = 'b'.repeat(64);

describe('mesh network definitions', () => {
  it('converge to the same winner whatever order records arrive in', () => {
    const a = new MeshNetworks('a');
    const b = new MeshNetworks('b');
    const r1 = a.publish('n', ID1, spec, 1000)!;
    const r2 = b.publish('n', ID2, spec, 1000)!; // same time: the greater origin wins
    const tomb = a.withdraw('n', ID1, 500); // not news for b's newer copy? it bumps above ID1's version
    const all: MeshNetworkRecord[] = [r1, r2, ...(tomb ? [tomb] : [])];
    for (let seed = 0; seed < 20; seed++) {
      const p = new MeshNetworks(`p${seed}`);
      const order = [...all].sort(() => ((seed * 7919) % 3) - 1);
      p.merge(order);
      p.merge([...order].reverse());
      const w = p.get('n')!;
      const want = [...all].sort((x, y) => y.version - x.version || (y.origin > x.origin ? 1 : -1))[0]!;
      assert.deepEqual([w.id, w.deleted, w.version], [want.id, want.deleted, want.version]);
    }
  });

  it('a removal outbids the definition and a stale copy cannot resurrect it; a re-creation outbids the removal', () => {
    const a = new MeshNetworks('a');
    const b = new MeshNetworks('b');
    const made = a.publish('n', ID1, spec, 1000)!;
    b.merge([made]);
    const tomb = b.withdraw('n', ID1, 2000)!;
    assert.equal(tomb.deleted, true);
    assert.deepEqual(a.merge([tomb]).length, 1);
    assert.deepEqual(a.merge([made]), [], 'stale definition ignored');
    assert.equal(a.get('n')!.deleted, true);
    assert.equal(a.publish('n', ID1, spec, 1000), undefined, 'a restart re-publishing the old creation time loses');
    const again = a.publish('n', ID2, spec, 3000)!;
    assert.equal(b.merge([again]).length, 1);
    assert.equal(b.get('n')!.id, ID2);
    assert.equal(b.withdraw('n', ID1, 4000), undefined, 'withdrawing an older id is not news');
  });
});
