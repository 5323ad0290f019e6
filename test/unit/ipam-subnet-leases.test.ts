import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  leasableSubnets,
  leaseOrder,
  parseLeaseRecord,
  resolveSubnetConfig,
  subnetFromKeyName,
  subnetGateway,
  subnetKeyName,
  SubnetPoolExhaustedError,
} from '../../src/ipam/subnet-leases.js';
import { WeftError } from '../../src/errors.js';

const field = (f: string) => (err: unknown) => err instanceof WeftError && err.code === 'WEFT_INVALID_ARGUMENT' && err.field === f;

describe('subnet lease configuration (Flannel net-conf)', () => {
  it('fills Flannel defaults: /24 subnets, the first one skipped, up to the last', () => {
    const c = resolveSubnetConfig({ network: '10.244.0.0/16' });
    assert.deepEqual(c, {
      network: '10.244.0.0/16',
      subnetLen: 24,
      subnetMin: '10.244.1.0/24',
      subnetMax: '10.244.255.0/24',
      backend: { type: 'vxlan', vni: 1, port: 8472, directRouting: false },
    });
    assert.equal(leasableSubnets(c).length, 255);
  });

  it('keeps explicit bounds and backend settings', () => {
    const c = resolveSubnetConfig({
      network: '10.50.0.0/22',
      subnetLen: 24,
      subnetMin: '10.50.0.0/24',
      subnetMax: '10.50.3.0/24',
      backend: { type: 'udp' },
    });
    assert.deepEqual(leasableSubnets(c), ['10.50.0.0/24', '10.50.1.0/24', '10.50.2.0/24', '10.50.3.0/24']);
    assert.equal(c.backend.port, 8285);
    assert.equal(resolveSubnetConfig({ network: '10.9.0.0/16', backend: { type: 'host-gw' } }).backend.port, 0);
  });

  it('refuses bad shapes, naming the field', () => {
    assert.throws(() => resolveSubnetConfig({ network: '10.244.0.1/16' }), field('subnet'));
    assert.throws(() => resolveSubnetConfig({ network: 'fd00::/64' }), field('subnet'));
    assert.throws(() => resolveSubnetConfig({ network: '10.244.0.0/16', subnetLen: 16 }), field('subnet-len'));
    assert.throws(() => resolveSubnetConfig({ network: '10.244.0.0/16', subnetLen: 31 }), field('subnet-len'));
    assert.throws(() => resolveSubnetConfig({ network: '10.244.0.0/16', subnetMin: '10.245.0.0/24' }), field('subnet-min'));
    assert.throws(() => resolveSubnetConfig({ network: '10.244.0.0/16', subnetMax: '10.244.0.0/25' }), field('subnet-max'));
    assert.throws(
      () => resolveSubnetConfig({ network: '10.244.0.0/16', subnetMin: '10.244.9.0/24', subnetMax: '10.244.2.0/24' }),
      field('subnet-min'),
    );
    assert.throws(() => resolveSubnetConfig({ network: '10.244.0.0/16', backend: { type: 'ipip' } }), field('backend'));
    assert.throws(() => resolveSubnetConfig({ network: '10.244.0.0/16', backend: { vni: 0 } }), field('vni'));
    assert.throws(() => resolveSubnetConfig({ network: '10.244.0.0/16', backend: { port: 70000 } }), field('port'));
    assert.throws(
      () => resolveSubnetConfig({ network: '10.244.0.0/16', backend: { type: 'host-gw', directRouting: true } }),
      field('direct-routing'),
    );
  });
});

describe('which subnet a host tries', () => {
  const cfg = resolveSubnetConfig({ network: '10.244.0.0/16' });

  it('offers only free subnets, each once, starting at a place of its own', () => {
    const taken = new Set(['10.244.1.0/24', '10.244.7.0/24']);
    const order = leaseOrder(cfg, taken, 'host-a');
    assert.equal(order.length, 253);
    assert.equal(new Set(order).size, 253);
    assert.ok(!order.includes('10.244.1.0/24') && !order.includes('10.244.7.0/24'));
    // Different hosts start at different subnets (the point of the spread).
    const firsts = new Set(['a', 'b', 'c', 'd', 'e', 'f'].map((h) => leaseOrder(cfg, new Set(), `host-${h}`)[0]));
    assert.ok(firsts.size >= 4, `hosts should mostly start apart, got ${[...firsts].join(' ')}`);
  });

  it('has nothing to offer when every subnet is leased; the error says how many', () => {
    const small = resolveSubnetConfig({ network: '10.60.0.0/22', subnetMin: '10.60.0.0/24' });
    const all = new Set(leasableSubnets(small));
    assert.deepEqual(leaseOrder(small, all, 'h'), []);
    const err = new SubnetPoolExhaustedError(small, all.size);
    assert.equal(err.code, 'WEFT_IPAM_EXHAUSTED');
    assert.match(err.message, /no free \/24 subnet left in 10\.60\.0\.0\/22 \(4 leased/);
  });

  it('names keys and gateways', () => {
    assert.equal(subnetKeyName('10.244.3.0/24'), '10.244.3.0-24');
    assert.equal(subnetFromKeyName('10.244.3.0-24'), '10.244.3.0/24');
    assert.equal(subnetGateway('10.244.3.0/24'), '10.244.3.1');
  });

  it('reads only lease records', () => {
    assert.equal(parseLeaseRecord('not json'), undefined);
    assert.equal(parseLeaseRecord('{"subnet":1}'), undefined);
    const r = parseLeaseRecord(JSON.stringify({ subnet: '10.244.3.0/24', hostId: 'h1', publicIp: '198.18.0.2', backend: 'host-gw' }));
    assert.deepEqual(r, { subnet: '10.244.3.0/24', hostId: 'h1', publicIp: '198.18.0.2', backend: 'host-gw', data: {}, renewedAt: 0 });
  });
});
