import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { peerPlan, reachOf, underlayClash, vtepAddressOf, HostGwUnreachableError } from '../../src/drivers/hostsubnet/peer-plan.js';
import { hostsubnetStateOf, subnetConfigOf, vtepMacOf } from '../../src/drivers/hostsubnet/hostsubnet-options.js';
import { resolveSubnetConfig, type LeaseRecord } from '../../src/ipam/subnet-leases.js';
import type { RouteInfo } from '../../src/kernel/netlink/types.js';
import type { NetworkRecord } from '../../src/model/types.js';
import { WeftError } from '../../src/errors.js';

const route = (dst: string, extra: Partial<RouteInfo> = {}): RouteInfo => ({
  family: 4,
  dst,
  table: 254,
  protocol: 2,
  scope: extra.gateway ? 0 : 253,
  type: 1,
  ...extra,
});
const table = [route('0.0.0.0/0', { gateway: '198.18.1.1' }), route('198.18.1.0/24'), route('198.18.2.0/24', { gateway: '198.18.1.254' })];
const peer: LeaseRecord = {
  subnet: '10.244.7.0/24',
  hostId: 'h2',
  publicIp: '198.18.1.12',
  backend: 'vxlan',
  data: { vtepMac: '02:aa:bb:cc:dd:ee' },
  renewedAt: 0,
};

describe('where a peer is', () => {
  it('on the connected segment, behind a router, or via the default route', () => {
    assert.deepEqual(reachOf(table, '198.18.1.12'), { onLink: true });
    assert.deepEqual(reachOf(table, '198.18.2.5'), { onLink: false, via: '198.18.1.254' });
    assert.deepEqual(reachOf(table, '203.0.113.9'), { onLink: false, via: '198.18.1.1' });
    assert.deepEqual(reachOf([], '198.18.1.12'), { onLink: false });
  });
});

describe('what to program for a peer (Flannel’s schemes)', () => {
  it('vxlan: onlink route via the peer’s VTEP address, its neighbour and FDB entries', () => {
    const cfg = resolveSubnetConfig({ network: '10.244.0.0/16' });
    assert.equal(vtepAddressOf(peer.subnet), '10.244.7.0');
    assert.deepEqual(peerPlan(cfg, peer, { onLink: false, via: '198.18.1.1' }), {
      route: { dst: '10.244.7.0/24', gateway: '10.244.7.0', dev: 'vtep', onlink: true },
      neigh: { dst: '10.244.7.0', lladdr: '02:aa:bb:cc:dd:ee' },
      fdb: { lladdr: '02:aa:bb:cc:dd:ee', dst: '198.18.1.12' },
    });
  });

  it('vxlan with direct routing: a same-segment peer gets a plain route; others stay on the tunnel', () => {
    const cfg = resolveSubnetConfig({ network: '10.244.0.0/16', backend: { directRouting: true } });
    assert.equal(peerPlan(cfg, peer, { onLink: true })?.route.dev, 'underlay');
    assert.equal(peerPlan(cfg, peer, { onLink: false })?.route.dev, 'vtep');
  });

  it('host-gw: a route via the underlay address, refused with a clear error off the segment', () => {
    const cfg = resolveSubnetConfig({ network: '10.244.0.0/16', backend: { type: 'host-gw' } });
    assert.deepEqual(peerPlan(cfg, peer, { onLink: true }), {
      route: { dst: '10.244.7.0/24', gateway: '198.18.1.12', dev: 'underlay', onlink: false },
    });
    assert.throws(
      () => peerPlan(cfg, peer, { onLink: false, via: '198.18.1.254' }),
      (err: unknown) =>
        err instanceof HostGwUnreachableError &&
        err.code === 'WEFT_INVALID_ARGUMENT' &&
        err.field === 'backend' &&
        /not on this host's L2 segment \(routed via 198\.18\.1\.254\)/.test(err.message),
    );
  });

  it('udp: nothing per peer in the kernel', () => {
    assert.equal(peerPlan(resolveSubnetConfig({ network: '10.244.0.0/16', backend: { type: 'udp' } }), peer, { onLink: true }), undefined);
  });
});

describe('hostsubnet options', () => {
  const net = (options: Record<string, string>, subnets = ['10.244.0.0/16']): NetworkRecord =>
    ({
      id: 'ab'.repeat(32),
      name: 'hs',
      driver: 'hostsubnet',
      options,
      enableIPv6: false,
      ipam: { driver: 'default', options: {}, config: subnets.map((s) => ({ subnet: s, gateway: '', auxAddresses: {} })) },
      driverState: {},
    }) as unknown as NetworkRecord;

  it('maps -o options onto Flannel’s net-conf and derives the MTU from the backend', () => {
    const cfg = subnetConfigOf(net({ backend: 'host-gw', 'subnet-len': '26', 'subnet-max': '10.244.0.192/26' }));
    assert.equal(cfg.subnetLen, 26);
    assert.equal(cfg.subnetMax, '10.244.0.192/26');
    assert.equal(hostsubnetStateOf(net({})).mtu, '1450');
    assert.equal(hostsubnetStateOf(net({ backend: 'udp' })).mtu, '1472');
    assert.equal(hostsubnetStateOf(net({ backend: 'host-gw' })).mtu, '1500');
    assert.equal(hostsubnetStateOf(net({})).bridgeName, `whb${'ab'.repeat(6)}`);
  });

  it('refuses unknown options, bad numbers and a second subnet', () => {
    const bad = (o: Record<string, string>, s?: string[]) => () => subnetConfigOf(net(o, s));
    assert.throws(bad({ colour: 'blue' }), (e: unknown) => e instanceof WeftError && e.field === 'opt colour');
    assert.throws(bad({ vni: 'x' }), (e: unknown) => e instanceof WeftError && e.field === 'opt vni');
    assert.throws(bad({}, ['10.244.0.0/16', '10.245.0.0/16']), (e: unknown) => e instanceof WeftError && e.field === 'subnet');
    assert.throws(
      () => hostsubnetStateOf(net({ mtu: '100' })),
      (e: unknown) => e instanceof WeftError && e.field === 'opt mtu',
    );
  });

  it('derives a stable, locally administered unicast VTEP MAC per host and network', () => {
    const a = vtepMacOf('h1', 'hs');
    assert.equal(a, vtepMacOf('h1', 'hs'));
    assert.notEqual(a, vtepMacOf('h2', 'hs'));
    assert.notEqual(a, vtepMacOf('h1', 'other'));
    assert.equal(parseInt(a.slice(0, 2), 16) & 0x03, 0x02);
  });

  it("finds a cluster network that covers the host's own underlay segment (networkUp refuses it)", () => {
    assert.equal(underlayClash('198.18.0.0/24', ['198.18.0.11/24']), '198.18.0.0/24');
    assert.equal(underlayClash('198.18.0.128/26', ['198.18.0.11/24']), '198.18.0.0/24');
    assert.equal(underlayClash('198.0.0.0/8', ['198.18.0.11/24']), '198.18.0.0/24');
    assert.equal(underlayClash('10.236.0.0/16', ['198.18.0.11/24']), undefined);
    assert.equal(underlayClash('198.18.1.0/24', ['198.18.0.11/24']), undefined);
  });
});
