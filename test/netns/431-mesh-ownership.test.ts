/**
 * The mesh's own kernel devices on the real kernel, in a namespace this test makes: the fast
 * path's VXLAN device and the sleeve's TUN device carry weft's mark (IFLA_GROUP + alias), and
 * a link of their names that weft did not make — a bridge, or even a VXLAN device of the same
 * kind — is refused with a typed error and left exactly as it was (the fast path used to
 * delete a non-VXLAN link of its name and re-use an unmarked VXLAN one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Rtnl } from '../../src/kernel/netlink/rtnl.js';
import { TunDevice, configureTun } from '../../src/kernel/tun.js';
import { stopNetnsWorker } from '../../src/kernel/netns.js';
import { ensureVxlan } from '../../src/drivers/mesh/mesh-fastpath.js';
import { WEFT_LINK_GROUP, ownerMark } from '../../src/drivers/link-ownership.js';
import type { MeshService } from '../../src/drivers/driver-services.js';
import { WeftError } from '../../src/errors.js';

const ns = `ms-own-${randomBytes(3).toString('hex')}`;
const nsPath = `/run/netns/${ns}`;
const conflict = (err: unknown): boolean => err instanceof WeftError && err.code === 'WEFT_CONFLICT';

const mesh = {
  name: 'h1',
  underlay: '198.18.0.11',
  subnet: '10.32.0.0/12',
  gateway: '10.32.0.1',
  encrypted: false,
} as MeshService;

describe('mesh devices carry weft’s mark and leave foreign links alone', () => {
  let rt: Rtnl;
  before(async () => {
    execFileSync('ip', ['netns', 'add', ns]);
    rt = await Rtnl.open(nsPath);
  });
  after(async () => {
    rt?.close();
    await stopNetnsWorker();
    execFileSync('ip', ['netns', 'del', ns]);
  });

  it('creates the VXLAN device marked, re-uses it, and refuses foreign links of its name', () => {
    const mark = ownerMark('network', 'n1');
    const idx = ensureVxlan(rt, 'wmxa', mesh, 1450, mark);
    const dev = rt.link('wmxa')!;
    assert.equal(dev.kind, 'vxlan');
    assert.equal(dev.group, WEFT_LINK_GROUP, 'group set');
    assert.equal(dev.alias, mark, 'alias names the network');
    assert.equal(ensureVxlan(rt, 'wmxa', mesh, 1450, mark), idx, 're-used when it is ours');
    assert.throws(() => ensureVxlan(rt, 'wmxa', mesh, 1450, ownerMark('network', 'n2')), conflict, "another network's device is refused");

    const br = rt.createBridge({ name: 'wmxb', up: false });
    assert.throws(() => ensureVxlan(rt, 'wmxb', mesh, 1450, mark), conflict, 'a foreign bridge of the name is refused');
    const brAfter = rt.link('wmxb')!;
    assert.equal(brAfter.index, br.index, 'not deleted');
    assert.equal(brAfter.kind, 'bridge');
    assert.equal(brAfter.up, false, 'not changed');

    const foreign = rt.createVxlan({ name: 'wmxc', vni: 77, port: 6784, learning: false, up: false })!;
    const before = rt.link('wmxc')!;
    assert.throws(() => ensureVxlan(rt, 'wmxc', mesh, 1450, mark), conflict, 'an unmarked VXLAN device is refused too');
    const afterC = rt.link('wmxc')!;
    assert.equal(afterC.index, foreign.index);
    assert.equal(afterC.mac, before.mac, 'its MAC untouched');
    assert.equal(afterC.up, false, 'its state untouched');
    assert.equal(afterC.group ?? 0, 0, 'not marked');
  });

  it('opens the sleeve TUN only under a free name and marks it', async () => {
    rt.createBridge({ name: 'wmesh0', up: false });
    await assert.rejects(TunDevice.open('wmesh0', { netnsPath: nsPath, fresh: true }), conflict);
    assert.equal(rt.link('wmesh0')?.kind, 'bridge', 'the foreign link stays');
    rt.deleteLink('wmesh0');
    const tun = await TunDevice.open('wmesh0', { netnsPath: nsPath, fresh: true });
    try {
      await configureTun('wmesh0', {
        cidr: '10.32.0.2/12',
        mtu: 1420,
        netnsPath: nsPath,
        linkGroup: WEFT_LINK_GROUP,
        alias: 'weft:mesh:h1',
      });
      const l = rt.link('wmesh0')!;
      assert.equal(l.group, WEFT_LINK_GROUP);
      assert.equal(l.alias, 'weft:mesh:h1');
    } finally {
      await tun.close();
    }
  });
});
