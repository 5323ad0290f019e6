/** CNI result formats per version, prevResult parsing and chaining. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatResult, mergeResults, parseResult, type CniResult } from '../../src/api/cni/cni-result.js';
import { CniError } from '../../src/api/cni/cni-errors.js';

const r: CniResult = {
  interfaces: [
    { name: 'br0', mac: 'aa:aa:aa:aa:aa:aa' },
    { name: 'eth0', mac: '02:42:0a:00:00:02', sandbox: '/run/netns/x', mtu: 1500 },
  ],
  ips: [
    { address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 1 },
    { address: 'fd00::2/64', gateway: 'fd00::1', interface: 1 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1', priority: 5 }],
  dns: { nameservers: ['10.0.0.1'] },
};

describe('cni result formats', () => {
  it('0.3.x/0.4.0 carry ips[].version; 1.0.0 does not; only 1.1.0 has mtu and route extras', () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0'] as const) {
      const o = formatResult(r, v);
      assert.deepEqual(
        (o.ips as { version: string }[]).map((i) => i.version),
        ['4', '6'],
      );
      assert.equal((o.interfaces as { mtu?: number }[])[1]!.mtu, undefined);
    }
    const v10 = formatResult(r, '1.0.0');
    assert.equal((v10.ips as { version?: string }[])[0]!.version, undefined);
    assert.deepEqual(v10.routes, [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }]);
    const v11 = formatResult(r, '1.1.0');
    assert.equal((v11.interfaces as { mtu?: number }[])[1]!.mtu, 1500);
    assert.deepEqual(v11.routes, [{ dst: '0.0.0.0/0', gw: '10.0.0.1', priority: 5 }]);
    assert.equal(v11.cniVersion, '1.1.0');
  });

  it('reads back what it prints, in every version', () => {
    for (const v of ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const) {
      const back = parseResult(JSON.parse(JSON.stringify(formatResult(r, v))));
      assert.deepEqual(back.ips, r.ips);
      assert.equal(back.interfaces!.length, 2);
    }
  });

  it('rejects a malformed prevResult with code 7', () => {
    assert.throws(
      () => parseResult({ ips: [{ gateway: 'x' }] }),
      (e: unknown) => e instanceof CniError && e.code === 7,
    );
    assert.throws(
      () => parseResult('nope'),
      (e: unknown) => e instanceof CniError && e.code === 7,
    );
  });

  it('chaining appends interfaces and re-indexes ips', () => {
    const prev: CniResult = {
      interfaces: [{ name: 'x' }],
      ips: [{ address: '1.1.1.1/32', interface: 0 }],
      dns: { nameservers: ['9.9.9.9'] },
    };
    const m = mergeResults(prev, r);
    assert.deepEqual(
      m.interfaces!.map((i) => i.name),
      ['x', 'br0', 'eth0'],
    );
    assert.deepEqual(
      m.ips!.map((i) => i.interface),
      [0, 2, 2],
    );
    assert.deepEqual(m.dns!.nameservers, ['9.9.9.9', '10.0.0.1']);
  });
});
