/**
 * The seam for a cluster store: a global-scope driver's networks, endpoints and allocations go
 * to the global store, sandboxes and their endpoint index stay local; without a global store a
 * global-scope driver is refused plainly. A test-only driver stands in for overlay & co.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeWorld, dumpStore } from '../fakes/fake-world.js';
import type {
  Driver,
  DriverInvariants,
  EndpointContext,
  Invariant,
  NetworkContext,
  NetworkValidation,
  RemoteEndpoint,
  RemoteHost,
} from '../../src/drivers/driver.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../../src/model/types.js';
import { DriverRegistry, builtinDrivers } from '../../src/drivers/registry.js';
import { IFNAMES } from '../../src/drivers/ifnames.js';
import { WeftError } from '../../src/errors.js';
import { SUBNET_CLAIMS_KEY } from '../../src/controller/network-ops.js';

/** A global-scope driver that hands out addresses and makes no kernel objects. */
class GlobalTestDriver implements Driver {
  readonly name: string = 'gtest';
  readonly scope = 'global';
  readonly usesIpam = true;
  readonly userCreatable = true;
  readonly ownedNames = [];
  readonly invariants: DriverInvariants = { network: [], endpoint: [], host: [] };
  validate(net: NetworkRecord): NetworkValidation {
    return { options: net.options, driverState: { ifacePrefix: 'eth' } };
  }
  async networkUp(): Promise<void> {}
  async networkDown(): Promise<void> {}
  async join(): Promise<void> {}
  async leave(): Promise<void> {}
}

describe('records per scope', () => {
  it('a global-scope network lives in the global store; its endpoints too; the sandbox index stays local', async () => {
    const w = await fakeWorld({ drivers: [new GlobalTestDriver()], globalStore: true });
    try {
      const net = await w.controller.createNetwork({ name: 'g', driver: 'gtest', ipam: { config: [{ subnet: '10.40.0.0/24' }] } });
      assert.equal(net.scope, 'global');
      const global = await dumpStore(w.globalStore!);
      const local = await dumpStore(w.store);
      assert.ok(global[`networks/${net.id}`], 'network in the global store');
      assert.equal(local[`networks/${net.id}`], undefined, 'not in the local one');
      const { sandbox, endpoints } = await w.controller.createSandbox({ name: 's', networks: [{ network: 'g' }] });
      const ep = endpoints[0]!;
      const g2 = await dumpStore(w.globalStore!);
      const l2 = await dumpStore(w.store);
      const stored = JSON.parse(g2[`endpoints/${net.id}/${ep.id}`] ?? '{}') as { host?: string; hostAddress?: string };
      assert.deepEqual([stored.host, stored.hostAddress], ['host-a', '198.18.0.1'], 'endpoint in the global store, with its host');
      assert.equal(
        (await w.cluster!.allocations(net.id)).get(ep.ipv4!.split('/')[0]!)?.handle,
        ep.id,
        'address from the cluster IPAM, held by the endpoint',
      );
      assert.equal(w.cluster!.pools.get(net.id)?.reserved[0], '10.40.0.1', 'the gateway is never handed out');
      assert.ok(l2[`sandboxes/${sandbox.id}`], 'sandbox local');
      assert.ok(l2[`index/sandbox-endpoints/${sandbox.id}/${ep.id}`], 'sandbox index local');
      assert.deepEqual(
        (await w.controller.sandboxView('s')).endpoints.map((e) => e.networkName),
        ['g'],
        'reads join both scopes',
      );
      assert.deepEqual((await w.controller.doctor(false)).violations, []);
      await w.controller.removeSandbox('s');
      await w.controller.removeNetwork('g');
      // Only the subnet-claims guard stays: it is never deleted, so a create that read it before
      // a removal can never pass its check against a re-created, reset guard.
      assert.deepEqual(Object.keys(await dumpStore(w.globalStore!)), [SUBNET_CLAIMS_KEY], 'global store empty again but for the guard');
      assert.equal(w.cluster!.pools.size, 0, 'cluster pool removed with the network');
    } finally {
      await w.close();
    }
  });

  it('without a cluster store, a global-scope driver is refused with a clear error', async () => {
    const w = await fakeWorld({ drivers: [new GlobalTestDriver()] });
    try {
      await assert.rejects(
        () => w.controller.createNetwork({ name: 'g', driver: 'gtest' }),
        (err) =>
          err instanceof WeftError && err.code === 'WEFT_INVALID_ARGUMENT' && err.field === 'scope' && /cluster store/.test(err.message),
      );
      assert.equal(await w.controller.findNetwork('g'), undefined, 'nothing created');
    } finally {
      await w.close();
    }
  });
});

