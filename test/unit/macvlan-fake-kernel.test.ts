/**
 * The macvlan and ipvlan drivers driven through the controller on the fake kernel (no root):
 * a fault at each kernel step of network create, connect (with the host shim and the LAN probe)
 * and Docker's Join leaves the kernel and the store as before; the kernel's refusals (a second
 * passthru child, ipvlan missing) and a LAN device holding an address leave nothing behind;
 * doctor and reconcile agree on macvlan's invariants. The real-kernel behaviour is in
 * test/netns/400-macvlan-lan and 410-macvlan-surfaces.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeWorld, type FakeWorld } from '../fakes/fake-world.js';
import { faultAtEachStep as faultAt, stateOf, type Op, type Setup } from './fault-steps.js';
import { IFNAMES } from '../../src/drivers/ifnames.js';
import { AddressInUseError, ConflictError, InvalidArgumentError, KernelUnsupportedError } from '../../src/errors.js';

/** The host's NIC on the LAN: what `-o parent=eth1` names (weft never creates or changes it). */
function plugNic(w: FakeWorld, name = 'eth1'): void {
  w.kernel.host().createBridge({ name, mac: '02:00:00:00:00:e1', up: true });
}

/**
 * A fault at the very step that deletes the ARP probe link (after a probe) leaves that link:
 * the connect fails, and the link is a leftover with weft's name and no record. That is what
 * macvlan.no-orphans is for: doctor must name it, and one reconcile pass must remove it.
 */
async function sweepLeftProbe(w: FakeWorld): Promise<void> {
  const left = w.kernel
    .host()
    .links()
    .filter((l) => IFNAMES.lanProbe.pattern.test(l.name));
  if (left.length === 0) return;
  const d = (await w.controller.doctor(false)).violations;
  assert.deepEqual(
    d,
    left.map((l) => `link ${l.name} looks like weft's but has no record`),
    'doctor names the leftover probe link, and nothing else',
  );
  assert.deepEqual((await w.controller.resync(true)).errors, []);
}

/** A fault at each kernel step of op leaves nothing changed, once a probe link a fault left is swept. */
const faultAtEachStep = (setup: Setup, op: Op): Promise<number> => faultAt(setup, op, sweepLeftProbe);

const lan = (name: string, options: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  name,
  driver: 'macvlan',
  options: { parent: 'eth1', ...options },
  ipam: { config: [{ subnet: '198.18.40.0/24', gateway: '198.18.40.1', ipRange: '198.18.40.64/27' }] },
  ...extra,
});

const withNic: Setup = async (_c, w) => plugNic(w);
const withLan: Setup = async (c, w) => {
  plugNic(w);
  await c.createNetwork(lan('lan', { 'weft.macvlan.host_shim': 'true', 'weft.macvlan.probe': 'true' }));
  await c.createSandbox({ name: 's', networks: [] });
};

describe('macvlan rollback on the fake kernel: a fault at each step leaves nothing behind', () => {
  it('network create with the host shim', async () => {
    const n = await faultAtEachStep(withNic, (c) => c.createNetwork(lan('lan', { 'weft.macvlan.host_shim': 'true' })));
    assert.ok(n >= 6, `${n} steps (parent, shim, alias, sysctls, address, up)`);
  });

  it('network create without a parent (a private parent weft makes)', async () => {
    await faultAtEachStep(withNic, (c) => c.createNetwork({ ...lan('iso', {}), options: {}, internal: true }));
  });

  it('connect with the LAN probe and the host shim (probe link, child in the sandbox, shim route)', async () => {
    const n = await faultAtEachStep(withLan, (c) => c.connect('lan', { sandbox: 's' }));
    assert.ok(n >= 8, `${n} steps`);
  });

  it("Docker's Join: the child waiting in the host namespace", async () => {
    const epId = 'e'.repeat(64);
    await faultAtEachStep(
      async (c, w) => {
        await withLan(c, w);
        await c.runtime.createEndpoint({ networkId: (await c.network('lan')).id, endpointId: epId });
      },
      async (c) => c.runtime.join((await c.network('lan')).id, epId, '/run/docker/netns/abc'),
    );
  });
});

