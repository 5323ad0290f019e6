/**
 * VNIs are unique in the cluster: an overlay network claims `vni/<n>` in the cluster store
 * (etcd's /weft/v1/vni/<n>) create-only, in the transaction that writes its record; a given VNI
 * another network holds, or one out of range, is refused with a typed error and nothing is
 * written; an allocated VNI skips every claimed one (also claims without a record); network rm
 * frees it. Without a cluster store the refusal names --cluster-store. Real OverlayDriver and
 * controller, fake kernel, memory stores.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeWorld, dumpStore, type FakeWorld } from '../fakes/fake-world.js';
import { WeftError } from '../../src/errors.js';
import { OVERLAY_OPTIONS } from '../../src/drivers/overlay/overlay-options.js';
import { SUBNET_CLAIMS_KEY } from '../../src/controller/network-ops.js';

const VNI = OVERLAY_OPTIONS.vni;

async function world(): Promise<FakeWorld> {
  const w = await fakeWorld({
    globalStore: true,
    services: { cluster: { hostId: 'host-a', hostAddress: '198.18.0.1', publishHostData: () => Promise.resolve() } },
  });
  // The overlay derives its MTU from the interface holding the host's address.
  const rt = w.kernel.host();
  const ul = rt.createBridge({ name: 'ul0', mtu: 1500, up: true });
  rt.addAddress(ul.index, '198.18.0.1/24');
  return w;
}

const claims = async (w: FakeWorld): Promise<Record<string, string>> =>
  Object.fromEntries(Object.entries(await dumpStore(w.globalStore!)).filter(([k]) => k.startsWith('vni/')));

const code =
  (c: string, field: string, re: RegExp) =>
  (e: unknown): boolean =>
    e instanceof WeftError && e.code === c && e.field === field && re.test(e.message);

describe('overlay VNIs claimed in the cluster store', () => {
  it('a given VNI is claimed with the record, refused for a second network (nothing written), freed by rm', async () => {
    const w = await world();
    try {
      const a = await w.controller.createNetwork({
        name: 'a',
        driver: 'overlay',
        options: { [VNI]: '5000' },
        ipam: { config: [{ subnet: '10.60.0.0/24' }] },
      });
      assert.deepEqual(await claims(w), { 'vni/5000': JSON.stringify(a.id) });
      const before = await dumpStore(w.globalStore!);
      await assert.rejects(
        w.controller.createNetwork({
          name: 'b',
          driver: 'overlay',
          options: { [VNI]: '5000' },
          ipam: { config: [{ subnet: '10.61.0.0/24' }] },
        }),
        code('WEFT_INVALID_ARGUMENT', VNI, /VNI 5000 is already used/),
      );
      assert.deepEqual(await dumpStore(w.globalStore!), before, 'nothing written');
      await w.controller.removeNetwork('a');
      assert.deepEqual(await claims(w), {}, 'VNI released');
      const b = await w.controller.createNetwork({
        name: 'b',
        driver: 'overlay',
        options: { [VNI]: '5000' },
        ipam: { config: [{ subnet: '10.61.0.0/24' }] },
      });
      assert.equal(b.driverState.vni, '5000', 'and can be used again');
    } finally {
      await w.close();
    }
  });

  it('a claim held without a record here (another host, a race) refuses the same VNI with WEFT_CONFLICT and is skipped by allocation', async () => {
    const w = await world();
    try {
      await w.globalStore!.commit({ puts: [{ key: 'vni/4096', value: JSON.stringify('f'.repeat(64)) }] });
      const n = await w.controller.createNetwork({ name: 'auto', driver: 'overlay', ipam: { config: [{ subnet: '10.62.0.0/24' }] } });
      assert.equal(n.driverState.vni, '4097', 'allocation skipped the claimed 4096');
      assert.equal((await claims(w))['vni/4097'], JSON.stringify(n.id));
      // A claim made after validation listed the keys (another host won the race): the transaction fails, typed.
      const store = w.globalStore!;
      const list = store.list.bind(store);
      store.list = async (p: string) => (p === 'vni/' ? [] : list(p));
      try {
        await assert.rejects(
          w.controller.createNetwork({
            name: 'race',
            driver: 'overlay',
            options: { [VNI]: '4096' },
            ipam: { config: [{ subnet: '10.63.0.0/24' }] },
          }),
          code('WEFT_CONFLICT', VNI, /VNI 4096 is already used by another overlay network in the cluster \(held by network ffffffffffff\)/),
        );
      } finally {
        store.list = list;
      }
      assert.equal(await w.controller.findNetwork('race'), undefined, 'no record');
    } finally {
      await w.close();
    }
  });

  it('out of range or malformed VNIs, and an MTU over the underlay, are refused with nothing written', async () => {
    const w = await world();
    try {
      for (const [v, re] of [
        ['0', /out of range 1-16777215/],
        ['16777216', /out of range 1-16777215/],
        ['12,13', /expected one VNI/],
        ['x', /expected one VNI/],
      ] as const)
        await assert.rejects(
          w.controller.createNetwork({
            name: 'bad',
            driver: 'overlay',
            options: { [VNI]: v },
            ipam: { config: [{ subnet: '10.64.0.0/24' }] },
          }),
          code('WEFT_INVALID_ARGUMENT', VNI, re),
        );
      await assert.rejects(
        w.controller.createNetwork({
          name: 'big',
          driver: 'overlay',
          options: { 'com.docker.network.driver.mtu': '1460' },
          ipam: { config: [{ subnet: '10.64.0.0/24' }] },
        }),
        /larger than the underlay allows \(1500 - 50 = 1450\)/,
      );
      // The subnet-claims guard is a version counter, never deleted (network-ops.ts): a refused
      // create may have bumped it, and it holds nothing.
      const { [SUBNET_CLAIMS_KEY]: _guard, ...rest } = await dumpStore(w.globalStore!);
      assert.deepEqual(rest, {}, 'no record, no claim, no pool');
    } finally {
      await w.close();
    }
  });

  it('without a cluster store an overlay network is refused, naming --cluster-store', async () => {
    const w = await fakeWorld();
    try {
      await assert.rejects(
        w.controller.createNetwork({ name: 'o', driver: 'overlay', ipam: { config: [{ subnet: '10.65.0.0/24' }] } }),
        code(
          'WEFT_INVALID_ARGUMENT',
          'scope',
          /driver "overlay" makes global-scope networks, which need a cluster store: start weftd with --cluster-store/,
        ),
      );
      assert.equal(await w.controller.findNetwork('o'), undefined);
    } finally {
      await w.close();
    }
  });
});
