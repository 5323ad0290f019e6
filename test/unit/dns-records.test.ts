import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DnsRecordTable, addressFromReverseName, reverseName } from '../../src/dns/records.js';
import { InvalidArgumentError } from '../../src/errors.js';

const N1 = 'net-1';
const N2 = 'net-2';

function table(): DnsRecordTable {
  const t = new DnsRecordTable();
  t.setEndpoint(N1, 'e-web', { name: 'web', aliases: ['frontend', 'svc'], ipv4: '10.1.0.2/24', ipv6: 'fd00:1::2/64' });
  t.setEndpoint(N1, 'e-api', { name: 'api', aliases: ['svc'], ipv4: '10.1.0.3' });
  t.setEndpoint(N2, 'e-db', { name: 'db', aliases: [], ipv4: '10.2.0.2' });
  return t;
}

describe('DnsRecordTable', () => {
  it('resolves the sandbox name and each alias, A and AAAA', () => {
    const t = table();
    assert.deepEqual(t.lookup(N1, 'web', 'A'), ['10.1.0.2']);
    assert.deepEqual(t.lookup(N1, 'frontend', 'A'), ['10.1.0.2']);
    assert.deepEqual(t.lookup(N1, 'web', 'AAAA'), ['fd00:1::2']);
  });

  it('is case-insensitive and tolerates the trailing dot', () => {
    const t = table();
    assert.deepEqual(t.lookup(N1, 'WeB.', 'A'), ['10.1.0.2']);
    assert.deepEqual(t.lookup(N1, 'FRONTEND', 'A'), ['10.1.0.2']);
  });

  it('answers NODATA (empty) for a known name without that family, undefined for unknown names', () => {
    const t = table();
    assert.deepEqual(t.lookup(N1, 'api', 'AAAA'), []);
    assert.equal(t.lookup(N1, 'nope', 'A'), undefined);
  });

  it('scopes names per network', () => {
    const t = table();
    assert.equal(t.lookup(N1, 'db', 'A'), undefined, 'db lives on net-2 only');
    assert.equal(t.lookup(N2, 'web', 'A'), undefined);
    assert.deepEqual(t.lookup(N2, 'db', 'A'), ['10.2.0.2']);
    assert.equal(t.reverse(N2, '10.1.0.2'), undefined);
  });

  it('rotates endpoints sharing an alias round-robin across lookups', () => {
    const t = table();
    const firsts = Array.from({ length: 4 }, () => t.lookup(N1, 'svc', 'A')!);
    assert.deepEqual(firsts[0], ['10.1.0.2', '10.1.0.3']);
    assert.deepEqual(firsts[1], ['10.1.0.3', '10.1.0.2']);
    assert.deepEqual(firsts[2], ['10.1.0.2', '10.1.0.3']);
    assert.deepEqual(new Set(firsts.map((f) => f[0])), new Set(['10.1.0.2', '10.1.0.3']));
    assert.deepEqual(t.lookup(N1, 'svc', 'AAAA'), ['fd00:1::2'], 'only the endpoint with IPv6 answers AAAA');
  });

  it('three endpoints sharing a name each come first once per cycle', () => {
    const t = new DnsRecordTable();
    ['10.9.0.1', '10.9.0.2', '10.9.0.3'].forEach((ip, i) => t.setEndpoint(N1, `e${i}`, { name: `s${i}`, aliases: ['pool'], ipv4: ip }));
    const firsts = Array.from({ length: 3 }, () => t.lookup(N1, 'pool', 'A')![0]);
    assert.deepEqual(firsts.sort(), ['10.9.0.1', '10.9.0.2', '10.9.0.3']);
  });

  it('answers PTR with the sandbox name for in-addr.arpa and ip6.arpa', () => {
    const t = table();
    assert.equal(t.reverse(N1, '2.0.1.10.in-addr.arpa'), 'web');
    assert.equal(t.reverse(N1, '3.0.1.10.in-addr.arpa.'), 'api');
    assert.equal(t.reverse(N1, reverseName('fd00:1::2')), 'web');
    assert.equal(t.reverse(N1, '10.1.0.2'), 'web');
    assert.equal(t.reverse(N1, '9.0.1.10.in-addr.arpa'), undefined);
  });

  it('converts reverse names both ways and rejects partial ones', () => {
    assert.equal(reverseName('10.1.0.2'), '2.0.1.10.in-addr.arpa');
    assert.equal(addressFromReverseName('2.0.1.10.in-addr.arpa'), '10.1.0.2');
    const r6 = reverseName('fd00:1::2');
    assert.equal(r6.split('.').length, 34);
    assert.equal(addressFromReverseName(r6.toUpperCase()), 'fd00:1::2');
    assert.equal(addressFromReverseName('0.1.10.in-addr.arpa'), undefined);
    assert.equal(addressFromReverseName('256.0.1.10.in-addr.arpa'), undefined);
    assert.equal(addressFromReverseName('example.com'), undefined);
  });

  it('knows which reverse names and clients belong to the network subnets', () => {
    const t = table();
    t.setSubnets(N1, ['10.1.0.0/24', 'fd00:1::/64']);
    assert.equal(t.isLocalReverse(N1, '77.0.1.10.in-addr.arpa'), true);
    assert.equal(t.isLocalReverse(N1, '1.1.1.1.in-addr.arpa'), false);
    assert.equal(t.isLocalReverse(N1, reverseName('fd00:1::99')), true);
    assert.equal(t.acceptsClient(N1, '10.1.0.77'), true);
    assert.equal(t.acceptsClient(N1, '::ffff:10.1.0.77'), true);
    assert.equal(t.acceptsClient(N1, '10.2.0.2'), false);
    assert.equal(t.acceptsClient(N2, '192.0.2.1'), true, 'no subnets known: anyone');
  });

  it('replaces an endpoint on set (idempotent) and removes it (twice is fine)', () => {
    const t = table();
    const g0 = t.generation(N1);
    t.setEndpoint(N1, 'e-web', { name: 'web', aliases: [], ipv4: '10.1.0.9' });
    assert.ok(t.generation(N1) > g0);
    assert.deepEqual(t.lookup(N1, 'web', 'A'), ['10.1.0.9']);
    assert.equal(t.lookup(N1, 'frontend', 'A'), undefined, 'the dropped alias is gone');
    assert.deepEqual(t.lookup(N1, 'svc', 'A'), ['10.1.0.3']);
    assert.equal(t.reverse(N1, '10.1.0.2'), undefined);
    assert.equal(t.removeEndpoint(N1, 'e-web'), true);
    assert.equal(t.removeEndpoint(N1, 'e-web'), false);
    assert.equal(t.removeEndpoint('never', 'e-web'), false);
    assert.equal(t.lookup(N1, 'web', 'A'), undefined);
  });

  it('removing a network drops its records and bumps its generation', () => {
    const t = table();
    const g = t.generation(N1);
    t.removeNetwork(N1);
    assert.equal(t.lookup(N1, 'web', 'A'), undefined);
    assert.ok(t.generation(N1) > g);
  });

  it('rejects unusable names and addresses with typed errors', () => {
    const t = new DnsRecordTable();
    assert.throws(() => t.setEndpoint(N1, 'e', { name: '', aliases: [] }), InvalidArgumentError);
    assert.throws(() => t.setEndpoint(N1, 'e', { name: 'a..b', aliases: [] }), InvalidArgumentError);
    assert.throws(() => t.setEndpoint(N1, 'e', { name: 'ok', aliases: ['bad name'] }), /aliases\[0\]/);
    assert.throws(() => t.setEndpoint(N1, 'e', { name: 'ok', aliases: [], ipv4: 'fd00::1' }), /ipv4/);
    assert.throws(() => t.setEndpoint(N1, 'e', { name: 'ok', aliases: [], ipv6: '10.0.0.1' }), /ipv6/);
  });
});
