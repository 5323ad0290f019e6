/**
 * The seam for a cluster store: a global-scope driver's networks, endpoints and allocations go
 * to the global store, sandboxes and their endpoint index stay local; without a global store a
 * global-scope driver is refused plainly. A test-only driver stands in for overlay & co.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeWorld, dumpStore } from '../fakes/fake-world.js';
import type { Driver, DriverInvariants, NetworkValidation, RemoteEndpoint, RemoteHost } from '../../src/drivers/driver.js';
import type { NetworkRecord } from '../../src/model/types.js';
import { DriverRegistry, builtinDrivers } from '../../src/drivers/registry.js';
import { IFNAMES } from '../../src/drivers/ifnames.js';
import { WeftError } from '../../src/errors.js';

/** A global-scope driver that hands out addresses and makes no kernel objects. */
class GlobalTestDriver implements Driver {
  readonly name = 'gtest';
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
      assert.ok(g2[`endpoints/${ep.id}`], 'endpoint in the global store');
      assert.ok(g2[`ipam/${net.id}/4/a/${ep.ipv4!.split('/')[0]}`], 'allocation in the global store');
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
      assert.deepEqual(Object.keys(await dumpStore(w.globalStore!)), [], 'global store empty again');
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