describe('address spaces', () => {
  /** Stands in for overlay: every network is its own namespace behind its own VNI. */
  class OwnSpaceDriver extends GlobalTestDriver {
    override readonly name = 'gspace';
    readonly ownAddressSpace = true;
  }

  it('two networks of an own-address-space driver may share a subnet; each hands out its own addresses', async () => {
    const w = await fakeWorld({ drivers: [new GlobalTestDriver(), new OwnSpaceDriver()], globalStore: true });
    try {
      const subnet = { ipam: { config: [{ subnet: '10.50.0.0/24' }] } };
      const a = await w.controller.createNetwork({ name: 'tenant-a', driver: 'gspace', ...subnet });
      const b = await w.controller.createNetwork({ name: 'tenant-b', driver: 'gspace', ...subnet });
      assert.notEqual(a.id, b.id);
      const ea = (await w.controller.createSandbox({ name: 'sa', networks: [{ network: 'tenant-a' }] })).endpoints[0]!;
      const eb = (await w.controller.createSandbox({ name: 'sb', networks: [{ network: 'tenant-b' }] })).endpoints[0]!;
      assert.equal(ea.ipv4, eb.ipv4, 'the same first address in each tenant: separate pools');
      // A driver that shares the host's address space still may not overlap either tenant.
      await assert.rejects(
        () => w.controller.createNetwork({ name: 'flat', driver: 'gtest', ...subnet }),
        (err) => err instanceof WeftError && err.code === 'WEFT_IPAM_OVERLAP',
      );
      assert.equal(await w.controller.findNetwork('flat'), undefined, 'nothing created');
      // An auto-picked subnet still avoids both.
      const c = await w.controller.createNetwork({ name: 'tenant-c', driver: 'gspace' });
      assert.notEqual(c.ipam.config[0]!.subnet, '10.50.0.0/24');
    } finally {
      await w.close();
    }
  });
});