describe('macvlan on the fake kernel: what the kernel and the LAN refuse', () => {
  it('connect, disconnect, network rm: the child lives in the sandbox only, and everything goes', async () => {
    const w = await fakeWorld();
    try {
      await withLan(w.controller, w);
      const before = await stateOf(w);
      const ep = await w.controller.connect('lan', { sandbox: 's' });
      assert.equal(ep.ipv4, '198.18.40.64/24');
      const sb = await w.controller.sandbox('s');
      const child = (await w.kernel.inNetns(sb.netnsPath)).link(ep.ifname)!;
      assert.equal(child.kind, 'macvlan');
      assert.equal(child.macvlanMode, 'bridge');
      assert.equal(child.mac, ep.macAddress);
      assert.equal(w.kernel.host().link(ep.ifname), undefined, 'nothing in the host namespace but the shim');
      const shim = IFNAMES.macvlanShim.of((await w.controller.network('lan')).id);
      assert.ok(
        w.kernel
          .host()
          .routes(4, 254)
          .some((r) => r.dst === '198.18.40.64/32' && r.oif === w.kernel.host().link(shim)!.index),
      );
      await w.controller.disconnect('lan', { sandbox: 's' });
      assert.deepEqual(await stateOf(w), before);
      await w.controller.removeNetwork('lan');
      assert.deepEqual(
        w.kernel
          .host()
          .links()
          .map((l) => l.name)
          .sort(),
        ['eth1', 'lo', 'weft0'],
        'the shim went with the network; the parent (and the default bridge) stay',
      );
    } finally {
      await w.close();
    }
  });

  it('an address a LAN device holds: skipped when dynamic, refused when asked for', async () => {
    const w = await fakeWorld();
    try {
      await withLan(w.controller, w);
      w.kernel.lanHolders.set('198.18.40.64', '02:00:00:00:00:99');
      const ep = await w.controller.connect('lan', { sandbox: 's' });
      assert.equal(ep.ipv4, '198.18.40.65/24', 'the held address was skipped');
      await w.controller.createSandbox({ name: 't', networks: [] });
      const before = await stateOf(w);
      await assert.rejects(
        () => w.controller.connect('lan', { sandbox: 't', ipv4: '198.18.40.64' }),
        (err) => err instanceof AddressInUseError && /held on the LAN by 02:00:00:00:00:99/.test(err.message),
      );
      assert.deepEqual(await stateOf(w), before, 'nothing claimed, no probe link left');
    } finally {
      await w.close();
    }
  });

  it('passthru: one child with the parent MAC; a second is refused and leaves nothing', async () => {
    const w = await fakeWorld();
    try {
      plugNic(w);
      await w.controller.createNetwork(lan('pt', { macvlan_mode: 'passthru' }));
      await w.controller.createSandbox({ name: 'p1', networks: [] });
      await w.controller.createSandbox({ name: 'p2', networks: [] });
      const ep = await w.controller.connect('pt', { sandbox: 'p1' });
      assert.equal(ep.macAddress, '02:00:00:00:00:e1', "the endpoint record shows the parent's MAC");
      const before = await stateOf(w);
      await assert.rejects(
        () => w.controller.connect('pt', { sandbox: 'p2' }),
        (err) => err instanceof ConflictError && /takes one child only/.test(err.message),
      );
      assert.deepEqual(await stateOf(w), before);
      await assert.rejects(
        () =>
          w.controller.createNetwork(
            { ...lan('dpt', { macvlan_mode: 'passthru', parent: 'eth2' }), ipam: { config: [{ subnet: '198.18.41.0/24' }] } },
            { id: 'd'.repeat(64), runtimePlaced: true },
          ),
        (err) => err instanceof InvalidArgumentError && /passthru/.test(err.message),
        'Docker cannot have a passthru network',
      );
    } finally {
      await w.close();
    }
  });

  it('ipvlan: refused naming the missing kernel feature, nothing created; works where the kernel has it', async () => {
    const w = await fakeWorld();
    try {
      plugNic(w);
      const before = await stateOf(w);
      const body = { ...lan('iv', {}), driver: 'ipvlan' };
      await assert.rejects(() => w.controller.createNetwork(body), KernelUnsupportedError);
      assert.deepEqual(await stateOf(w), before);
      await assert.rejects(
        () => w.controller.createNetwork(body, { id: 'f'.repeat(64), runtimePlaced: true }),
        /cannot be placed by a container runtime/,
      );
      w.kernel.lacking.delete('ipvlan');
      await w.controller.createNetwork(body);
      await w.controller.createSandbox({ name: 'i', networks: [] });
      const ep = await w.controller.connect('iv', { sandbox: 'i' });
      assert.equal(ep.macAddress, '02:00:00:00:00:e1', 'every ipvlan child has the parent MAC');
      assert.equal((await w.kernel.inNetns((await w.controller.sandbox('i')).netnsPath)).link(ep.ifname)?.kind, 'ipvlan');
      assert.deepEqual((await w.controller.doctor(false)).violations, []);
    } finally {
      await w.close();
    }
  });
});

