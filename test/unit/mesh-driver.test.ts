/**
 * The mesh driver on the fake kernel, with a stand-in for weftd's mesh router: addresses come
 * from the mesh (not weft's IPAM), the gateway is the mesh's, names are published and
 * withdrawn, a subnet other than the mesh range is refused with nothing left behind, a weftd
 * without --mesh refuses plainly, and doctor agrees with what join made.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeWorld } from '../fakes/fake-world.js';
import type { MeshService } from '../../src/drivers/driver-services.js';
import { WeftError } from '../../src/errors.js';
import { IFNAMES } from '../../src/drivers/ifnames.js';
import { meshFromFlags } from '../../src/config/mesh-config.js';
import { WEFT_LINK_GROUP } from '../../src/drivers/link-ownership.js';

/** A mesh of one: hands out 10.32.0.2, .3 … and records what the driver told it. */
function fakeMesh(): MeshService & { held: Map<string, string>; names: Map<string, string[]> } {
  let next = 2;
  const held = new Map<string, string>();
  const names = new Map<string, string[]>();
  return {
    subnet: '10.32.0.0/12',
    gateway: '10.32.0.1',
    encrypted: true, // no fast path: the fake kernel models no VXLAN
    name: 'h1',
    underlay: '198.18.0.11',
    held,
    names,
    async allocate(id) {
      const a = held.get(id) ?? `10.32.0.${next++}`;
      held.set(id, a);
      return a;
    },
    claim(id, addr) {
      held.set(id, addr);
    },
    release(id) {
      held.delete(id);
    },
    registerName(id, n) {
      names.set(id, n);
    },
    unregisterName(id) {
      names.delete(id);
    },
    fastPath: () => ({ fdb: [], neighbours: [], routes: [], sleeve: [] }),
    onChange: () => () => undefined,
  };
}

const code = (c: string) => (err: unknown) => err instanceof WeftError && err.code === c;