describe('global networks on a cluster', () => {
  it("network rm is refused while another host has endpoints on it; remote endpoints are not this host's", async () => {
    const w = await fakeWorld({ drivers: [new GlobalTestDriver()], globalStore: true });
    try {
      const net = await w.controller.createNetwork({ name: 'g', driver: 'gtest', ipam: { config: [{ subnet: '10.42.0.0/24' }] } });
      const remote = { id: 'e'.repeat(64), networkId: net.id, sandboxId: 's'.repeat(64), ifname: 'eth0', aliases: [], defaultRoute: true };
      await w.globalStore!.commit({
        puts: [
          {
            key: `endpoints/${net.id}/${remote.id}`,
            value: JSON.stringify({ ...remote, requested: {}, created: '', host: 'host-b', hostAddress: '198.18.0.2' }),
          },
        ],
      });
      await assert.rejects(
        () => w.controller.removeNetwork('g'),
        (err) => err instanceof WeftError && err.code === 'WEFT_IN_USE' && /host-b/.test(err.message),
      );
      assert.equal(await w.controller.endpointCount(), 0, "another host's endpoint is not counted as this host's");
      const r = await w.controller.resync(true);
      assert.deepEqual(r.orphansRemoved, [], "reconcile leaves another host's endpoint alone");
      assert.ok((await dumpStore(w.globalStore!))[`endpoints/${net.id}/${remote.id}`], 'still there');
      await w.globalStore!.commit({ deletes: [`endpoints/${net.id}/${remote.id}`] });
      await w.controller.removeNetwork('g');
    } finally {
      await w.close();
    }
  });

  it('with the cluster store away, a global connect fails at once and leaves nothing; local work goes on', async () => {
    const w = await fakeWorld({ drivers: [new GlobalTestDriver()], globalStore: true });
    try {
      await w.controller.createNetwork({ name: 'g', driver: 'gtest', ipam: { config: [{ subnet: '10.43.0.0/24' }] } });
      await w.controller.createSandbox({ name: 's' });
      const before = await dumpStore(w.store);
      w.cluster!.available = false;
      const t0 = Date.now();
      await assert.rejects(
        () => w.controller.connect('g', { sandbox: 's' }),
        (err) => err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE',
      );
      assert.ok(Date.now() - t0 < 1000, 'fails at once');
      assert.deepEqual(await dumpStore(w.store), before, 'local store unchanged');
      const names = (await w.controller.networks()).map((n) => n.name).sort();
      assert.deepEqual(names, ['bridge', 'host', 'none'], 'listing shows the local scope while the cluster is away');
      await w.controller.connect('bridge', { sandbox: 's' });
      // A new local network needs no cluster record: its name is checked against the local scope.
      const loc = await w.controller.createNetwork({
        name: 'local-while-away',
        driver: 'bridge',
        ipam: { config: [{ subnet: '10.45.0.0/24' }] },
      });
      // …and found by id, as the REST surface answers a create, and by an id prefix.
      assert.equal((await w.controller.inspectNetworks([loc.id]))[0]!.Name, 'local-while-away');
      await w.controller.removeNetwork(loc.id.slice(0, 12));
      await assert.rejects(
        () => w.controller.network('no-such-net'),
        (err) => err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE',
        'an unknown name may be a global network: unavailable, not "not found"',
      );
      await assert.rejects(
        () => w.controller.createNetwork({ name: 'g2', driver: 'gtest', ipam: { config: [{ subnet: '10.46.0.0/24' }] } }),
        (err) => err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE',
      );
      w.cluster!.available = true;
      const ep = await w.controller.connect('g', { sandbox: 's' });
      assert.match(ep.ipv4 ?? '', /^10\.43\.0\.\d+\/24$/);
      w.cluster!.available = false;
      await assert.rejects(() => w.controller.disconnect('g', { sandbox: 's' }), /unavailable/);
      const r = await w.controller.resync(true);
      assert.deepEqual(r.orphansRemoved, [], 'a reconcile while the cluster is away sweeps nothing it cannot see');
      w.cluster!.available = true;
      assert.equal((await w.controller.sandboxView('s')).endpoints.length, 2, 'refused disconnect changed nothing');
      await w.controller.removeSandbox('s');
      assert.equal((await w.cluster!.allocations((await w.controller.network('g')).id)).size, 0, 'address released');
    } finally {
      await w.close();
    }
  });

  it('started with the cluster store away: global endpoints are left alone; once it answers, reconcileGlobal ensures and announces them', async () => {
    const calls: string[] = [];
    const counting = <C>(id: string): Invariant<C> => ({
      id,
      holds: 'counted',
      async check() {
        calls.push(`check ${id}`);
        return [];
      },
      async repair() {
        calls.push(`repair ${id}`);
      },
    });
    const d = Object.assign(new GlobalTestDriver(), {
      invariants: { network: [counting<NetworkContext>('net')], endpoint: [counting<EndpointContext>('ep')], host: [] },
      async networkDown() {
        calls.push('down');
      },
      async leave() {
        calls.push('leave');
      },
    });
    const announced: string[] = [];
    const hooks = {
      async endpointUp(net: NetworkRecord, _ep: EndpointRecord, sb: SandboxRecord) {
        announced.push(`${sb.name}@${net.name}`);
      },
    };
    const w = await fakeWorld({ drivers: [d], globalStore: true, hooks });
    try {
      await w.controller.createNetwork({ name: 'g', driver: 'gtest', ipam: { config: [{ subnet: '10.47.0.0/24' }] } });
      await w.controller.createSandbox({ name: 's', networks: [{ network: 'g' }, { network: 'bridge' }] });
      // A restarted weftd's first pass, while the store is away.
      w.cluster!.available = false;
      calls.length = 0;
      announced.length = 0;
      const r = await w.controller.start();
      assert.deepEqual(announced, ['s@bridge'], 'only the local scope is seen and announced');
      assert.deepEqual(calls, [], 'nothing of the global network is checked, torn down or re-made');
      assert.ok(
        r.errors.some((e) => e.startsWith('sweep:')),
        `the sweep waits for a complete view: ${r.errors.join('; ')}`,
      );
      w.cluster!.available = true;
      announced.length = 0;
      const g = await w.controller.reconcileGlobal();
      assert.deepEqual(g.errors, []);
      assert.deepEqual([g.networksEnsured, g.endpointsEnsured], [1, 1]);
      assert.deepEqual(announced, ['s@g'], 'the global endpoint is announced now; the local one not again');
      assert.deepEqual(calls, ['check net', 'check ep'], 'ensured, not re-made: every check held');
      assert.equal((await w.controller.sandboxView('s')).endpoints.length, 2);
    } finally {
      await w.close();
    }
  });

  it('a first start with the cluster store away makes the predefined networks; global calls answer WEFT_STORE_UNAVAILABLE', async () => {
    const w = await fakeWorld({ drivers: [new GlobalTestDriver()], globalStore: true, clusterAway: true });
    try {
      assert.deepEqual((await w.controller.networks()).map((n) => n.name).sort(), ['bridge', 'host', 'none']);
      await assert.rejects(
        () => w.controller.createNetwork({ name: 'g', driver: 'gtest', ipam: { config: [{ subnet: '10.48.0.0/24' }] } }),
        (err) => err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE',
      );
      w.cluster!.available = true;
      await w.controller.createNetwork({ name: 'g', driver: 'gtest', ipam: { config: [{ subnet: '10.48.0.0/24' }] } });
      assert.deepEqual(await w.controller.reconcileGlobal().then((r) => r.errors), []);
    } finally {
      await w.close();
    }
  });

  it('a global network of a remote host: networkUp/Down reach the driver; the remote view feeds inspect', async () => {
    const calls: string[] = [];
    const d = Object.assign(new GlobalTestDriver(), {
      async networkUp() {
        calls.push('up');
      },
      async networkDown() {
        calls.push('down');
      },
    });
    const w = await fakeWorld({ drivers: [d], globalStore: true });
    try {
      const net = await w.controller.createNetwork({ name: 'g', driver: 'gtest', ipam: { config: [{ subnet: '10.44.0.0/24' }] } });
      calls.length = 0;
      await w.controller.globalNetworkUp(net);
      await w.controller.remoteEndpointUp({
        endpointId: 'ep9',
        networkId: net.id,
        hostId: 'host-b',
        hostAddress: '198.18.0.2',
        ipv4: '10.44.0.9/24',
      });
      const [view] = await w.controller.inspectNetworks(['g']);
      assert.deepEqual(view!.Peers, [
        {
          Name: 'host-b',
          IP: '198.18.0.2',
          Endpoints: [{ EndpointID: 'ep9', IPv4Address: '10.44.0.9/24', IPv6Address: '', MacAddress: '' }],
        },
      ]);
      await w.controller.globalNetworkDown(net); // the record still exists: left alone
      assert.deepEqual(calls, [], 'networkUp is idempotent through the invariants; a live record is not torn down');
      await w.controller.removeNetwork('g');
      calls.length = 0;
      await w.controller.globalNetworkDown(net);
      assert.deepEqual(calls, ['down']);
      assert.deepEqual(w.controller.remoteEndpoints(net.id), []);
    } finally {
      await w.close();
    }
  });
});