describe('macvlan invariants on the fake kernel: doctor reports, reconcile repairs', () => {
  async function reportedAndRepaired(w: FakeWorld, expect: RegExp[]): Promise<void> {
    const first = (await w.controller.doctor(false)).violations;
    for (const e of expect)
      assert.ok(
        first.some((v) => e.test(v)),
        `doctor reports ${e}: ${JSON.stringify(first)}`,
      );
    const r = await w.controller.resync(true);
    assert.deepEqual(r.errors, [], 'reconcile repaired without errors');
    assert.deepEqual((await w.controller.doctor(false)).violations, [], 'doctor is clean after the repair');
  }

  it('a deleted child, shim and shim route are re-made; leftover weft-named links are swept', async () => {
    const w = await fakeWorld();
    try {
      await withLan(w.controller, w);
      const ep = await w.controller.connect('lan', { sandbox: 's' });
      const sb = await w.controller.sandbox('s');
      const id = (await w.controller.network('lan')).id;
      const host = w.kernel.host();
      (await w.kernel.inNetns(sb.netnsPath)).deleteLink(ep.ifname);
      host.deleteLink(IFNAMES.macvlanShim.of(id));
      const eth1 = host.link('eth1')!.index;
      for (const name of [
        IFNAMES.lanProbe.of('0123456789ab'),
        IFNAMES.macvlanRuntimeChild.of('ab'.repeat(32)),
        IFNAMES.macvlanShim.of('cd'.repeat(32)),
      ])
        host.createMacvlan({ name, parent: eth1 });
      host.createBridge({ name: IFNAMES.macvlanParent.of('ef'.repeat(32)) });
      host.createMacvlan({ name: 'mv-user', parent: eth1 }); // not weft's name: never touched
      await reportedAndRepaired(w, [
        /eth0 missing in sandbox/,
        /host shim wfs[0-9a-f]{12} is missing/,
        /link wfp0123456789ab looks like weft's/,
      ]);
      assert.equal((await w.kernel.inNetns(sb.netnsPath)).link(ep.ifname)?.mac, ep.macAddress, 'the child is back with its MAC');
      assert.deepEqual(
        host
          .links()
          .map((l) => l.name)
          .sort(),
        ['eth1', 'lo', 'mv-user', 'weft0', IFNAMES.macvlanShim.of(id)].sort(),
      );
    } finally {
      await w.close();
    }
  });

  it('a given parent that went down is reported and left to the operator', async () => {
    const w = await fakeWorld();
    try {
      await withLan(w.controller, w);
      const host = w.kernel.host();
      host.setLink(host.link('eth1')!.index, { up: false });
      assert.ok((await w.controller.doctor(false)).violations.includes('network lan: parent interface eth1 is down'));
      const r = await w.controller.resync(true);
      assert.match(r.errors.join(), /eth1 is down; weft does not change interfaces it does not own/);
      assert.equal(host.link('eth1')!.up, false, 'weft did not bring it up');
    } finally {
      await w.close();
    }
  });
});
