/**
 * A global endpoint's record is committed to the cluster store while the driver joins (the
 * kernel work needs only the addresses). Both orders of failure must leave nothing behind: a
 * failed record commit undoes the join and gives back the address and the sandbox index; a
 * failed join waits for the record's commit to land before it deletes it (else a late put would
 * bring back the record of an endpoint that does not exist). The reply of a create is built from
 * the records the create wrote, and equals what a read gives back.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeWorld, dumpStore, type FakeWorld } from '../fakes/fake-world.js';
import type { Driver, DriverInvariants, EndpointContext, NetworkValidation } from '../../src/drivers/driver.js';
import type { NetworkRecord } from '../../src/model/types.js';
import type { KvCommit } from '../../src/store/store.js';
import { WeftError } from '../../src/errors.js';
import { SUBNET_CLAIMS_KEY } from '../../src/controller/network-ops.js';

/** A global-scope driver that records its joins and leaves, and can be told to fail a join. */
class RecordingDriver implements Driver {
  readonly name = 'grec';
  readonly scope = 'global';
  readonly usesIpam = true;
  readonly userCreatable = true;
  readonly ownedNames = [];
  readonly invariants: DriverInvariants = { network: [], endpoint: [], host: [] };
  readonly joined: string[] = [];
  readonly left: string[] = [];
  failJoin = false;
  validate(net: NetworkRecord): NetworkValidation {
    return { options: net.options, driverState: { ifacePrefix: 'eth' } };
  }
  async networkUp(): Promise<void> {}
  async networkDown(): Promise<void> {}
  async join(c: EndpointContext): Promise<void> {
    this.joined.push(c.endpoint.id);
    if (this.failJoin) throw new WeftError('WEFT_KERNEL', 'join failed (test)');
  }
  async leave(c: EndpointContext): Promise<void> {
    this.left.push(c.endpoint.id);
  }
}

const isEndpointRecord = (c: KvCommit): boolean => (c.puts ?? []).some((p) => p.key.startsWith('endpoints/'));

/** Nothing of the sandbox's endpoint is left: no record, no address, no index entry. */
async function assertNothingLeft(w: FakeWorld, netId: string): Promise<void> {
  assert.deepEqual(
    Object.keys(await dumpStore(w.globalStore!)).filter((k) => k.startsWith('endpoints/')),
    [],
    'no endpoint record',
  );
  assert.equal((await w.cluster!.allocations(netId)).size, 0, 'the address was given back');
  assert.deepEqual(
    Object.keys(await dumpStore(w.store)).filter((k) => k.startsWith('index/sandbox-endpoints/')),
    [],
    'no index entry',
  );
}

/**
 * A fake world with a global store and the recording driver, in which `body` runs; closed after
 * it even when it failed. Network `g` (grec, 10.41.0.0/24) is made first; its id is passed.
 */
async function inGlobalWorld(body: (w: FakeWorld, d: RecordingDriver, netId: string) => Promise<void>): Promise<void> {
  const d = new RecordingDriver();
  const w = await fakeWorld({ drivers: [d], globalStore: true });
  try {
    const net = await w.controller.createNetwork({ name: 'g', driver: 'grec', ipam: { config: [{ subnet: '10.41.0.0/24' }] } });
    await body(w, d, net.id);
  } finally {
    await w.close();
  }
}

describe('global connect: the record is committed alongside the join', () => {
  it('a failed record commit undoes the join and gives back the address and the index', () =>
    inGlobalWorld(async (w, d, netId) => {
      const g = w.globalStore!;
      const commit = g.commit.bind(g);
      g.commit = async (c) => (isEndpointRecord(c) ? false : commit(c));
      await assert.rejects(
        () => w.controller.createSandbox({ name: 's', networks: [{ network: 'g' }] }),
        (err) => err instanceof WeftError && err.code === 'WEFT_STORE_CONFLICT',
      );
      assert.equal(d.joined.length, 1, 'the join ran alongside the commit');
      assert.deepEqual(d.left, d.joined, 'and was undone');
      await assertNothingLeft(w, netId);
      g.commit = commit;
      await w.controller.createSandbox({ name: 's', networks: [{ network: 'g' }] });
      await w.controller.removeSandbox('s');
      await w.controller.removeNetwork('g');
      assert.deepEqual(Object.keys(await dumpStore(g)), [SUBNET_CLAIMS_KEY], 'a later create and removal leave nothing either');
    }));

  it('a failed join deletes the record only after its commit landed', () =>
    inGlobalWorld(async (w, d, netId) => {
      const g = w.globalStore!;
      const commit = g.commit.bind(g);
      // The record's commit lands well after the join failed.
      g.commit = async (c) => {
        if (isEndpointRecord(c)) await new Promise((r) => setTimeout(r, 50));
        return commit(c);
      };
      d.failJoin = true;
      await assert.rejects(
        () => w.controller.createSandbox({ name: 's', networks: [{ network: 'g' }] }),
        (err) => err instanceof WeftError && /join failed/.test(err.message),
      );
      await new Promise((r) => setTimeout(r, 100)); // a put still in flight would land now
      await assertNothingLeft(w, netId);
    }));

  it('the create reply is the view a read gives back', () =>
    inGlobalWorld(async (w) => {
      await w.controller.createNetwork({ name: 'l', driver: 'bridge', ipam: { config: [{ subnet: '10.42.0.0/24' }] } });
      const made = await w.controller.createSandboxView({ name: 's', networks: [{ network: 'l' }, { network: 'g' }] });
      assert.deepEqual(made, await w.controller.sandboxView('s'));
      assert.deepEqual(made.endpoints.map((e) => e.networkName).sort(), ['g', 'l']);
      await w.controller.removeSandbox('s');
    }));
});
