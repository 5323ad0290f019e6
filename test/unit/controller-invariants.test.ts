/**
 * doctor and reconcile run one invariant table: whatever drift doctor reports, a reconcile pass
 * repairs and doctor then finds nothing; what reconcile leaves alone, doctor does not report.
 * Driven on the fake kernel (no root): drift is made by editing the fake kernel or the store.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeWorld, type FakeWorld } from '../fakes/fake-world.js';
import type { NetlinkPort } from '../../src/kernel/kernel-port.js';
import { IFNAMES } from '../../src/drivers/ifnames.js';
import { WEFT_LINK_GROUP, ownerMark } from '../../src/drivers/link-ownership.js';

async function world(): Promise<{
  w: FakeWorld;
  host: NetlinkPort;
  sb: { id: string; netnsPath: string };
  ep: { hostIfname: string; ifname: string; ipv4: string };
}> {
  const w = await fakeWorld();
  await w.controller.createNetwork({ name: 'n1', ipam: { config: [{ subnet: '10.1.0.0/24' }] } });
  const made = await w.controller.createSandbox({ name: 's', networks: [{ network: 'n1' }] });
  const ep = made.endpoints[0]!;
  return { w, host: w.kernel.host(), sb: made.sandbox, ep: { hostIfname: ep.hostIfname!, ifname: ep.ifname, ipv4: ep.ipv4! } };
}

/** doctor sees `expect`, one reconcile pass repairs it, doctor is clean again. */
async function reportedAndRepaired(w: FakeWorld, expect: RegExp): Promise<void> {
  const first = await w.controller.doctor(false);
  assert.ok(
    first.violations.some((v) => expect.test(v)),
    `doctor reports ${expect}: ${JSON.stringify(first.violations)}`,
  );
  const r = await w.controller.resync(true);
  assert.deepEqual(r.errors, [], 'reconcile repaired without errors');
  assert.deepEqual((await w.controller.doctor(false)).violations, [], 'doctor is clean after the repair');
}

describe('one invariant table for doctor and reconcile (fake kernel)', () => {
  it('a healthy engine has no violations', async () => {
    const { w } = await world();
    try {
      const d = await w.controller.doctor(false);
      assert.deepEqual(d.violations, []);
      assert.equal(d.counts.endpoints, 1);
    } finally {
      await w.close();
    }
  });

  it('a deleted host veth: reported, re-created', async () => {
    const { w, host, ep } = await world();
    try {
      host.deleteLink(ep.hostIfname);
      await reportedAndRepaired(w, /host interface wfv[0-9a-f]{12} missing/);
      assert.ok(host.link(ep.hostIfname), 'the veth is back');
    } finally {
      await w.close();
    }
  });

  it('a bridge set down and an address deleted in the sandbox: reported, repaired', async () => {
    const { w, host, sb, ep } = await world();
    try {
      const br = host.link(IFNAMES.bridge.of((await w.controller.network('n1')).id))!;
      host.setLink(br.index, { up: false });
      const inner = await w.kernel.inNetns(sb.netnsPath);
      inner.deleteAddress(inner.link(ep.ifname)!.index, ep.ipv4);
      await reportedAndRepaired(w, /is down/);
    } finally {
      await w.close();
    }
  });

  it("leftover links weft made are reported and removed; look-alike names without weft's mark and foreign links are left alone", async () => {
    const { w, host } = await world();
    try {
      // weft's leftovers: marked (group), naming an endpoint that is gone, or not named yet and unwanted.
      const gone = host.createVeth({ name: 'wfv0123456789ab', peerName: 'wfvpeer0', linkGroup: WEFT_LINK_GROUP });
      host.setLink(gone.index, { alias: ownerMark('endpoint', 'c'.repeat(64)) });
      host.createBridge({ name: 'wf-0123456789ab', linkGroup: WEFT_LINK_GROUP });
      // Not weft's, whatever their names: no mark.
      host.createVeth({ name: 'wfv111111111111', peerName: 'other1' });
      host.createBridge({ name: 'wf-111111111111' });
      host.createVeth({ name: 'wf-ba9876543210', peerName: 'other0' });
      host.createBridge({ name: 'eth9' });
      await reportedAndRepaired(w, /link wfv0123456789ab was made by weft \(weft:endpoint:c{64}\) but nothing owns it/);
      assert.equal(host.link('wfv0123456789ab'), undefined);
      assert.equal(host.link('wf-0123456789ab'), undefined);
      for (const kept of ['wfv111111111111', 'wf-111111111111', 'wf-ba9876543210', 'eth9'])
        assert.ok(host.link(kept), `${kept} carries no mark of weft's: kept`);
    } finally {
      await w.close();
    }
  });

  it("a foreign link put where weft's bridge or veth was is reported, and the repairs leave it exactly as it is", async () => {
    const { w, host, ep } = await world();
    try {
      const net = await w.controller.network('n1');
      const brName = IFNAMES.bridge.of(net.id);
      // Someone else's bridge and veth now sit under the names weft's objects had.
      host.deleteLink(brName);
      host.deleteLink(ep.hostIfname);
      // (Named by their owner: an unmarked, unnamed link under weft's derived name would pass for
      // one an older weft made before it marked its links.)
      const theirs = host.createBridge({ name: brName, up: false, mac: '02:aa:bb:cc:dd:ee' });
      host.setLink(theirs.index, { alias: 'lab bridge' });
      const veth = host.createVeth({ name: ep.hostIfname, peerName: 'theirpeer0' });
      host.setLink(veth.index, { alias: 'lab veth' });
      const before = JSON.stringify(w.kernel.snapshot());
      const d = await w.controller.doctor(false);
      assert.ok(
        d.violations.some((v) => v === `network n1: ${brName} exists but is not weft's; weft will not touch it`),
        JSON.stringify(d.violations),
      );
      assert.ok(
        d.violations.some((v) => v.includes(`${ep.hostIfname} exists but is not weft's`)),
        JSON.stringify(d.violations),
      );
      const r = await w.controller.resync(true);
      assert.ok(r.errors.length > 0, 'reconcile says what it could not repair');
      await w.controller.doctor(true);
      assert.equal(JSON.stringify(w.kernel.snapshot()), before, 'reconcile and doctor --repair changed nothing of theirs');
      assert.equal(host.link(brName)?.index, theirs.index);
    } finally {
      await w.close();
    }
  });

  it('an allocation without an endpoint, and an endpoint without its allocation: reported, repaired', async () => {
    const { w, ep } = await world();
    try {
      const net = await w.controller.network('n1');
      const addr = ep.ipv4.split('/')[0]!;
      await w.store.commit({
        puts: [{ key: `ipam/${net.id}/4/a/10.1.0.77`, value: JSON.stringify('f'.repeat(64)) }],
        deletes: [`ipam/${net.id}/4/a/${addr}`],
      });
      const first = await w.controller.doctor(false);
      assert.ok(first.violations.some((v) => v.includes('10.1.0.77') && v.includes('has no endpoint')));
      assert.ok(first.violations.some((v) => v.includes(`address ${addr} has no allocation record`)));
      const fixed = await w.controller.doctor(true);
      assert.deepEqual(fixed.violations, []);
      assert.equal(fixed.repaired?.length, first.violations.length, 'every violation reported was repaired');
      assert.equal(
        (await w.controller.allocations('n1', 4)).get(addr),
        (await w.controller.endpointsOf((await w.controller.sandbox('s')).id))[0]!.id,
      );
    } finally {
      await w.close();
    }
  });

  it('a sandbox whose process died is reaped, and reported only once really removed', async () => {
    const w = await fakeWorld();
    try {
      await w.controller.createNetwork({ name: 'n1', ipam: { config: [{ subnet: '10.1.0.0/24' }] } });
      w.kernel.processes.set(4242, '777');
      await w.controller.createSandbox({ name: 'p', pid: 4242, networks: [{ network: 'n1' }] });
      w.kernel.processes.delete(4242);
      assert.ok((await w.controller.doctor(false)).violations.some((v) => v.includes('sandbox p: its process or namespace is gone')));
      // The removal fails once (a kernel fault): not reported as reaped, the failure is.
      w.kernel.faultAt = w.kernel.steps.length + 1;
      const r1 = await w.controller.resync(false);
      assert.deepEqual(r1.sandboxesReaped, []);
      assert.equal(r1.errors.length, 1, JSON.stringify(r1.errors));
      assert.ok(await w.controller.findSandbox('p'), 'kept, with what is left of it');
      const r2 = await w.controller.resync(false);
      assert.deepEqual(r2.sandboxesReaped, ['p']);
      assert.equal(await w.controller.findSandbox('p'), undefined);
      assert.deepEqual((await w.controller.doctor(false)).violations, []);
    } finally {
      await w.close();
    }
  });
});