describe('driver registry', () => {
  it('refuses two drivers with one name, or two drivers claiming one interface-name scheme', () => {
    assert.throws(() => new DriverRegistry([...builtinDrivers(), ...builtinDrivers().slice(0, 1)]), /two drivers are named "bridge"/);
    const thief: Driver = Object.assign(new GlobalTestDriver(), { name: 'thief', ownedNames: [IFNAMES.hostVeth] });
    assert.throws(() => new DriverRegistry([...builtinDrivers(), thief]), /both claim interface names wfv/);
  });
});

describe('cluster events reach the drivers through the controller', () => {
  it("remote endpoints go to the network's driver; host events to every driver that takes them", async () => {
    const calls: string[] = [];
    const d = Object.assign(new GlobalTestDriver(), {
      async peerUp(_c: unknown, p: RemoteEndpoint) {
        calls.push(`peerUp ${p.endpointId} on ${p.hostId}`);
      },
      async peerDown(_c: unknown, p: RemoteEndpoint) {
        calls.push(`peerDown ${p.endpointId}`);
      },
      async hostDown(_c: unknown, h: RemoteHost) {
        calls.push(`hostDown ${h.hostId}`);
      },
    });
    const w = await fakeWorld({ drivers: [d], globalStore: true });
    try {
      const net = await w.controller.createNetwork({ name: 'g', driver: 'gtest', ipam: { config: [{ subnet: '10.41.0.0/24' }] } });
      const peer: RemoteEndpoint = { endpointId: 'ep1', networkId: net.id, hostId: 'h2', hostAddress: '198.18.0.2', ipv4: '10.41.0.9/24' };
      await w.controller.remoteEndpointUp(peer);
      await w.controller.remoteEndpointDown(peer);
      await w.controller.hostUp({ hostId: 'h2', address: '198.18.0.2', data: {} }); // no driver takes hostUp: nothing to do
      await w.controller.hostDown({ hostId: 'h2', address: '198.18.0.2', data: {} });
      assert.deepEqual(calls, ['peerUp ep1 on h2', 'peerDown ep1', 'hostDown h2']);
      await assert.rejects(() => w.controller.remoteEndpointUp({ ...peer, networkId: 'nope' }), /not found/);
    } finally {
      await w.close();
    }
  });
});
