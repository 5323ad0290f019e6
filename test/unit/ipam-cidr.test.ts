import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { WeftError } from '../../src/errors.js';
import {
  addressWithPrefix,
  cidrContains,
  cidrContainsCidr,
  cidrOverlaps,
  cidrSize,
  firstAddress,
  formatAddress,
  formatCidr,
  hostRange,
  lastAddress,
  nthAddress,
  parseAddress,
  parseCidr,
  splitCidr,
} from '../../src/ipam/cidr.js';

/** Assert fn throws a WeftError with this code whose message and `field` name the field. */
function throwsField(fn: () => unknown, code: string, field: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WeftError, `expected WeftError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.field, field);
    assert.ok(err.message.includes(field), `message "${err.message}" names ${field}`);
    return true;
  });
}

const fmt = (s: string): string => formatAddress(parseAddress(s, 'ip'));

describe('parseAddress / formatAddress', () => {
  const valid: [string, 4 | 6, string][] = [
    ['10.1.2.3', 4, '10.1.2.3'],
    ['0.0.0.0', 4, '0.0.0.0'],
    ['255.255.255.255', 4, '255.255.255.255'],
    ['::', 6, '::'],
    ['::1', 6, '::1'],
    ['FD00:0:0:0:0:0:0:1', 6, 'fd00::1'],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', 6, '2001:db8::ff00:42:8329'],
    ['2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:db8:0:1:1:1:1:1', 6, '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', 6, '2001:0:0:1::1'], // the longer run wins
    ['1::', 6, '1::'],
    ['1:2:3:4:5:6:7::', 6, '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', 6, '0:2:3:4:5:6:7:8'],
    ['fe80::1:2', 6, 'fe80::1:2'],
    ['64:ff9b::192.0.2.33', 6, '64:ff9b::c000:221'], // NAT64 dotted tail is fine
  ];
  for (const [input, family, canonical] of valid) {
    it(`parses ${input}`, () => {
      const a = parseAddress(input, 'ip');
      assert.equal(a.family, family);
      assert.equal(formatAddress(a), canonical);
      assert.equal(fmt(canonical), canonical, 'canonical form round-trips');
    });
  }

  it('holds values as bigint', () => {
    assert.equal(parseAddress('10.0.0.1', 'ip').value, 0x0a000001n);
    assert.equal(parseAddress('::1', 'ip').value, 1n);
    assert.equal(parseAddress('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ip').value, (1n << 128n) - 1n);
  });

  const invalid: [string, RegExp][] = [
    ['', /not a valid IP/],
    ['10.0.0', /not a valid IP/],
    ['10.0.0.256', /not a valid IP/],
    ['10.0.0.01', /not a valid IP/], // leading zero (octal ambiguity)
    ['0x7f.0.0.1', /not a valid IP/],
    ['2130706433', /not a valid IP/],
    [' 10.0.0.1', /not a valid IP/],
    ['10.0.0.1/24', /is a CIDR/],
    ['fe80::1%eth0', /zone/],
    ['1:2:3:4:5:6:7:8:9', /not a valid IP/],
    ['1::2::3', /not a valid IP/],
    [':1::', /not a valid IP/],
    ['12345::', /not a valid IP/],
    ['g::1', /not a valid IP/],
    ['::ffff:10.0.0.1', /IPv4-mapped/],
    ['::ffff:a00:1', /IPv4-mapped/],
    ['::10.0.0.1', /IPv4-mapped/],
    ['::ffff:1.2.3', /not a valid IP/],
    ['abc', /not a valid IP/],
  ];
  for (const [input, re] of invalid) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      throwsField(() => parseAddress(input, 'gateway'), 'WEFT_INVALID_ARGUMENT', 'gateway');
      assert.throws(() => parseAddress(input, 'gateway'), re);
    });
  }

  it('agrees with node:net on what is an address (except the forms weft refuses on purpose)', () => {
    const samples = [
      '1.2.3.4',
      '1.2.3',
      '::',
      ':::',
      '1::',
      '::1:2:3:4:5:6:7',
      '::1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6::8',
      'a:b:c:d:e:f:0:1',
      'a:b:c:d:e:f:0:1:',
      '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::1.2.3.4.5',
    ];
    for (const s of samples) {
      let ours: number;
      try {
        ours = parseAddress(s, 'ip').family;
      } catch {
        ours = 0;
      }
      assert.equal(ours, isIP(s), s);
    }
  });

  it('formats IPv6 exactly as the WHATWG URL serializer (RFC 5952) does', () => {
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      let v = 0n;
      for (let g = 0; g < 8; g++) v = (v << 16n) | BigInt(rnd() % 3 === 0 ? rnd() % 0x10000 : 0);
      if (v >> 32n === 0xffffn) continue;
      const ours = formatAddress({ family: 6, value: v });
      const ref = new URL(`http://[${ours}]/`).hostname.slice(1, -1);
      assert.equal(ours, ref);
      assert.equal(parseAddress(ours, 'ip').value, v);
    }
  });
});

