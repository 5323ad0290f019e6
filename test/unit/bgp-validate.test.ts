/**
 * BGP model validation: each bad input is an InvalidArgumentError whose field names the
 * offending input, before anything is rendered.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import { renderBirdConfig } from '../../src/bgp/render.js';
import { validateBgpModel } from '../../src/bgp/validate.js';
import type { BgpModel } from '../../src/bgp/model.js';

const good = (): BgpModel => ({
  hostName: 'a',
  routerId: '198.18.0.1',
  asNumber: 64512,
  address4: '198.18.0.1',
  address6: '2001:db8:18::1',
  pools: ['10.244.0.0/16', 'fd00:244::/48'],
  blocks: ['10.244.1.0/26'],
  borrowed: ['10.244.2.5'],
  hosts: [{ name: 'b', asNumber: 64512, address4: '198.18.0.2' }],
  externalPeers: [{ name: 'tor', asNumber: 65000, address: '198.18.0.254' }],
});

// [what, change, field, message pattern]
const CASES: [string, (m: BgpModel) => void, string, RegExp][] = [
  ['AS 0', (m) => (m.asNumber = 0), 'asNumber', /not an AS number \(an integer from 1 to 4294967295\)/],
  ['AS 2^32', (m) => (m.asNumber = 4294967296), 'asNumber', /4294967296 is not an AS number/],
  ['AS fraction', (m) => (m.asNumber = 1.5), 'asNumber', /not an AS number/],
  ['AS as a string', (m) => (m.asNumber = '64512' as unknown as number), 'asNumber', /not an AS number/],
  ['peer AS out of range', (m) => (m.externalPeers![0]!.asNumber = -1), 'externalPeers[0].asNumber', /not an AS number/],
  ['host AS out of range', (m) => (m.hosts![0]!.asNumber = 4294967296), 'hosts[0].asNumber', /not an AS number/],
  ['router id IPv6', (m) => (m.routerId = '2001:db8::1'), 'routerId', /not an IPv4 address/],
  ['router id garbage', (m) => (m.routerId = '1.2.3'), 'routerId', /not a valid IP address/],
  ['address4 is IPv6', (m) => (m.address4 = 'fd00::1'), 'address4', /not an IPv4 address/],
  ['address6 link-local', (m) => (m.address6 = 'fe80::1'), 'address6', /link-local/],
  [
    'peer address not an address',
    (m) => (m.externalPeers![0]!.address = 'tor.example'),
    'externalPeers[0].address',
    /not a valid IP address/,
  ],
  ['peer address with prefix', (m) => (m.externalPeers![0]!.address = '198.18.0.254/24'), 'externalPeers[0].address', /is a CIDR/],
  ['pool /0', (m) => (m.pools = ['0.0.0.0/0']), 'pools[0]', /default route/],
  ['pools overlap', (m) => (m.pools = ['10.244.0.0/16', '10.244.128.0/17']), 'pools[1]', /overlaps pools\[0\]/],
  ['pool with host bits', (m) => (m.pools = ['10.244.0.1/16']), 'pools[0]', /host bits/],
  ['block outside the pools', (m) => (m.blocks = ['10.99.0.0/26']), 'blocks[0]', /not inside any of weft's pools/],
  ['blocks overlap', (m) => (m.blocks = ['10.244.1.0/26', '10.244.1.32/27']), 'blocks[1]', /overlaps blocks\[0\]/],
  ['borrowed inside an own block', (m) => (m.borrowed = ['10.244.1.9']), 'borrowed[0]', /own block 10\.244\.1\.0\/26/],
  ['borrowed outside the pools', (m) => (m.borrowed = ['10.99.0.1']), 'borrowed[0]', /not inside any/],
  ['borrowed is a prefix', (m) => (m.borrowed = ['10.244.2.0/30']), 'borrowed[0]', /single address \(\/32\)/],
  ['borrowed twice', (m) => (m.borrowed = ['10.244.2.5', '10.244.2.5/32']), 'borrowed[1]', /listed twice/],
  ['v6 block without address6', (m) => ((m.blocks = ['fd00:244::/122']), delete m.address6), 'blocks[0]', /no address6/],
  ['host listed twice', (m) => m.hosts!.push({ name: 'b', asNumber: 64512, address4: '198.18.0.9' }), 'hosts[1].name', /listed twice/],
  ['host with own address', (m) => (m.hosts![0]!.address4 = '198.18.0.1'), 'hosts[0].address4', /own address \(duplicate peer\)/],
  [
    'two hosts one address',
    (m) => m.hosts!.push({ name: 'c', asNumber: 64512, address4: '198.18.0.2' }),
    'hosts[1].address4',
    /duplicate peer/,
  ],
  ['host without address', (m) => m.hosts!.push({ name: 'c', asNumber: 64512 }), 'hosts[1]', /no underlay address/],
  ['external peer = host peer', (m) => (m.externalPeers![0]!.address = '198.18.0.2'), 'externalPeers[0].address', /duplicate peer/],
  [
    'external peer twice',
    (m) => m.externalPeers!.push({ name: 'tor2', asNumber: 65000, address: '198.18.0.254' }),
    'externalPeers[1].address',
    /duplicate peer/,
  ],
  [
    'external name twice',
    (m) => m.externalPeers!.push({ name: 'tor', asNumber: 65000, address: '198.18.0.253' }),
    'externalPeers[1].name',
    /listed twice/,
  ],
  ['password with a quote', (m) => (m.externalPeers![0]!.password = 'a"b'), 'externalPeers[0].password', /without quotes/],
  ['password too long', (m) => (m.externalPeers![0]!.password = 'x'.repeat(81)), 'externalPeers[0].password', /1–80/],
  ['multihop 0', (m) => (m.externalPeers![0]!.multihop = 0), 'externalPeers[0].multihop', /from 1 to 255/],
  ['port 70000', (m) => (m.externalPeers![0]!.port = 70000), 'externalPeers[0].port', /from 1 to 65535/],
  [
    'v6 peer without address6',
    (m) => ((m.externalPeers![0]!.address = '2001:db8:18::fe'), delete m.address6),
    'externalPeers[0].address',
    /no address6/,
  ],
  [
    'localAddress of the wrong family',
    (m) => (m.externalPeers![0]!.localAddress = 'fd00::1'),
    'externalPeers[0].localAddress',
    /not an IPv4 address/,
  ],
  [
    'localAddress = peer address',
    (m) => (m.externalPeers![0]!.localAddress = '198.18.0.254'),
    'externalPeers[0].localAddress',
    /peer's own address/,
  ],
  ['reflectors without any', (m) => (m.mesh = 'reflectors'), 'mesh', /at least one host with a reflectorClusterId/],
  [
    'reflectors across ASes',
    (m) => ((m.mesh = 'reflectors'), (m.reflectorClusterId = '1'), (m.hosts![0]!.asNumber = 64513)),
    'hosts[0].asNumber',
    /route reflection needs one AS/,
  ],
  [
    'cluster id without reflectors',
    (m) => (m.reflectorClusterId = '1.1.1.1'),
    'reflectorClusterId',
    /only meaningful with mesh "reflectors"/,
  ],
  ['cluster id garbage', (m) => ((m.mesh = 'reflectors'), (m.reflectorClusterId = 'one')), 'reflectorClusterId', /not a valid IP address/],
  ['unknown mesh', (m) => (m.mesh = 'star' as never), 'mesh', /must be "full", "reflectors" or "none"/],
  ['unknown role', (m) => (m.role = 'switch' as never), 'role', /must be "host" or "router"/],
  ['kernel table 255', (m) => (m.kernel = { table: 255 }), 'kernel.table', /local/],
  ['keepalive vs hold', (m) => (m.timers = { holdSeconds: 9, keepaliveSeconds: 4 }), 'timers.keepaliveSeconds', /third of the hold time/],
  ['hold 2', (m) => (m.timers = { holdSeconds: 2 }), 'timers.holdSeconds', /from 3 to 65535/],
  ['interface pattern with a quote', (m) => (m.interfaces = ['eth"0']), 'interfaces[0]', /not an interface pattern/],
  ['host name with a quote', (m) => (m.hostName = 'a"b'), 'hostName', /must be letters/],
  ['hosts not a list', (m) => (m.hosts = {} as never), 'hosts', /must be a list/],
];

describe('bgp: model validation', () => {
  it('accepts the good model (so every case below fails for its own reason)', () => {
    const n = validateBgpModel(good());
    assert.deepEqual(n.blocks4, ['10.244.1.0/26']);
    assert.deepEqual(n.addrs4, ['10.244.2.5/32']);
  });

  for (const [what, change, field, message] of CASES) {
    it(`rejects ${what} naming ${field}`, () => {
      const m = good();
      change(m);
      assert.throws(
        () => renderBirdConfig(m),
        (e: unknown) =>
          e instanceof InvalidArgumentError && e.field === field && e.code === 'WEFT_INVALID_ARGUMENT' && message.test(e.message),
      );
    });
  }

  it('normalizes addresses, cluster ids and borrowed forms', () => {
    const n = validateBgpModel({
      ...good(),
      address6: '2001:DB8:18:0::1',
      mesh: 'reflectors',
      reflectorClusterId: '16777217',
      borrowed: ['10.244.2.5/32', 'fd00:244::0009'],
      hosts: [{ name: 'b', asNumber: 64512, address4: '198.18.0.2', address6: '2001:db8:18:0:0:0:0:2' }],
    });
    assert.equal(n.address6, '2001:db8:18::1');
    assert.equal(n.reflectorClusterId, '1.0.0.1');
    assert.deepEqual(n.addrs6, ['fd00:244::9/128']);
    assert.equal(n.hosts[0]!.address6, '2001:db8:18::2');
  });
});
