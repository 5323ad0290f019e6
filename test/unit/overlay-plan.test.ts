/** The overlay driver's pure parts: options and VNI choice, MTU, the FDB/neighbour plan from peers, gateway-leg addresses. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RemoteEndpoint } from '../../src/drivers/driver.js';
import type { NetworkRecord } from '../../src/model/types.js';
import { WeftError } from '../../src/errors.js';
import {
  chooseVni,
  OVERLAY_OPTIONS,
  overlayMtu,
  overlayNetnsPath,
  parseOverlayOptions,
  VNI_AUTO_FIRST,
  vnisInUse,
} from '../../src/drivers/overlay/overlay-options.js';
import { desiredEntries, diffEntries, entriesOf, entriesOfHost, peerMac, describeDiff } from '../../src/drivers/overlay/peer-plan.js';
import { GATEWAY_SUBNET6, gatewayCidr, gatewayCidr6, legAddress6, pickLegAddress } from '../../src/drivers/overlay/gateway-address.js';
import { gatewayBridgeMac, gatewayFwNetwork } from '../../src/drivers/overlay/gateway-leg.js';
import { OverlayDriver } from '../../src/drivers/overlay/overlay-driver.js';
import { DriverRegistry } from '../../src/drivers/registry.js';

const invalid = (field: string) => (err: unknown) =>
  err instanceof WeftError && err.code === 'WEFT_INVALID_ARGUMENT' && err.field === field;

const peer = (id: string, host: string, ip: string, extra: Partial<RemoteEndpoint> = {}): RemoteEndpoint => ({
  endpointId: id,
  networkId: 'n1',
  hostId: `host-${host}`,
  hostAddress: host,
  ipv4: `${ip}/24`,
  ...extra,
});

function net(id: string, o: Partial<NetworkRecord> = {}): NetworkRecord {
  return {
    id,
    name: `net-${id.slice(0, 4)}`,
    driver: 'overlay',
    created: '2026-01-01T00:00:00Z',
    scope: 'global',
    internal: false,
    enableIPv6: false,
    attachable: true,
    labels: {},
    options: {},
    ipam: { driver: 'default', options: {}, config: [{ subnet: '10.50.0.0/24', gateway: '10.50.0.1', auxAddresses: {} }] },
    driverState: {},
    ...o,
  };
}

describe('overlay options', () => {
  it('parses the VNI, MTU and encrypted (Docker names) and refuses unknown keys', () => {
    assert.deepEqual(parseOverlayOptions({ [OVERLAY_OPTIONS.vni]: '4242', [OVERLAY_OPTIONS.mtu]: '1400', encrypted: '' }, false), {
      vni: 4242,
      mtu: 1400,
      encrypted: true,
    });
    assert.deepEqual(parseOverlayOptions({}, false), { encrypted: false });
    assert.throws(
      () => parseOverlayOptions({ 'com.docker.network.bridge.name': 'x' }, false),
      invalid('opt com.docker.network.bridge.name'),
    );
  });

  it('refuses a VNI out of range, a list of several, or garbage', () => {
    for (const v of ['0', '16777216', '1,2', 'abc', '-5', ''])
      assert.throws(() => parseOverlayOptions({ [OVERLAY_OPTIONS.vni]: v }, false), invalid(OVERLAY_OPTIONS.vni), v);
    assert.equal(parseOverlayOptions({ [OVERLAY_OPTIONS.vni]: '16777215' }, false).vni, 16777215);
  });

  it('chooses the lowest free VNI from 4096 and refuses one already used', () => {
    const others = [net('a'.repeat(64), { driverState: { vni: '4096' } }), net('b'.repeat(64), { driverState: { vni: '4097' } })];
    const used = vnisInUse(others, 'c'.repeat(64));
    assert.equal(chooseVni(undefined, used), VNI_AUTO_FIRST + 2);
    assert.equal(chooseVni(7, used), 7);
    assert.throws(() => chooseVni(4097, used), invalid(OVERLAY_OPTIONS.vni));
    // A network's own VNI does not count against itself (re-validation).
    assert.equal(vnisInUse(others, 'a'.repeat(64)).has(4096), false);
  });

  it('derives the MTU from the underlay (−50 on IPv4, −70 on IPv6) and refuses one too large', () => {
    assert.equal(overlayMtu(undefined, 1500, false), 1450);
    assert.equal(overlayMtu(undefined, 1500, true), 1430);
    assert.equal(overlayMtu(1400, 1500, false), 1400);
    assert.throws(() => overlayMtu(1451, 1500, false), invalid(OVERLAY_OPTIONS.mtu));
    assert.throws(() => overlayMtu(9000, 1500, true), /larger than the underlay allows/);
  });

  it('validate stores the VNI and refuses a network without a subnet', () => {
    const d = new OverlayDriver();
    const v = d.validate(net('c'.repeat(64), { options: { [OVERLAY_OPTIONS.vni]: '300' } }), []);
    assert.deepEqual(v.driverState, { vni: '300', encrypted: 'false' });
    assert.throws(() => d.validate(net('d'.repeat(64), { ipam: { driver: 'default', options: {}, config: [] } }), []), invalid('subnet'));
    assert.throws(
      () =>
        d.validate(net('d'.repeat(64), { options: { [OVERLAY_OPTIONS.vni]: '300' } }), [
          net('e'.repeat(64), { driverState: { vni: '300' } }),
        ]),
      invalid(OVERLAY_OPTIONS.vni),
    );
  });

  it('names the per-network namespace by host and network, and registers as a global driver', () => {
    assert.equal(overlayNetnsPath('h1', '0123456789abcdef'), '/run/netns/weft-ovl-h1-0123456789ab');
    const d = new DriverRegistry().get('overlay');
    assert.equal(d.scope, 'global');
    assert.deepEqual(
      d.ownedNames.map((s) => s.prefix),
      ['wfo'],
    );
  });
});

describe('overlay peer plan', () => {
  it('turns a remote endpoint into one FDB entry (MAC → its VTEP) and one neighbour per address', () => {
    const e = entriesOf(peer('e1', '198.18.0.2', '10.50.0.7', { ipv6: 'fd00::7/64', mac: '02:AA:00:00:00:07' }));
    assert.deepEqual(e.fdb, [{ mac: '02:aa:00:00:00:07', dst: '198.18.0.2' }]);
    assert.deepEqual(e.neigh, [
      { family: 4, ip: '10.50.0.7', mac: '02:aa:00:00:00:07' },
      { family: 6, ip: 'fd00::7', mac: '02:aa:00:00:00:07' },
    ]);
  });

  it('derives the MAC from the IPv4 address when none is given, and refuses a peer with neither', () => {
    assert.equal(peerMac(peer('e1', '198.18.0.2', '10.50.0.7')), '02:42:0a:32:00:07');
    assert.throws(() => peerMac({ endpointId: 'x', networkId: 'n', hostId: 'h', hostAddress: '198.18.0.2' }), invalid('mac'));
  });

  it('skips endpoints at the local address and lets a later report of one MAC win', () => {
    const want = desiredEntries(
      [peer('a', '198.18.0.1', '10.50.0.2'), peer('b', '198.18.0.2', '10.50.0.3'), peer('b2', '198.18.0.3', '10.50.0.3')],
      '198.18.0.1',
    );
    assert.deepEqual(want.fdb, [{ mac: '02:42:0a:32:00:03', dst: '198.18.0.3' }]);
    assert.equal(want.neigh.length, 1);
  });

  it('diffs live against wanted: adds missing, deletes stale, keeps the rest, re-points a moved MAC', () => {
    const want = desiredEntries([peer('a', '198.18.0.2', '10.50.0.2'), peer('b', '198.18.0.3', '10.50.0.3')]);
    const live = {
      fdb: [
        { mac: '02:42:0a:32:00:02', dst: '198.18.0.2' },
        { mac: '02:42:0a:32:00:03', dst: '198.18.0.9' },
        { mac: '02:42:0a:32:00:09', dst: '198.18.0.9' },
      ],
      neigh: [{ family: 4 as const, ip: '10.50.0.2', mac: '02:42:0a:32:00:02' }],
    };
    const d = diffEntries(want, live);
    assert.deepEqual(d.add.fdb, [{ mac: '02:42:0a:32:00:03', dst: '198.18.0.3' }]);
    assert.deepEqual(d.add.neigh, [{ family: 4, ip: '10.50.0.3', mac: '02:42:0a:32:00:03' }]);
    assert.deepEqual(
      d.del.fdb.map((f) => f.dst),
      ['198.18.0.9', '198.18.0.9'],
    );
    assert.deepEqual(d.del.neigh, []);
    assert.equal(describeDiff(d, 'n').length, 4);
    assert.deepEqual(diffEntries(want, want), { add: { fdb: [], neigh: [] }, del: { fdb: [], neigh: [] } }, 'in sync: nothing to do');
  });

  it("selects a dead host's entries by its VTEP address", () => {
    const live = desiredEntries([
      peer('a', '198.18.0.2', '10.50.0.2'),
      peer('b', '198.18.0.3', '10.50.0.3'),
      peer('c', '198.18.0.3', '10.50.0.4'),
    ]);
    const gone = entriesOfHost(live, '198.18.0.3');
    assert.deepEqual(gone.fdb.map((f) => f.mac).sort(), ['02:42:0a:32:00:03', '02:42:0a:32:00:04']);
    assert.deepEqual(gone.neigh.map((n) => n.ip).sort(), ['10.50.0.3', '10.50.0.4']);
  });
});

describe('overlay gateway leg addresses', () => {
  it('gives the gateway the first address and legs others, skipping taken ones', () => {
    assert.equal(gatewayCidr('10.255.0.0/16'), '10.255.0.1/16');
    const a = pickLegAddress('ep-1', new Set(), '10.9.0.0/29');
    assert.notEqual(a, '10.9.0.1');
    assert.equal(pickLegAddress('ep-1', new Set(), '10.9.0.0/29'), a, 'stable for one endpoint');
    const taken = new Set<string>();
    for (let i = 0; i < 5; i++) taken.add(pickLegAddress(`ep-${i}`, taken, '10.9.0.0/29'));
    assert.equal(taken.size, 5);
    assert.ok(![...taken].some((x) => x === '10.9.0.0' || x === '10.9.0.1' || x === '10.9.0.7'), [...taken].join(','));
    assert.throws(() => pickLegAddress('ep-9', taken, '10.9.0.0/29'), /no free address/);
  });
});

describe('overlay gateway bridge over IPv6 (IPv6-enabled networks)', () => {
  it('embeds the leg’s IPv4 claim in the IPv6 subnet: 1:1, never the gateway', () => {
    assert.equal(gatewayCidr6(), 'fd77:6566:7467::1/64');
    assert.equal(legAddress6('10.255.3.4'), 'fd77:6566:7467::aff:304');
    assert.equal(legAddress6('10.255.0.2'), 'fd77:6566:7467::aff:2');
    const seen = new Set(['10.255.0.2', '10.255.0.3', '10.255.255.254'].map((a) => legAddress6(a)));
    assert.equal(seen.size, 3, 'distinct IPv4 claims give distinct IPv6 addresses');
    assert.ok(!seen.has(gatewayCidr6().split('/')[0]!));
    assert.throws(() => legAddress6('fd00::1'), /cannot embed/);
  });
  it('the firewall sees one gateway network, with both subnets, whichever leg asked first', () => {
    const n = gatewayFwNetwork();
    assert.deepEqual([n.subnets4, n.subnets6], [['10.255.0.0/16'], [GATEWAY_SUBNET6]]);
    assert.equal(n.masquerade, true);
    assert.equal(n.icc, false);
  });
  it('the gateway bridge has a MAC of its own (so adding a port never changes it), locally administered and stable per host', () => {
    const m = gatewayBridgeMac('host-a');
    assert.match(m, /^06(:[0-9a-f]{2}){5}$/);
    assert.equal(gatewayBridgeMac('host-a'), m);
    assert.notEqual(gatewayBridgeMac('host-b'), m);
  });
});