describe('parseCidr / formatCidr', () => {
  it('clears host bits and keeps the address as host', () => {
    const c = parseCidr('10.1.2.3/24', 'subnet');
    assert.equal(formatCidr(c), '10.1.2.0/24');
    assert.equal(c.network, 0x0a010200n);
    assert.equal(c.host, 0x0a010203n);
    assert.equal(c.prefix, 24);
    assert.equal(formatCidr(parseCidr('FD00:0:0:0::5/64', 'subnet')), 'fd00::/64');
    assert.equal(formatCidr(parseCidr('0.0.0.0/0', 'subnet')), '0.0.0.0/0');
    assert.equal(formatCidr(parseCidr('10.0.0.1/32', 'subnet')), '10.0.0.1/32');
    assert.equal(formatCidr(parseCidr('::1/128', 'subnet')), '::1/128');
  });

  it('refuses host bits when strict', () => {
    throwsField(() => parseCidr('10.1.2.3/24', 'subnet', { strict: true }), 'WEFT_INVALID_ARGUMENT', 'subnet');
    assert.throws(() => parseCidr('10.1.2.3/24', 'subnet', { strict: true }), /did you mean 10\.1\.2\.0\/24/);
    assert.equal(formatCidr(parseCidr('10.1.2.0/24', 'subnet', { strict: true })), '10.1.2.0/24');
  });

  const invalid: [string, RegExp][] = [
    ['10.0.0.0', /no prefix length/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/33', /0 to 32/],
    ['fd00::/129', /0 to 128/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.0/08', /prefix length/],
    ['10.0.0.0/24/1', /prefix length/],
    ['10.0.0.0/ 24', /prefix length/],
    ['10.0.0.0/2x', /prefix length/],
    ['10.0.0/24', /not a valid CIDR/],
    ['fe80::%eth0/64', /zone/],
    ['::ffff:0:0/96', /IPv4-mapped/],
    ['/24', /not a valid CIDR/],
  ];
  for (const [input, re] of invalid) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      throwsField(() => parseCidr(input, 'ip-range'), 'WEFT_INVALID_ARGUMENT', 'ip-range');
      assert.throws(() => parseCidr(input, 'ip-range'), re);
    });
  }
});

