import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/errors.js';
import { resolvePoolConfig, type PoolInput } from '../../src/ipam/pool-config.js';

function throwsField(fn: () => unknown, code: string, field: string, re?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WeftError, `expected WeftError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.field, field);
    assert.ok(err.message.includes(field), `message "${err.message}" names ${field}`);
    if (re) assert.match(err.message, re);
    return true;
  });
}

describe('resolvePoolConfig', () => {
  it('defaults the gateway to the first host address and normalizes', () => {
    assert.deepEqual(resolvePoolConfig({ subnet: '10.1.2.0/24' }), { subnet: '10.1.2.0/24', gateway: '10.1.2.1', auxAddresses: {} });
    // Host bits are refused, as Docker refuses them: the user meant one of two networks.
    assert.throws(() => resolvePoolConfig({ subnet: '10.1.2.3/24' }), /host bits set \(did you mean 10\.1\.2\.0\/24\?\)/);
    assert.deepEqual(resolvePoolConfig({ subnet: 'FD00:0::/64' }), { subnet: 'fd00::/64', gateway: 'fd00::1', auxAddresses: {} });
  });

  it('keeps a given ip-range, gateway and aux addresses, normalized', () => {
    const p = resolvePoolConfig({
      subnet: '172.28.0.0/16',
      ipRange: '172.28.5.0/24',
      gateway: '172.28.5.254',
      auxAddresses: { host1: '172.28.1.5', host2: '172.28.1.6' },
    });
    assert.deepEqual(p, {
      subnet: '172.28.0.0/16',
      ipRange: '172.28.5.0/24',
      gateway: '172.28.5.254',
      auxAddresses: { host1: '172.28.1.5', host2: '172.28.1.6' },
    });
    const v6 = resolvePoolConfig({
      subnet: 'fd00:1::/64',
      ipRange: 'fd00:1:0::100/120',
      gateway: 'FD00:1::FFFF',
      auxAddresses: { a: 'fd00:1:0:0::2' },
    });
    assert.deepEqual(v6, { subnet: 'fd00:1::/64', ipRange: 'fd00:1::100/120', gateway: 'fd00:1::ffff', auxAddresses: { a: 'fd00:1::2' } });
  });

  it('accepts point-to-point /31 and /127 (both addresses usable)', () => {
    assert.equal(resolvePoolConfig({ subnet: '10.0.0.0/31' }).gateway, '10.0.0.0');
    assert.equal(resolvePoolConfig({ subnet: '10.0.0.0/31', gateway: '10.0.0.1' }).gateway, '10.0.0.1');
    assert.equal(resolvePoolConfig({ subnet: 'fd00::/127' }).gateway, 'fd00::');
  });

  it('accepts an IPv6 gateway at the last address (no broadcast in IPv6)', () => {
    assert.equal(resolvePoolConfig({ subnet: 'fd00::/126', gateway: 'fd00::3' }).gateway, 'fd00::3');
  });

  const bad: [string, PoolInput, string, RegExp][] = [
    ['garbage subnet', { subnet: 'nope' }, 'subnet', /no prefix length/],
    ['subnet without prefix', { subnet: '10.0.0.0' }, 'subnet', /no prefix length/],
    ['IPv4 /32', { subnet: '10.0.0.1/32' }, 'subnet', /too small/],
    ['IPv6 /128', { subnet: 'fd00::1/128' }, 'subnet', /too small/],
    ['ip-range outside subnet', { subnet: '10.0.0.0/24', ipRange: '10.0.1.0/25' }, 'ip-range', /not inside subnet 10\.0\.0\.0\/24/],
    ['ip-range larger than subnet', { subnet: '10.0.0.0/24', ipRange: '10.0.0.0/23' }, 'ip-range', /not inside/],
    ['ip-range other family', { subnet: '10.0.0.0/24', ipRange: 'fd00::/120' }, 'ip-range', /IPv6 but subnet/],
    ['ip-range garbage', { subnet: '10.0.0.0/24', ipRange: '10.0.0.0/40' }, 'ip-range', /prefix length/],
    ['gateway outside subnet', { subnet: '10.0.0.0/24', gateway: '10.0.1.1' }, 'gateway', /not inside subnet/],
    ['gateway is network address', { subnet: '10.0.0.0/24', gateway: '10.0.0.0' }, 'gateway', /network address/],
    ['gateway is broadcast', { subnet: '10.0.0.0/24', gateway: '10.0.0.255' }, 'gateway', /broadcast/],
    ['gateway is IPv6 anycast', { subnet: 'fd00::/64', gateway: 'fd00::' }, 'gateway', /anycast/],
    ['gateway other family', { subnet: '10.0.0.0/24', gateway: 'fd00::1' }, 'gateway', /IPv6 but subnet/],
    ['gateway with prefix', { subnet: '10.0.0.0/24', gateway: '10.0.0.1/24' }, 'gateway', /CIDR/],
    ['gateway garbage', { subnet: '10.0.0.0/24', gateway: 'x' }, 'gateway', /not a valid IP/],
    ['aux outside subnet', { subnet: '10.0.0.0/24', auxAddresses: { h: '10.9.0.1' } }, 'aux-address', /not inside/],
    ['aux garbage', { subnet: '10.0.0.0/24', auxAddresses: { h: '10.0.0' } }, 'aux-address', /not a valid IP/],
    ['aux is gateway', { subnet: '10.0.0.0/24', auxAddresses: { h: '10.0.0.1' } }, 'aux-address', /already the gateway/],
    [
      'aux duplicated (after normalizing)',
      { subnet: 'fd00::/64', auxAddresses: { a: 'fd00::9', b: 'FD00:0::0009' } },
      'aux-address',
      /already aux address "a"/,
    ],
    ['aux is broadcast', { subnet: '10.0.0.0/24', auxAddresses: { h: '10.0.0.255' } }, 'aux-address', /broadcast/],
    ['aux without name', { subnet: '10.0.0.0/24', auxAddresses: { '': '10.0.0.9' } }, 'aux-address', /needs a name/],
    ['aux other family', { subnet: '10.0.0.0/24', auxAddresses: { h: 'fd00::9' } }, 'aux-address', /IPv6 but subnet/],
  ];
  for (const [name, input, field, re] of bad) {
    it(`rejects ${name}`, () => throwsField(() => resolvePoolConfig(input), 'WEFT_INVALID_ARGUMENT', field, re));
  }
});
