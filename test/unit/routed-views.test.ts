/** Pure parts of the routed design: store keys → BGP view and policy input, the routed driver's options, --bgp flags. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bgpViewFromEntries } from '../../src/cluster/bgp-view.js';
import { policyInputFromEntries, type PolicyViewMemo } from '../../src/cluster/policy-view.js';
import { bgpModelForHost } from '../../src/bgp/model-from-cluster.js';
import { hostRouteOf, parseRoutedOptions } from '../../src/drivers/routed/routed-options.js';
import { bgpFromFlags, policyFromFlags } from '../../src/config/bgp-config.js';
import { RoutedDriver } from '../../src/drivers/routed/routed-driver.js';
import { DriverRegistry } from '../../src/drivers/registry.js';
import type { NetworkRecord } from '../../src/model/types.js';

const j = (v: unknown): string => JSON.stringify(v);

describe('bgp view from store keys', () => {
  const entries = new Map<string, string>([
    ['hosts/h1', j({ id: 'h1', name: 'one', address: '198.18.0.11' })],
    ['hosts/h1/alive', j({ token: 't', address: '198.18.0.11', pid: 1 })],
    ['hosts/h2', j({ id: 'h2', name: 'two', address: '198.18.0.12' })],
    ['ipam/p/config', j({ id: 'p', cidr: '10.43.0.0/16', blockPrefix: 26 })],
    ['ipam/p/blocks/10.43.0.0-26', j({ cidr: '10.43.0.0/26', owner: 'h1', allocations: { '1': { handle: 'a', host: 'h1' } } })],
    // h1 borrowed offset 5 of h2's block: announced as a /32 by h1.
    ['ipam/p/blocks/10.43.0.64-26', j({ cidr: '10.43.0.64/26', owner: 'h2', allocations: { '5': { handle: 'b', host: 'h1' } } })],
    ['bgp/peers/tor', j({ name: 'tor', asNumber: 65000, address: '198.18.0.1', hosts: ['h2'] })],
    ['hosts/h3', '{not json'],
  ]);

  it('builds each host its blocks, borrowed addresses and sessions', () => {
    const { view, skipped } = bgpViewFromEntries('h1', entries, { asNumber: 64512 });
    assert.deepEqual(
      skipped.map((s) => s.key),
      ['hosts/h3'],
    );
    const m = bgpModelForHost(view);
    assert.deepEqual(m.blocks, ['10.43.0.0/26']);
    assert.deepEqual(m.borrowed, ['10.43.0.69']);
    assert.equal(m.asNumber, 64512);
    assert.deepEqual(m.externalPeers, [], 'the ToR peer is limited to h2');
    assert.deepEqual(
      m.hosts?.map((h) => h.name),
      ['one', 'two'],
    );
    const m2 = bgpModelForHost(bgpViewFromEntries('h2', entries, { asNumber: 64512 }).view);
    assert.deepEqual(m2.blocks, ['10.43.0.64/26']);
    assert.deepEqual(m2.borrowed, []);
    assert.deepEqual(
      m2.externalPeers?.map((p) => p.name),
      ['tor'],
    );
  });

  it("a host record's address6 gives IPv6 sessions between dual-stack hosts", () => {
    const e = new Map(entries);
    e.set('hosts/h1', j({ id: 'h1', name: 'one', address: '198.18.0.11', address6: '2001:2::b' }));
    e.set('hosts/h2', j({ id: 'h2', name: 'two', address: '198.18.0.12', address6: '2001:2::c' }));
    const m = bgpModelForHost(bgpViewFromEntries('h1', e, { asNumber: 64512 }).view);
    assert.equal(m.address4, '198.18.0.11');
    assert.equal(m.address6, '2001:2::b');
    const two = m.hosts?.find((h) => h.name === 'two');
    assert.equal(two?.address4, '198.18.0.12');
    assert.equal(two?.address6, '2001:2::c');
    // Without address6 (the records before this change), IPv4 only.
    const old = bgpModelForHost(bgpViewFromEntries('h1', entries, { asNumber: 64512 }).view);
    assert.equal(old.address6, undefined);
    assert.equal(old.hosts?.find((h) => h.name === 'two')?.address6, undefined);
  });

  it('a bgp/config record sets the AS and mesh for all', () => {
    const e = new Map(entries);
    e.set('bgp/config', j({ asNumber: 65100, mesh: 'none' }));
    const m = bgpModelForHost(bgpViewFromEntries('h1', e, { asNumber: 64512 }).view);
    assert.equal(m.asNumber, 65100);
    assert.equal(m.mesh, 'none');
  });
});

describe('policy input from store keys', () => {
  const policy = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: 'db' },
    spec: { selector: "role == 'db'", types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [5432] } }] },
  };
  it('local endpoints are this host s; remote ones feed selectors; bad records are skipped', () => {
    const entries = new Map<string, string>([
      ['policies/db', j(policy)],
      ['policies/broken', j({ kind: 'GlobalNetworkPolicy', metadata: { name: 'broken' }, spec: { selector: 'role ==' } })],
      ['endpoints/net/e1', j({ id: 'e1', hostId: 'h1', network: 'net', driver: 'routed', ipv4: '10.43.0.1/32', labels: { role: 'db' } })],
      ['endpoints/net/e2', j({ id: 'e2', host: 'h2', networkName: 'net', driver: 'routed', ipv4: '10.43.0.65' })],
      ['endpoints/net/e3', j({ id: 'e3', hostId: 'h2', network: 'net' })],
    ]);
    const { input, skipped } = policyInputFromEntries('h1', entries);
    assert.deepEqual(
      input.policies.map((p) => p.name),
      ['db'],
    );
    assert.deepEqual(
      input.endpoints.map((e) => [e.id, e.local, e.addresses]),
      [
        ['e1', true, ['10.43.0.1']],
        ['e2', false, ['10.43.0.65']],
      ],
    );
    assert.deepEqual(input.networks, [{ name: 'net', mode: 'routed' }]);
    assert.deepEqual(
      skipped.map((s) => s.key),
      ['endpoints/net/e3', 'policies/broken'],
    );
  });

  it('with a memo, only entries whose value changed are parsed again; the result is the same as without', () => {
    const ep = (id: string, role: string): string =>
      j({ id, hostId: 'h1', network: 'net', driver: 'routed', ipv4: `10.43.0.${id.slice(1)}`, labels: { role } });
    const entries = new Map<string, string>([
      ['policies/db', j(policy)],
      ['endpoints/net/e1', ep('e1', 'db')],
      ['endpoints/net/e2', ep('e2', 'web')],
    ]);
    const memo: PolicyViewMemo = new Map();
    const first = policyInputFromEntries('h1', entries, memo);
    assert.deepEqual(first, policyInputFromEntries('h1', entries));
    entries.set('endpoints/net/e2', ep('e2', 'db')); // relabelled
    entries.delete('endpoints/net/e1');
    entries.set('endpoints/net/e3', ep('e3', 'db'));
    const second = policyInputFromEntries('h1', entries, memo);
    assert.deepEqual(second, policyInputFromEntries('h1', entries));
    // The unchanged policy is the very object parsed the first time (not parsed again) …
    assert.equal(second.input.policies[0], first.input.policies[0]);
    // … the relabelled endpoint is new, and the memo forgot the removed key.
    assert.deepEqual(second.input.endpoints.find((e) => e.id === 'e2')?.labels, { role: 'db' });
    assert.deepEqual([...memo.keys()].sort(), ['endpoints/net/e2', 'endpoints/net/e3', 'policies/db']);
  });
});

describe('routed driver options and flags', () => {
  it('host routes are /32 and /128 whatever the pool prefix', () => {
    assert.equal(hostRouteOf('10.43.0.7/16'), '10.43.0.7/32');
    assert.equal(hostRouteOf('fd00::7/64'), 'fd00::7/128');
  });
  it('unknown options and bad MTUs are refused', () => {
    assert.throws(() => parseRoutedOptions({ 'com.docker.network.bridge.name': 'x' }, false), /unknown option for the routed driver/);
    assert.throws(() => parseRoutedOptions({ 'com.docker.network.driver.mtu': '10' }, false), /mtu/);
    assert.equal(parseRoutedOptions({ 'com.docker.network.driver.mtu': '1400' }, false).mtu, 1400);
  });
  it('validate keeps the MTU in the driver state', () => {
    const net = { options: { 'com.docker.network.driver.mtu': '1450' }, enableIPv6: false } as unknown as NetworkRecord;
    assert.deepEqual(new RoutedDriver().validate(net).driverState, { mtu: '1450' });
  });
  it('the registry has it, global scope, with its own interface names', () => {
    const d = new DriverRegistry().get('routed');
    assert.equal(d.scope, 'global');
    assert.deepEqual(
      d.ownedNames.map((s) => s.prefix),
      ['wrv'],
    );
  });
  it('--bgp needs the cluster; AS numbers out of range are refused', () => {
    assert.equal(bgpFromFlags({}), undefined);
    assert.throws(() => bgpFromFlags({ bgp: true }), /needs --cluster-store/);
    assert.throws(() => bgpFromFlags({ bgpAs: '65000' }), /needs --bgp/);
    assert.throws(() => bgpFromFlags({ bgp: true, clusterStore: 'etcd://198.18.0.1:2379', bgpAs: '4294967296' }), /AS number/);
    assert.throws(() => bgpFromFlags({ bgp: true, clusterStore: 'etcd://198.18.0.1:2379', bgpAs: '0' }), /AS number/);
    assert.deepEqual(bgpFromFlags({ bgp: true, clusterStore: 'etcd://198.18.0.1:2379', bgpAs: '65001' }), { asNumber: 65001 });
    assert.throws(() => policyFromFlags({ policy: true }), /needs --cluster-store/);
    assert.equal(policyFromFlags({ policy: true, clusterStore: 'etcd://198.18.0.1:2379' }), true);
  });
});
