import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/errors.js';
import { parseAddress } from '../../src/ipam/cidr.js';
import { macFromIPv4, parseMac, randomMac } from '../../src/ipam/mac.js';

function throwsField(fn: () => unknown, field: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WeftError, `expected WeftError, got ${String(err)}`);
    assert.equal(err.code, 'WEFT_INVALID_ARGUMENT');
    assert.equal(err.field, field);
    assert.ok(err.message.startsWith(`${field}: `), err.message);
    assert.match(err.message, re);
    return true;
  });
}

describe('parseMac', () => {
  const ok: [string, string][] = [
    ['02:42:AC:11:00:02', '02:42:ac:11:00:02'],
    ['02-42-ac-11-00-02', '02:42:ac:11:00:02'],
    ['0242.ac11.0002', '02:42:ac:11:00:02'],
    ['00:00:00:00:00:01', '00:00:00:00:00:01'],
    ['fe:ff:ff:ff:ff:ff', 'fe:ff:ff:ff:ff:ff'],
  ];
  for (const [input, want] of ok) it(`parses ${input}`, () => assert.equal(parseMac(input, 'mac-address'), want));

  const bad: [string, RegExp][] = [
    ['', /not a MAC/],
    ['02:42:ac:11:00', /not a MAC/],
    ['02:42:ac:11:00:02:03', /not a MAC/],
    ['2:42:ac:11:0:2', /not a MAC/],
    ['02:42-ac:11:00:02', /not a MAC/],
    ['02:42:ac:11:00:0g', /not a MAC/],
    ['0242ac110002', /not a MAC/],
    [' 02:42:ac:11:00:02', /not a MAC/],
    ['01:00:5e:00:00:01', /multicast/],
    ['ff:ff:ff:ff:ff:ff', /multicast\/broadcast/],
    ['33:33:00:00:00:01', /multicast/],
    ['00:00:00:00:00:00', /all zeros/],
  ];
  for (const [input, re] of bad)
    it(`rejects ${JSON.stringify(input)}`, () => throwsField(() => parseMac(input, 'mac-address'), 'mac-address', re));
});

describe('macFromIPv4', () => {
  it('is 02:42 + the four address bytes, like Docker', () => {
    assert.equal(macFromIPv4('172.17.0.2'), '02:42:ac:11:00:02');
    assert.equal(macFromIPv4(parseAddress('10.255.0.1', 'ip')), '02:42:0a:ff:00:01');
    assert.equal(parseMac(macFromIPv4('255.255.255.255'), 'mac'), '02:42:ff:ff:ff:ff', 'always a valid unicast MAC');
  });
  it('refuses IPv6 and garbage', () => {
    throwsField(() => macFromIPv4('fd00::1'), 'ipv4', /not an IPv4/);
    throwsField(() => macFromIPv4('10.0.0'), 'ipv4', /not a valid IP/);
  });
});

describe('randomMac', () => {
  it('is locally administered and unicast, whatever the random bytes', () => {
    assert.equal(
      randomMac(() => new Uint8Array([0xff, 1, 2, 3, 4, 5])),
      'fe:01:02:03:04:05',
    );
    assert.equal(
      randomMac(() => new Uint8Array(6)),
      '02:00:00:00:00:00',
    );
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const m = randomMac();
      assert.equal(parseMac(m, 'mac'), m);
      const first = parseInt(m.slice(0, 2), 16);
      assert.equal(first & 0x03, 0x02);
      seen.add(m);
    }
    assert.ok(seen.size > 190, 'random');
  });
});
