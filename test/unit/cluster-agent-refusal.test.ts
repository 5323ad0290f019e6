/**
 * A weftd that started while its cluster store was away (EtcdClusterAgent.startOrWait) and,
 * when the store answers, finds its host id held by another live host: the same typed error as
 * a start refused for that reason, reported once ('refused'), no further attempts, and the
 * other host's registration untouched. On a fake store (no etcd, no timing: probes at 1 ms and
 * the test waits for events, bounded by the test timeout).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClusterAgent, type ClusterAgentOptions } from '../../src/cluster/cluster-agent.js';
import { clusterKeys } from '../../src/cluster/cluster-keys.js';
import { WeftError } from '../../src/errors.js';
import { FakeClusterStore } from '../fakes/fake-cluster-store.js';

const agentOn = (store: FakeClusterStore, token: string, address: string, o: Partial<ClusterAgentOptions> = {}) =>
  new EtcdClusterAgent(store, {
    identity: { id: 'dup', token: `${token}-0123456789abcdef` },
    name: 'dup',
    address,
    probeMs: 1,
    maxProbeMs: 2,
    ...o,
  });

/** Let timers and promises run until cond holds (the test's own timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}

const isHostIdConflict = (err: unknown): boolean => err instanceof WeftError && err.code === 'WEFT_CONFLICT' && err.field === 'host-id';

describe('cluster agent: a duplicate host id met when the store returns', { timeout: 10_000 }, () => {
  for (const [what, token, address] of [
    ['another host with the same id', 'other', '198.18.0.2'],
    ["a copy of this host's state directory elsewhere", 'mine', '198.18.0.2'],
  ] as const) {
    it(`${what}: refused once, as at a start, and the agent stops trying`, async () => {
      const store = new FakeClusterStore();
      const holder = agentOn(store, token, address);
      await holder.start();
      const aliveBefore = await store.mem.get(clusterKeys.alive('dup'));
      const recordBefore = await store.mem.get(clusterKeys.host('dup'));
      assert.ok(aliveBefore && recordBefore, 'the holder is registered');

      // What a normal start with the store reachable says.
      const atStart = await agentOn(store, 'mine', '198.18.0.3')
        .start()
        .then(
          () => assert.fail('a start with a duplicate id must be refused'),
          (err: unknown) => err,
        );
      assert.ok(isHostIdConflict(atStart), String(atStart));

      store.down = true;
      const logs: string[] = [];
      const me = agentOn(store, 'mine', '198.18.0.3', { log: (level, f, msg) => logs.push(`${level} ${msg} ${JSON.stringify(f)}`) });
      const refused: WeftError[] = [];
      me.on('refused', (err) => refused.push(err));
      assert.equal(await me.startOrWait(), 'waiting');
      store.down = false;
      await until(() => refused.length > 0);

      assert.ok(isHostIdConflict(refused[0]), String(refused[0]));
      assert.equal(refused[0]!.message, (atStart as Error).message, 'the same error as at a start');
      assert.equal(me.storeState(), 'refused');
      assert.equal(me.refusedWith(), refused[0]);
      // No further attempt: the store sees no request from it any more.
      const requests = store.requests;
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 2));
      assert.equal(store.requests, requests, 'no retries after the refusal');
      assert.equal(refused.length, 1, 'reported once');
      assert.deepEqual(
        logs.filter((l) => /recovery failed/.test(l)),
        [],
        'not logged as a failed recovery to retry',
      );
      // Cluster operations say why, at once.
      await assert.rejects(me.hosts(), isHostIdConflict);
      assert.throws(() => me.assertAvailable(), isHostIdConflict);
      // The holder's registration is exactly as it was.
      assert.deepEqual(await store.mem.get(clusterKeys.alive('dup')), aliveBefore);
      assert.deepEqual(await store.mem.get(clusterKeys.host('dup')), recordBefore);

      await me.stop();
      assert.deepEqual(await store.mem.get(clusterKeys.alive('dup')), aliveBefore, "stopping does not touch the holder's keys");
      await holder.stop();
    });
  }

  it('an outage is still waited out: the same host returning joins (no refusal)', async () => {
    const store = new FakeClusterStore();
    store.down = true;
    const me = agentOn(store, 'mine', '198.18.0.3');
    const refused: WeftError[] = [];
    me.on('refused', (err) => refused.push(err));
    let up = false;
    me.on('storeUp', () => (up = true));
    assert.equal(await me.startOrWait(), 'waiting');
    store.down = false;
    await until(() => up);
    assert.equal(me.storeState(), 'connected');
    assert.deepEqual(refused, []);
    const alive = await store.mem.get(clusterKeys.alive('dup'));
    assert.equal((JSON.parse(alive!.value) as { address: string }).address, '198.18.0.3');
    await me.stop();
  });
});
