import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/errors.js';
import { cidrOverlaps, formatCidr, parseCidr, splitCidr } from '../../src/ipam/cidr.js';
import { DEFAULT_POOLS_V4, DEFAULT_POOLS_V6, parseAddressPoolSpec, pickSubnet, type AddressPool } from '../../src/ipam/default-pools.js';

function throwsField(fn: () => unknown, code: string, field: string, re?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WeftError, `expected WeftError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.ok(err.message.includes(field), `message "${err.message}" names ${field}`);
    if (re) assert.match(err.message, re);
    return true;
  });
}

/** The obvious O(blocks × taken) reference pickSubnet. */
function naivePick(pools: AddressPool[], family: 4 | 6, taken: string[]): string | undefined {
  const t = taken.map((s) => parseCidr(s.includes('/') ? s : `${s}/${s.includes(':') ? 128 : 32}`, 'taken'));
  for (const p of pools) {
    const base = parseCidr(p.base, 'base');
    if (base.family !== family) continue;
    for (const b of splitCidr(base, p.size)) if (!t.some((x) => cidrOverlaps(x, b))) return formatCidr(b);
  }
  return undefined;
}

describe('default pools', () => {
  it('hold 3840 IPv4 /24s, none in 172.17.0.0/16, and a ULA /48 of /64s', () => {
    let n = 0;
    const bridge = parseCidr('172.17.0.0/16', 'x');
    for (const p of DEFAULT_POOLS_V4) {
      const base = parseCidr(p.base, 'base');
      assert.equal(formatCidr(base), p.base, 'bases are canonical');
      assert.ok(!cidrOverlaps(base, bridge));
      n += 2 ** (p.size - base.prefix);
    }
    assert.equal(n, 3840);
    assert.deepEqual(DEFAULT_POOLS_V6, [{ base: 'fd7e:57ef::/48', size: 64 }]);
  });
});

describe('parseAddressPoolSpec', () => {
  it('parses Docker syntax and normalizes the base', () => {
    assert.deepEqual(parseAddressPoolSpec('base=10.0.0.0/8,size=24'), { base: '10.0.0.0/8', size: 24 });
    assert.deepEqual(parseAddressPoolSpec('size=20, base=10.1.0.0/16'), { base: '10.1.0.0/16', size: 20 });
    assert.throws(() => parseAddressPoolSpec('size=20, base=10.1.2.3/16'), /host bits/);
    assert.deepEqual(parseAddressPoolSpec('base=FD00:AB::/40,size=64'), { base: 'fd00:ab::/40', size: 64 });
    assert.deepEqual(parseAddressPoolSpec('base=10.0.0.0/24,size=24'), { base: '10.0.0.0/24', size: 24 });
  });

  const bad: [string, RegExp][] = [
    ['', /not base=CIDR/],
    ['base=10.0.0.0/8', /needs both/],
    ['size=24', /needs both/],
    ['base=10.0.0.0/8,size=24,size=25', /given twice/],
    ['base=10.0.0.0/8,size=24,foo=1', /not base=CIDR/],
    ['base=10.0.0.0/8;size=24', /needs both|prefix length/],
    ['base=10.0.0.0,size=24', /no prefix length/],
    ['base=10.0.0.0/16,size=8', /size "8" must be/],
    ['base=10.0.0.0/8,size=32', /size "32" must be an integer from 8 .* to 31/],
    ['base=fd00::/48,size=128', /to 127/],
    ['base=10.0.0.0/8,size=2x', /size "2x"/],
    ['base=10.0.0.0/8,size=', /size ""/],
  ];
  for (const [spec, re] of bad) {
    it(`rejects ${JSON.stringify(spec)}`, () =>
      throwsField(() => parseAddressPoolSpec(spec), 'WEFT_INVALID_ARGUMENT', 'default-address-pool', re));
  }
});

describe('pickSubnet', () => {
  it('takes the first block when nothing is taken', () => {
    assert.equal(pickSubnet(DEFAULT_POOLS_V4, 4, []), '172.18.0.0/24');
    assert.equal(pickSubnet(DEFAULT_POOLS_V6, 6, []), 'fd7e:57ef::/64');
  });

  it('skips taken subnets, larger covering prefixes and host routes', () => {
    assert.equal(pickSubnet(DEFAULT_POOLS_V4, 4, ['172.18.0.0/24', '172.18.1.0/24']), '172.18.2.0/24');
    assert.equal(pickSubnet(DEFAULT_POOLS_V4, 4, ['172.16.0.0/12']), '192.168.0.0/24', 'a covering host route');
    assert.equal(pickSubnet(DEFAULT_POOLS_V4, 4, ['172.18.0.77']), '172.18.1.0/24', 'a bare host route');
    assert.equal(pickSubnet(DEFAULT_POOLS_V4, 4, ['172.18.0.128/25', '172.18.1.0/30']), '172.18.2.0/24', 'partial overlaps');
    assert.equal(pickSubnet(DEFAULT_POOLS_V4, 4, ['fd7e:57ef::/64', '10.0.0.0/8']), '172.18.0.0/24', 'other family ignored');
    assert.equal(pickSubnet(DEFAULT_POOLS_V6, 6, ['fd7e:57ef::/63', 'fd7e:57ef:0:2::1']), 'fd7e:57ef:0:3::/64');
    assert.equal(
      pickSubnet(DEFAULT_POOLS_V4, 4, ['172.18.0.0/15', '172.20.0.0/14', '172.24.0.0/13', '192.168.0.0/17']),
      '192.168.128.0/24',
    );
  });

  it('ignores pools of the other family and honours custom pools', () => {
    const pools = [...DEFAULT_POOLS_V6, parseAddressPoolSpec('base=10.10.0.0/16,size=26')];
    assert.equal(pickSubnet(pools, 4, ['10.10.0.0/26', '10.10.0.64/26']), '10.10.0.128/26');
  });

  it('throws IpamExhaustedError when every block is taken', () => {
    throwsField(() => pickSubnet(DEFAULT_POOLS_V4, 4, ['172.16.0.0/12', '192.168.0.0/16']), 'WEFT_IPAM_EXHAUSTED', 'default address pools');
    throwsField(() => pickSubnet(DEFAULT_POOLS_V4, 6, []), 'WEFT_IPAM_EXHAUSTED', 'default address pools');
    throwsField(() => pickSubnet([{ base: '10.0.0.0/30', size: 30 }], 4, ['10.0.0.2']), 'WEFT_IPAM_EXHAUSTED', 'default address pools');
  });

  it('rejects bad taken entries naming the field', () => {
    throwsField(() => pickSubnet(DEFAULT_POOLS_V4, 4, ['nonsense']), 'WEFT_INVALID_ARGUMENT', 'taken');
  });

  it('agrees with the naive reference on random taken sets', () => {
    let seed = 7;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const pools: AddressPool[] = [
      { base: '10.0.0.0/20', size: 24 },
      { base: '10.0.64.0/22', size: 26 },
    ];
    for (let round = 0; round < 300; round++) {
      const taken: string[] = [];
      const count = rnd(40);
      for (let i = 0; i < count; i++) {
        const prefix = 16 + rnd(17);
        taken.push(`10.0.${rnd(80)}.${rnd(256)}/${prefix}`);
      }
      if (rnd(4) === 0) taken.push(`10.0.${rnd(80)}.${rnd(256)}`);
      let ours: string | undefined;
      try {
        ours = pickSubnet(pools, 4, taken);
      } catch (err) {
        assert.ok(err instanceof WeftError && err.code === 'WEFT_IPAM_EXHAUSTED');
      }
      assert.equal(ours, naivePick(pools, 4, taken), JSON.stringify(taken));
    }
  });

  it('3000 taken /24s: the 3001st is picked', () => {
    const taken: string[] = [];
    for (let i = 0; i < 3000; i++) taken.push(`172.${18 + (i >> 8)}.${i & 255}.0/24`);
    assert.equal(pickSubnet(DEFAULT_POOLS_V4, 4, taken), '172.29.184.0/24'); // 3000 = 11 * 256 + 184
  });

  // Termination is the test: walking block by block would try 2^47 /64s before the answer.
  it('blocks hidden behind a wide taken prefix are jumped over, not walked', { timeout: 10_000 }, () => {
    const huge: AddressPool[] = [{ base: 'fd00::/16', size: 64 }];
    assert.equal(pickSubnet(huge, 6, ['fd00::/17', 'fd00:8000::/18']), 'fd00:c000::/64');
    assert.equal(pickSubnet(DEFAULT_POOLS_V6, 6, ['fd7e:57ef::/49', 'fd7e:57ef:0:8000::/50']), 'fd7e:57ef:0:c000::/64');
    throwsField(() => pickSubnet(huge, 6, ['fd00::/16']), 'WEFT_IPAM_EXHAUSTED', 'default address pools');
  });
});
