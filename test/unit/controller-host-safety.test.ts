/**
 * The host-safety rules through the controller, on the fake kernel (no root): links weft did
 * not make are refused and left exactly as they were (adopted bridges handed back unchanged),
 * the host's namespace is never attached, ports host programs hold are never published, and a
 * running command is stopped only when asked. The namespace suites (160–166) check the same on
 * the real kernel.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeWorld } from '../fakes/fake-world.js';
import { AlreadyAttachedError, ConflictError, InUseError, InvalidArgumentError } from '../../src/errors.js';
import { WEFT_ADDR_PROTO } from '../../src/drivers/link-ownership.js';

const SUBNET = { ipam: { config: [{ subnet: '10.7.0.0/24' }] } };

describe('host safety through the controller (fake kernel)', () => {
  it('a network naming an existing link as its bridge is refused, and the link is left exactly as it was', async () => {
    const w = await fakeWorld();
    try {
      const host = w.kernel.host();
      host.createVeth({ name: 'uplink', peerName: 'uplink-peer', up: true });
      const user = host.createBridge({ name: 'br-user', up: true });
      host.addAddress(user.index, '192.0.2.1/24');
      const before = JSON.stringify(w.kernel.snapshot());
      for (const name of ['uplink', 'br-user']) {
        await assert.rejects(
          w.controller.createNetwork({ name: `n-${name}`, options: { 'com.docker.network.bridge.name': name }, ...SUBNET }),
          (e: unknown) => e instanceof ConflictError && /not created by weft; weft will not modify or delete it/.test(e.message),
        );
      }
      assert.equal(JSON.stringify(w.kernel.snapshot()), before, 'rollback touched nothing it did not make');
      assert.equal(await w.controller.findNetwork('n-uplink'), undefined);
    } finally {
      await w.close();
    }
  });

  it("an adopted bridge gets only its gateway (marked as weft's) and is handed back unchanged on rm", async () => {
    const w = await fakeWorld();
    try {
      const host = w.kernel.host();
      const user = host.createBridge({ name: 'br-user', up: true, mac: '02:aa:00:00:00:01' });
      host.addAddress(user.index, '192.0.2.1/24');
      const before = JSON.stringify(w.kernel.snapshot());
      await w.controller.createNetwork({
        name: 'adopted',
        options: { 'com.docker.network.bridge.name': 'br-user', 'weft.bridge.adopt': 'true' },
        ...SUBNET,
      });
      const addrs = host.addresses(user.index).map((a) => `${a.cidr}${a.proto === undefined ? '' : ` proto ${a.proto}`}`);
      assert.deepEqual(addrs.sort(), ['10.7.0.1/24 proto ' + WEFT_ADDR_PROTO, '192.0.2.1/24']);
      assert.equal(host.link('br-user')?.mac, '02:aa:00:00:00:01', 'MAC unchanged');
      assert.deepEqual((await w.controller.doctor(false)).violations, []);
      await w.controller.removeNetwork('adopted');
      assert.equal(JSON.stringify(w.kernel.snapshot()), before, 'handed back as it was');
    } finally {
      await w.close();
    }
  });

  it("the host's own namespace is refused; a namespace attached twice is AlreadyAttachedError", async () => {
    const w = await fakeWorld();
    try {
      await w.controller.createNetwork({ name: 'n', ...SUBNET });
      // The host's namespace reached through another path, as /proc/1/ns/net is on a real host.
      w.kernel.namespaces.set('/proc/1/ns/net', w.kernel.namespaces.get('host')!);
      const before = JSON.stringify(w.kernel.snapshot());
      await assert.rejects(
        w.controller.createSandbox({ kind: 'external', netnsPath: '/proc/1/ns/net', networks: [{ network: 'n' }] }),
        (e: unknown) => e instanceof InvalidArgumentError && /the host's/.test(e.message),
      );
      assert.equal(JSON.stringify(w.kernel.snapshot()), before);
      w.kernel.addExternalNetns('/run/c1/ns');
      await w.controller.createSandbox({ kind: 'external', name: 'c1', netnsPath: '/run/c1/ns', networks: [{ network: 'n' }] });
      await assert.rejects(
        w.controller.createSandbox({ kind: 'external', name: 'c1-again', netnsPath: '/run/c1/ns' }),
        (e: unknown) => e instanceof AlreadyAttachedError && /already attached as sandbox "c1"/.test(e.message),
      );
    } finally {
      await w.close();
    }
  });

  it('a port a host program holds is refused naming the program; ranges and -P skip it', async () => {
    const w = await fakeWorld();
    try {
      await w.controller.createNetwork({ name: 'n', ...SUBNET });
      w.kernel.hostSocketList = [{ protocol: 'tcp', family: 6, address: '::', port: 9090, inode: 77 }];
      w.kernel.socketOwners.set(77, 'pid 42 (python3)');
      const before = JSON.stringify(w.kernel.snapshot());
      await assert.rejects(
        w.controller.createSandbox({ name: 'p', publish: ['127.0.0.1:9090:80'], networks: [{ network: 'n' }] }),
        (e: unknown) =>
          e instanceof ConflictError && /host port 127\.0\.0\.1:9090\/tcp is in use on the host by pid 42 \(python3\)/.test(e.message),
      );
      assert.equal(JSON.stringify(w.kernel.snapshot()), before, 'refused before anything was made');
      const { sandbox } = await w.controller.createSandbox({
        name: 'r',
        publish: ['9090-9091:80', '9090:81/udp'],
        networks: [{ network: 'n' }],
      });
      assert.deepEqual(
        sandbox.ports?.map((p) => `${p.hostPort}/${p.protocol}`),
        ['9091/tcp', '9090/udp'],
        'the held TCP port skipped; UDP on the same number is free',
      );
      assert.ok(
        (await w.controller.doctor(false)).violations.every((v) => !v.includes('held on the host')),
        'nothing weft published is held',
      );
      w.kernel.hostSocketList.push({ protocol: 'udp', family: 4, address: '0.0.0.0', port: 9090, inode: 78 });
      assert.ok(
        (await w.controller.doctor(false)).violations.includes(
          'sandbox r: published port 9090/udp is also held on the host (0.0.0.0:9090/udp)',
        ),
      );
    } finally {
      await w.close();
    }
  });

  it('rm refuses while the command weft run handed over runs; rm --force stops it first', async () => {
    const w = await fakeWorld();
    try {
      await w.controller.createNetwork({ name: 'n', ...SUBNET });
      await w.controller.createSandbox({ name: 'job', networks: [{ network: 'n' }] });
      w.kernel.processes.set(4300, '99');
      await w.controller.patchSandbox('job', { pid: 4300 });
      await assert.rejects(
        w.controller.removeSandbox('job'),
        (e: unknown) => e instanceof InUseError && /is running \(pid 4300\)/.test(e.message),
      );
      assert.ok(w.kernel.isAlive(4300), 'not signalled');
      await w.controller.removeSandbox('job', { force: true, graceS: 0 });
      assert.equal(w.kernel.isAlive(4300), false, 'stopped');
      assert.equal(await w.controller.findSandbox('job'), undefined);
    } finally {
      await w.close();
    }
  });
});