describe('mesh driver', () => {
  it('takes addresses and the gateway from the mesh, publishes names, and gives both back', async () => {
    const mesh = fakeMesh();
    const w = await fakeWorld({ services: { mesh } });
    try {
      const net = await w.controller.createNetwork({ name: 'm', driver: 'mesh', ipam: { config: [{ subnet: '10.32.0.0/12' }] } });
      assert.equal(net.driverState.mtu, '1420');
      const br = w.kernel.host().link(IFNAMES.meshBridge.of(net.id));
      assert.ok(br, 'bridge made');
      assert.deepEqual(
        w.kernel
          .host()
          .addresses(br.index, 4)
          .map((a) => a.cidr),
        ['10.32.0.1/32'],
      );
      const { sandbox, endpoints } = await w.controller.createSandbox({ name: 'web', networks: [{ network: 'm', aliases: ['www'] }] });
      const ep = endpoints[0]!;
      assert.equal(ep.ipv4, '10.32.0.2/12');
      assert.equal(ep.gateway4, '10.32.0.1');
      assert.equal(mesh.held.get(`ep:${ep.id}`), '10.32.0.2');
      assert.deepEqual(mesh.names.get(`ep:${ep.id}`), ['web', 'www']);
      assert.ok(
        w.kernel
          .host()
          .routes(4, 254)
          .some((r) => r.dst === '10.32.0.2/32' && r.oif === br.index),
        'host route to the bridge',
      );
      const doc = await w.controller.doctor(false);
      assert.deepEqual(doc.violations, [], 'doctor agrees with what join made');
      assert.equal(doc.ok, true);
      await w.controller.removeSandbox(sandbox.id);
      assert.equal(mesh.held.size, 0, 'address given back to the ring');
      assert.equal(mesh.names.size, 0, 'names withdrawn');
    } finally {
      await w.close();
    }
  });

  it("marks every link it makes and never changes or deletes a link without weft's mark", async () => {
    const w = await fakeWorld({ services: { mesh: fakeMesh() } });
    try {
      const rt = w.kernel.host();
      const net = await w.controller.createNetwork({ name: 'm', driver: 'mesh', ipam: { config: [{ subnet: '10.32.0.0/12' }] } });
      const brName = IFNAMES.meshBridge.of(net.id);
      const br = rt.link(brName)!;
      assert.equal(br.group, WEFT_LINK_GROUP, 'bridge carries the group');
      assert.equal(br.alias, `weft:network:${net.id}`, 'bridge names its network');
      const { sandbox, endpoints } = await w.controller.createSandbox({ name: 'a', networks: [{ network: 'm' }] });
      const hostIf = endpoints[0]!.hostIfname ?? IFNAMES.hostVeth.of(endpoints[0]!.id);
      const veth = rt.link(hostIf)!;
      assert.equal(veth.group, WEFT_LINK_GROUP, 'host veth carries the group');
      assert.equal(veth.alias, `weft:endpoint:${endpoints[0]!.id}`, 'host veth names its endpoint');
      await w.controller.removeSandbox(sandbox.id);
      assert.equal(rt.link(hostIf), undefined, 'its own veth removed');

      // Someone else's bridge takes the mesh bridge's name: weft refuses to use it, repairs
      // nothing onto it and, removing the network, leaves it exactly as it was.
      rt.deleteLink(br.index);
      const foreign = rt.createBridge({ name: brName, up: false });
      await assert.rejects(w.controller.createSandbox({ name: 'b', networks: [{ network: 'm' }] }), code('WEFT_CONFLICT'));
      await w.controller.doctor(true);
      const after = rt.link(brName)!;
      assert.equal(after.index, foreign.index, 'the foreign bridge is still the same link');
      assert.equal(after.up, false, 'not brought up');
      assert.equal(after.group ?? 0, 0, 'not marked');
      assert.deepEqual(rt.addresses(after.index, 4), [], 'no gateway added');
      await w.controller.removeNetwork(net.id);
      assert.equal(rt.link(brName)?.index, foreign.index, 'network removal left the foreign bridge');

      // An unmarked link with a mesh device's name and no network is not an orphan to reap.
      const stray = rt.createBridge({ name: IFNAMES.meshVxlan.of('0123456789abcdef'), up: false });
      await w.controller.doctor(true);
      assert.equal(rt.link(stray.name)?.index, stray.index, 'doctor --repair left the unmarked look-alike');
    } finally {
      await w.close();
    }
  });

  it('refuses a subnet other than the mesh range, a second mesh network, static addresses, and a weftd without --mesh', async () => {
    const w = await fakeWorld({ services: { mesh: fakeMesh() } });
    try {
      await assert.rejects(
        w.controller.createNetwork({ name: 'x', driver: 'mesh', ipam: { config: [{ subnet: '10.50.0.0/16' }] } }),
        code('WEFT_INVALID_ARGUMENT'),
      );
      assert.equal((await w.controller.networks()).filter((n) => n.driver === 'mesh').length, 0, 'nothing left behind');
      await w.controller.createNetwork({ name: 'm', driver: 'mesh', ipam: { config: [{ subnet: '10.32.0.0/12' }] } });
      await assert.rejects(
        w.controller.createNetwork({ name: 'm2', driver: 'mesh', ipam: { config: [{ subnet: '10.48.0.0/12' }] } }),
        code('WEFT_CONFLICT'),
      );
      await assert.rejects(
        w.controller.createSandbox({ name: 's', networks: [{ network: 'm', ipv4: '10.32.0.9' }] }),
        code('WEFT_INVALID_ARGUMENT'),
      );
    } finally {
      await w.close();
    }
    const bare = await fakeWorld();
    try {
      await assert.rejects(
        bare.controller.createNetwork({ name: 'm', driver: 'mesh', ipam: { config: [{ subnet: '10.32.0.0/12' }] } }),
        (err: unknown) => err instanceof WeftError && err.code === 'WEFT_INVALID_ARGUMENT' && /--mesh/.test(err.message),
      );
    } finally {
      await bare.close();
    }
  });
});

describe('weftd mesh flags', () => {
  it('are off without any --mesh flag and on with any', () => {
    assert.equal(meshFromFlags({}, 'host-a'), undefined);
    const c = meshFromFlags({ meshPeer: ['198.18.0.12', '198.18.0.13:7000,198.18.0.14'] }, 'host-a')!;
    assert.equal(c.name, 'host-a');
    assert.equal(c.port, 6783);
    assert.deepEqual(c.peers, ['198.18.0.12:6783', '198.18.0.13:7000', '198.18.0.14:6783']);
    assert.deepEqual(c.ipalloc, { init: 'join' });
    assert.equal(c.range, '10.32.0.0/12');
    assert.deepEqual(meshFromFlags({ mesh: true }, 'a')!.ipalloc, { init: 'claim' });
    assert.deepEqual(meshFromFlags({ meshIpallocInit: 'seed=h1,h2' }, 'a')!.ipalloc, { init: 'seed', peers: ['h1', 'h2'] });
  });

  it('refuse bad values naming the flag', () => {
    const field = (f: string) => (err: unknown) => err instanceof WeftError && err.field === f;
    assert.throws(() => meshFromFlags({ meshPort: '70000' }, 'a'), field('mesh-port'));
    assert.throws(() => meshFromFlags({ meshPeer: ['not-an-ip'] }, 'a'), field('mesh-peer'));
    assert.throws(() => meshFromFlags({ meshRange: '10.32.0.1/12' }, 'a'), field('mesh-range'));
    assert.throws(() => meshFromFlags({ meshRange: 'fd00::/64' }, 'a'), field('mesh-range'));
    assert.throws(() => meshFromFlags({ meshIpallocInit: 'everyone' }, 'a'), field('mesh-ipalloc-init'));
    assert.throws(() => meshFromFlags({ meshName: 'Bad Name' }, 'a'), field('name'));
  });
});