describe('runtime-placed endpoints (Docker join) on the fake kernel', () => {
  it('join makes the pair in the host namespace; once moved it is adopted; leave and delete remove everything', async () => {
    const w = await fakeWorld();
    try {
      const net = await w.controller.createNetwork({ name: 'dk', ipam: { config: [{ subnet: '10.5.0.0/24' }] } });
      const id = 'a'.repeat(64);
      const chosen = await w.controller.runtime.createEndpoint({ networkId: net.id, endpointId: id });
      assert.match(chosen.address ?? '', /^10\.5\.0\.\d+\/24$/, 'weft picked an address when the runtime gave none');
      const key = '/var/run/docker/netns/c0ffee';
      const j = await w.controller.runtime.join(net.id, id, key);
      assert.equal(j.peerName, IFNAMES.runtimePeer.of(id));
      assert.equal(j.gateway, '10.5.0.1');
      const host = w.kernel.host();
      assert.ok(host.link(IFNAMES.runtimeHostVeth.of(id)), 'host end made');
      assert.deepEqual((await w.controller.doctor(false)).violations, [], 'a pending pair is not a leftover');
      // The runtime creates its namespace and moves the interface in, renamed.
      w.kernel.addExternalNetns(key);
      w.kernel.moveLink('host', j.peerName, key, 'eth0');
      const deadline = Date.now() + 5000;
      while (!(await w.controller.runtime.endpointInfo(id)).endpointId) {
        assert.ok(Date.now() < deadline, 'adopted within 5 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      const sb = (await w.controller.sandboxes()).find((s) => s.netnsPath === key)!;
      const ep = (await w.controller.endpointsOf(sb.id))[0]!;
      assert.equal(ep.placement, 'runtime');
      assert.equal(ep.ifname, 'eth0');
      assert.deepEqual((await w.controller.doctor(false)).violations, []);
      await w.controller.runtime.leave(id);
      await w.controller.runtime.deleteEndpoint(id);
      assert.equal(host.link(IFNAMES.runtimeHostVeth.of(id)), undefined, 'pair deleted');
      assert.equal(await w.controller.findSandbox(sb.id), undefined, 'the empty sandbox went with it');
      assert.equal((await w.controller.allocations('dk', 4)).size, 0, "weft's reservation released");
    } finally {
      await w.close();
    }
  });
});
