import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/errors.js';
import type { IpamPoolConfig } from '../../src/model/types.js';
import { checkStaticAddress, nextFreeAddress, poolForFamily, reservedAddresses, subnetsOverlap } from '../../src/ipam/allocator.js';
import { resolvePoolConfig } from '../../src/ipam/pool-config.js';

function throwsCode(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WeftError, `expected WeftError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (re) assert.match(err.message, re);
    return true;
  });
}

/**
 * A used-address set that counts lookups. The allocator promises at most |used| + |reserved| + 1
 * candidates per call; counting them tests that promise without a clock (wall time is for bench/ipam.ts).
 */
class CountingSet extends Set<string> {
  lookups = 0;
  override has(value: string): boolean {
    this.lookups++;
    return super.has(value);
  }
}

/** Allocate until exhausted, the way the controller does (feeding back `last`). */
function drain(pool: IpamPoolConfig, used = new Set<string>(), limit = 100_000): string[] {
  const out: string[] = [];
  let last: string | undefined;
  for (let i = 0; i < limit; i++) {
    try {
      last = nextFreeAddress(pool, used, last);
    } catch (err) {
      if (err instanceof WeftError && err.code === 'WEFT_IPAM_EXHAUSTED') return out;
      throw err;
    }
    assert.ok(!used.has(last), `${last} handed out twice`);
    used.add(last);
    out.push(last);
  }
  throw new Error('never exhausted');
}

describe('reservedAddresses', () => {
  it('IPv4: network, broadcast, gateway, aux', () => {
    const pool = resolvePoolConfig({ subnet: '10.0.0.0/24', auxAddresses: { nas: '10.0.0.50' } });
    assert.deepEqual([...reservedAddresses(pool)].sort(), ['10.0.0.0', '10.0.0.1', '10.0.0.255', '10.0.0.50']);
  });
  it('IPv6: subnet-router anycast (network address), gateway; no broadcast', () => {
    const pool = resolvePoolConfig({ subnet: 'fd00::/64' });
    assert.deepEqual([...reservedAddresses(pool)].sort(), ['fd00::', 'fd00::1']);
  });
  it('/31: only the gateway', () => {
    assert.deepEqual([...reservedAddresses(resolvePoolConfig({ subnet: '10.0.0.0/31' }))], ['10.0.0.0']);
  });
});

describe('nextFreeAddress', () => {
  const pool = resolvePoolConfig({ subnet: '10.0.0.0/24' });

  it('starts after the gateway', () => {
    assert.equal(nextFreeAddress(pool, new Set()), '10.0.0.2');
  });

  it('is round-robin: a released address is not reused at once', () => {
    const used = new Set<string>();
    const a = nextFreeAddress(pool, used);
    used.add(a);
    const b = nextFreeAddress(pool, used, a);
    used.add(b);
    used.delete(a);
    const c = nextFreeAddress(pool, used, b);
    assert.deepEqual([a, b, c], ['10.0.0.2', '10.0.0.3', '10.0.0.4']);
  });

  it('wraps around after the end of the range', () => {
    const used = new Set(['10.0.0.254', '10.0.0.3']);
    assert.equal(nextFreeAddress(pool, used, '10.0.0.253'), '10.0.0.2');
    assert.equal(nextFreeAddress(pool, used, '10.0.0.254'), '10.0.0.2');
    assert.equal(nextFreeAddress(pool, new Set(['10.0.0.2']), '10.0.0.254'), '10.0.0.3');
  });

  it('ignores a `last` outside the range or unparsable', () => {
    assert.equal(nextFreeAddress(pool, new Set(), '192.168.9.9'), '10.0.0.2');
    assert.equal(nextFreeAddress(pool, new Set(), 'junk'), '10.0.0.2');
    assert.equal(nextFreeAddress(pool, new Set(), 'fd00::1'), '10.0.0.2');
  });

  it('skips used and reserved addresses', () => {
    const p = resolvePoolConfig({ subnet: '10.0.0.0/24', auxAddresses: { x: '10.0.0.3' } });
    assert.equal(nextFreeAddress(p, new Set(['10.0.0.2', '10.0.0.4'])), '10.0.0.5');
  });

  it('/30: one address besides the gateway, then exhausted', () => {
    const p = resolvePoolConfig({ subnet: '10.9.0.0/30' });
    assert.deepEqual(drain(p), ['10.9.0.2']);
    throwsCode(() => nextFreeAddress(p, new Set(['10.9.0.2'])), 'WEFT_IPAM_EXHAUSTED', /10\.9\.0\.0\/30/);
  });

  it('/31: one address besides the gateway', () => {
    assert.deepEqual(drain(resolvePoolConfig({ subnet: '10.9.0.0/31' })), ['10.9.0.1']);
  });

  it('/24: 253 addresses, each once', () => {
    const got = drain(pool);
    assert.equal(got.length, 253);
    assert.equal(new Set(got).size, 253);
    assert.ok(!got.includes('10.0.0.0') && !got.includes('10.0.0.1') && !got.includes('10.0.0.255'));
  });

  it('IPv6 /126: network and gateway reserved, 2 left, then exhausted', () => {
    const p = resolvePoolConfig({ subnet: 'fd00::/126' });
    assert.deepEqual(drain(p), ['fd00::2', 'fd00::3']);
    throwsCode(() => nextFreeAddress(p, new Set(['fd00::2', 'fd00::3'])), 'WEFT_IPAM_EXHAUSTED');
  });

  it('IPv6 ip-range /120 inside a /64 exhausts exactly', () => {
    const p = resolvePoolConfig({ subnet: 'fd00::/64', ipRange: 'fd00::100/120' });
    const got = drain(p);
    assert.equal(got.length, 256);
    assert.equal(got[0], 'fd00::100');
    assert.equal(got[255], 'fd00::1ff');
  });

  it('IPv6 /64: allocates in canonical form without walking the range', () => {
    const p = resolvePoolConfig({ subnet: 'fd7e:57ef:0:1::/64' });
    assert.equal(nextFreeAddress(p, new Set()), 'fd7e:57ef:0:1::2');
    assert.equal(nextFreeAddress(p, new Set(), 'fd7e:57ef:0:1:ffff:ffff:ffff:fffe'), 'fd7e:57ef:0:1:ffff:ffff:ffff:ffff');
    assert.equal(nextFreeAddress(p, new Set(), 'fd7e:57ef:0:1:ffff:ffff:ffff:ffff'), 'fd7e:57ef:0:1::2');
    const used = new CountingSet(Array.from({ length: 5000 }, (_, i) => `fd7e:57ef:0:1::${(i + 2).toString(16)}`));
    assert.equal(nextFreeAddress(p, used), `fd7e:57ef:0:1::${(5002).toString(16)}`);
    assert.equal(used.lookups, 5001, 'one lookup per candidate, from ::2 up to the first free one');
  });

  it('stays inside the ip-range and skips the gateway inside it', () => {
    const p = resolvePoolConfig({ subnet: '10.0.0.0/24', ipRange: '10.0.0.0/29' });
    assert.deepEqual(drain(p), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7']);
    const q = resolvePoolConfig({ subnet: '10.0.0.0/24', ipRange: '10.0.0.248/29', auxAddresses: { r: '10.0.0.250' } });
    assert.deepEqual(drain(q), ['10.0.0.248', '10.0.0.249', '10.0.0.251', '10.0.0.252', '10.0.0.253', '10.0.0.254']);
  });

  it('an ip-range holding only the gateway is exhausted at once', () => {
    const p = resolvePoolConfig({ subnet: '10.0.0.0/24', ipRange: '10.0.0.1/32' });
    throwsCode(() => nextFreeAddress(p, new Set()), 'WEFT_IPAM_EXHAUSTED', /10\.0\.0\.1\/32/);
  });

  it('work is bounded by the used set, not the range: /16 with 60000 used, and the wrap-around worst case', () => {
    const p = resolvePoolConfig({ subnet: '10.20.0.0/16' });
    const used = new CountingSet();
    for (let i = 2; used.size < 60000; i++) used.add(`10.20.${i >> 8}.${i & 255}`);
    used.lookups = 0;
    assert.equal(nextFreeAddress(p, used), '10.20.234.98'); // 60002 = 234 * 256 + 98
    assert.equal(used.lookups, 60001, 'each used address looked at once, then the free one');
    // Round-robin worst case: everything after `last` is used, so the scan runs to the end and wraps.
    const tail = new CountingSet();
    for (let i = 6000; i < 65535; i++) tail.add(`10.20.${i >> 8}.${i & 255}`);
    tail.lookups = 0;
    assert.equal(nextFreeAddress(p, tail, '10.20.23.111'), '10.20.0.2'); // 5999 = 23 * 256 + 111
    // Round-robin from just after `last`: 10.20.23.112 … 10.20.255.254 (all used) are looked up, the
    // scan wraps past the gateway .0.1 (reserved: no lookup) to .0.2. Starting from the bottom would
    // give the same address after one lookup.
    assert.equal(tail.lookups, tail.size + 1, `${tail.lookups} lookups for ${tail.size} used`);
  });

  it('a full /16 is reported exhausted after at most |used| + |reserved| + 1 candidates', () => {
    const p = resolvePoolConfig({ subnet: '10.21.0.0/16' });
    const used = new CountingSet();
    for (let i = 2; i < 65535; i++) used.add(`10.21.${i >> 8}.${i & 255}`);
    used.lookups = 0;
    throwsCode(() => nextFreeAddress(p, used, '10.21.100.100'), 'WEFT_IPAM_EXHAUSTED');
    assert.ok(used.lookups <= used.size + reservedAddresses(p).size + 1, `${used.lookups} lookups`);
  });
});

describe('checkStaticAddress', () => {
  const pool = resolvePoolConfig({ subnet: '10.0.0.0/24', ipRange: '10.0.0.128/25', auxAddresses: { nas: '10.0.0.50' } });
  const v6 = resolvePoolConfig({ subnet: 'fd00::/64' });

  it('accepts any free host address of the subnet, even outside the ip-range', () => {
    assert.equal(checkStaticAddress(pool, '10.0.0.7', new Set()), '10.0.0.7');
    assert.equal(checkStaticAddress(v6, 'FD00:0::abc', new Set()), 'fd00::abc');
  });

  const bad: [string, IpamPoolConfig, string, string, RegExp][] = [
    ['used', pool, '10.0.0.9', 'WEFT_IPAM_ADDRESS_IN_USE', /10\.0\.0\.9 is already in use/],
    ['the gateway', pool, '10.0.0.1', 'WEFT_IPAM_ADDRESS_IN_USE', /in use/],
    ['an aux address', pool, '10.0.0.50', 'WEFT_IPAM_ADDRESS_IN_USE', /in use/],
    ['used (v6, non-canonical input)', v6, 'fd00:0:0:0::9', 'WEFT_IPAM_ADDRESS_IN_USE', /fd00::9 is already/],
    ['the network address', pool, '10.0.0.0', 'WEFT_INVALID_ARGUMENT', /^ip: .*network address/],
    ['the broadcast address', pool, '10.0.0.255', 'WEFT_INVALID_ARGUMENT', /^ip: .*broadcast/],
    ['outside the subnet', pool, '10.0.1.5', 'WEFT_INVALID_ARGUMENT', /^ip: .*not inside subnet/],
    ['the other family', pool, 'fd00::5', 'WEFT_INVALID_ARGUMENT', /^ip: .*not an IPv4 address/],
    ['garbage', pool, '10.0.0.x', 'WEFT_INVALID_ARGUMENT', /^ip: /],
    ['v6 garbage', v6, 'fd00::x', 'WEFT_INVALID_ARGUMENT', /^ip6: /],
    ['v6 anycast', v6, 'fd00::', 'WEFT_INVALID_ARGUMENT', /^ip6: .*network address/],
  ];
  for (const [name, p, addr, code, re] of bad) {
    it(`rejects ${name}`, () => throwsCode(() => checkStaticAddress(p, addr, new Set(['10.0.0.9', 'fd00::9'])), code, re));
  }
});

describe('subnetsOverlap / poolForFamily', () => {
  it('finds the first overlapping subnet', () => {
    const existing = ['172.17.0.0/16', '10.0.0.0/8', 'fd00::/48'];
    assert.equal(subnetsOverlap(existing, '10.5.0.0/24'), '10.0.0.0/8');
    assert.equal(subnetsOverlap(existing, '172.16.0.0/12'), '172.17.0.0/16');
    assert.equal(subnetsOverlap(existing, 'fd00:0:0:7::/64'), 'fd00::/48');
    assert.equal(subnetsOverlap(existing, '192.168.0.0/24'), undefined);
    assert.equal(subnetsOverlap(existing, 'fd01::/64'), undefined);
    assert.equal(subnetsOverlap([], '10.0.0.0/8'), undefined);
  });

  it('picks the pool of a family', () => {
    const pools = [resolvePoolConfig({ subnet: '10.0.0.0/24' }), resolvePoolConfig({ subnet: 'fd00::/64' })];
    assert.equal(poolForFamily(pools, 6)?.subnet, 'fd00::/64');
    assert.equal(poolForFamily(pools, 4)?.subnet, '10.0.0.0/24');
    assert.equal(poolForFamily(pools.slice(0, 1), 6), undefined);
  });
});