describe('containment, overlap, size, enumeration', () => {
  const c = (s: string) => parseCidr(s, 'subnet');
  const a = (s: string) => parseAddress(s, 'ip');

  it('cidrContains', () => {
    assert.ok(cidrContains(c('10.1.0.0/16'), a('10.1.255.255')));
    assert.ok(!cidrContains(c('10.1.0.0/16'), a('10.2.0.0')));
    assert.ok(cidrContains(c('0.0.0.0/0'), a('1.2.3.4')));
    assert.ok(!cidrContains(c('0.0.0.0/0'), a('::1')), 'families never mix');
    assert.ok(cidrContains(c('fd00::/64'), a('fd00::ffff:ffff:ffff:ffff')));
    assert.ok(!cidrContains(c('fd00::/64'), a('fd00:0:0:1::')));
  });

  it('cidrContainsCidr and cidrOverlaps', () => {
    assert.ok(cidrContainsCidr(c('10.0.0.0/8'), c('10.1.0.0/16')));
    assert.ok(cidrContainsCidr(c('10.0.0.0/8'), c('10.0.0.0/8')));
    assert.ok(!cidrContainsCidr(c('10.1.0.0/16'), c('10.0.0.0/8')));
    assert.ok(!cidrContainsCidr(c('10.1.0.0/16'), c('10.2.0.0/24')));
    assert.ok(cidrOverlaps(c('10.0.0.0/8'), c('10.1.0.0/16')));
    assert.ok(cidrOverlaps(c('10.1.0.0/16'), c('10.0.0.0/8')));
    assert.ok(!cidrOverlaps(c('10.1.0.0/24'), c('10.1.1.0/24')));
    assert.ok(!cidrOverlaps(c('0.0.0.0/0'), c('::/0')));
    assert.ok(cidrOverlaps(c('fd00::/48'), c('fd00:0:0:5::/64')));
  });

  it('sizes and ends', () => {
    assert.equal(cidrSize(c('10.0.0.0/24')), 256n);
    assert.equal(cidrSize(c('10.0.0.1/32')), 1n);
    assert.equal(cidrSize(c('::/0')), 1n << 128n);
    assert.equal(formatAddress(firstAddress(c('10.0.0.7/29'))), '10.0.0.0');
    assert.equal(formatAddress(lastAddress(c('10.0.0.7/29'))), '10.0.0.7');
    assert.equal(formatAddress(lastAddress(c('fd00::/64'))), 'fd00::ffff:ffff:ffff:ffff');
    assert.equal(formatAddress(nthAddress(c('10.0.0.0/24'), 5)), '10.0.0.5');
    assert.equal(formatAddress(nthAddress(c('fd00::/64'), 1n << 40n)), 'fd00::100:0:0');
    throwsField(() => nthAddress(c('10.0.0.0/30'), 4), 'WEFT_INVALID_ARGUMENT', 'index');
    throwsField(() => nthAddress(c('10.0.0.0/30'), -1), 'WEFT_INVALID_ARGUMENT', 'index');
  });

  it('hostRange skips network and IPv4 broadcast, except on point-to-point prefixes', () => {
    const r = (s: string) => {
      const h = hostRange(c(s));
      const fam = c(s).family;
      return [formatAddress({ family: fam, value: h.first }), formatAddress({ family: fam, value: h.last })];
    };
    assert.deepEqual(r('10.0.0.0/24'), ['10.0.0.1', '10.0.0.254']);
    assert.deepEqual(r('10.0.0.0/30'), ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(r('10.0.0.0/31'), ['10.0.0.0', '10.0.0.1']);
    assert.deepEqual(r('fd00::/64'), ['fd00::1', 'fd00::ffff:ffff:ffff:ffff']);
    assert.deepEqual(r('fd00::/127'), ['fd00::', 'fd00::1']);
  });

  it('addressWithPrefix', () => {
    assert.equal(addressWithPrefix('10.1.0.5', 24), '10.1.0.5/24');
    assert.equal(addressWithPrefix(a('FD00::0005'), 64), 'fd00::5/64');
    throwsField(() => addressWithPrefix('10.1.0.5', 33), 'WEFT_INVALID_ARGUMENT', 'prefix');
    throwsField(() => addressWithPrefix('10.1.0.300', 24), 'WEFT_INVALID_ARGUMENT', 'address');
  });

  it('splitCidr enumerates blocks in order', () => {
    assert.deepEqual([...splitCidr(c('10.0.0.0/22'), 24)].map(formatCidr), ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24']);
    assert.deepEqual([...splitCidr(c('10.0.0.0/24'), 24)].map(formatCidr), ['10.0.0.0/24']);
    throwsField(() => splitCidr(c('10.0.0.0/24'), 16), 'WEFT_INVALID_ARGUMENT', 'prefix');
    throwsField(() => splitCidr(c('10.0.0.0/24'), 33), 'WEFT_INVALID_ARGUMENT', 'prefix');
  });

  it('splitCidr is lazy (::/0 into /128s yields at once)', () => {
    const it = splitCidr(c('::/0'), 128);
    assert.equal(formatCidr(it.next().value as never), '::/128');
    assert.equal(formatCidr(it.next().value as never), '::1/128');
    const blocks = splitCidr(c('fd7e:57ef::/48'), 64);
    let n = 0;
    let lastBlock = '';
    for (const b of blocks) {
      n++;
      lastBlock = formatCidr(b);
    }
    assert.equal(n, 65536);
    assert.equal(lastBlock, 'fd7e:57ef:0:ffff::/64');
  });
});
