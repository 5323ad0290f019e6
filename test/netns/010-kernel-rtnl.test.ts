/**
 * The kernel boundary on the real kernel: rtnetlink handles opened into namespaces this test
 * makes (a fake host from `ip netns add`, sandboxes from createNetns), real TCP through a
 * bridge, events, sysctls, and the cost of one endpoint attach. The test process itself stays
 * in the root namespace and checks that nothing was created there.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { ConflictError, InvalidArgumentError, KernelError, NotFoundError } from '../../src/errors.js';
import { Rtnl, type RtnlSubscription } from '../../src/kernel/netlink/rtnl.js';
import { NTF, NUD } from '../../src/kernel/netlink/constants.js';
import type { RtnlEvent } from '../../src/kernel/netlink/types.js';
import { createNetns, currentNetnsInode, deleteNetns, netnsInode, openNetnsFd, stopNetnsWorker } from '../../src/kernel/netns.js';
import { readSysctlIn, writeSysctlIn } from '../../src/kernel/sysctl.js';
import { isAlive, processStartTime } from '../../src/kernel/proc.js';
import { libc } from '../../src/kernel/libc.js';

const run = promisify(execFile);
const tag = randomBytes(3).toString('hex');
const hostName = `weft-kernel-${tag}`;
const hostPath = `/run/netns/${hostName}`;
const dir = mkdtempSync('/tmp/weft-kernel-test-');
const sbA = `${dir}/a`;
const sbB = `${dir}/b`;
const sbBench = `${dir}/bench`;

const mounted = (p: string): boolean =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === p);
const rootLinks = (): string[] =>
  Rtnl.current()
    .links()
    .map((l) => `${l.index}:${l.name}`)
    .sort();

/** Run node inside a namespace (nsenter --net), bounded. */
const nodeIn = (ns: string, code: string, args: string[] = []) =>
  run('nsenter', [`--net=${ns}`, process.execPath, '-e', code, ...args], { timeout: 8000 });

async function waitUntil<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('kernel: rtnetlink and network namespaces', () => {
  const rootBefore = rootLinks();
  const rootForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  let host: Rtnl;
  let inA: Rtnl;
  let inB: Rtnl;
  let fdA = -1;
  let fdB = -1;
  const children: ChildProcess[] = [];
  const subs: RtnlSubscription[] = [];

  before(async () => {
    await run('ip', ['netns', 'add', hostName], { timeout: 5000 });
    host = await Rtnl.open(hostPath);
    await createNetns(sbA);
    await createNetns(sbB);
    inA = await Rtnl.open(sbA);
    inB = await Rtnl.open(sbB);
    fdA = openNetnsFd(sbA);
    fdB = openNetnsFd(sbB);
  });

  after(async () => {
    for (const s of subs) s.close();
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const r of [host, inA, inB]) r?.close();
    for (const fd of [fdA, fdB]) if (fd >= 0) libc().close(fd);
    // Cleanup of namespaces a test may already have deleted (or never made, if it failed early).
    // eslint-disable-next-line no-restricted-syntax -- best-effort cleanup; a failure here is not the test's result
    for (const p of [sbA, sbB, sbBench, `${dir}/cycle`]) await deleteNetns(p).catch(() => undefined);
    // eslint-disable-next-line no-restricted-syntax -- best-effort cleanup, as above
    await run('ip', ['netns', 'del', hostName], { timeout: 5000 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await stopNetnsWorker();
  });

  it('acts in the namespaces it was given, not the root one', () => {
    assert.notEqual(netnsInode(hostPath), currentNetnsInode(), 'the fake host is another namespace');
    assert.notEqual(netnsInode(sbA), netnsInode(sbB));
    assert.deepEqual(
      host.links().map((l) => l.name),
      ['lo'],
    );
    const lo = inA.link('lo');
    assert.ok(lo?.up, 'createNetns brought lo up');
    assert.equal(inA.link('lo')?.index, 1);
  });

  it('createNetns/deleteNetns: bind mount appears and goes, twice-delete is fine, no overwrite', async () => {
    const p = `${dir}/cycle`;
    await createNetns(p);
    assert.ok(mounted(p), 'bind-mounted');
    assert.ok(netnsInode(p));
    await assert.rejects(createNetns(p), ConflictError);
    await deleteNetns(p);
    assert.equal(mounted(p), false, 'no mount left behind');
    assert.equal(existsSync(p), false, 'mount point removed');
    assert.equal(netnsInode(p), undefined);
    await deleteNetns(p); // missing = success
  });

  it('openNetnsFd refuses plain files, other namespace types and missing paths', () => {
    const plain = `${dir}/plain`;
    writeFileSync(plain, '');
    assert.throws(
      () => openNetnsFd(plain),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'netns',
    );
    assert.throws(() => openNetnsFd('/proc/self/ns/mnt'), /not a network namespace/);
    assert.throws(() => openNetnsFd(`${dir}/nope`), NotFoundError);
    assert.throws(() => openNetnsFd('relative/path'), InvalidArgumentError);
  });

  let brIndex = 0;
  it('creates a bridge that is up, with v4 and v6 gateway addresses', () => {
    const br = host.createBridge({ name: 'wfbr0', mtu: 1450, mac: '02:00:00:00:01:01', up: true });
    brIndex = br.index;
    assert.equal(br.kind, 'bridge');
    assert.equal(br.up, true);
    assert.equal(br.mtu, 1450);
    assert.equal(br.mac, '02:00:00:00:01:01');
    host.addAddress(br.index, '10.77.0.1/24');
    host.addAddress(br.index, 'fd77::1/64', { nodad: true });
    const cidrs = host.addresses(br.index).map((a) => a.cidr);
    assert.ok(cidrs.includes('10.77.0.1/24') && cidrs.includes('fd77::1/64'), cidrs.join(','));
    assert.deepEqual(
      host.addresses(br.index, 4).map((a) => a.cidr),
      ['10.77.0.1/24'],
    );
    assert.equal(host.link('wfbr0')?.index, br.index);
    assert.equal(host.link(br.index)?.name, 'wfbr0');
  });

  it('maps kernel errors: EEXIST names the operation and namespace; replace is accepted', () => {
    assert.throws(
      () => host.createBridge({ name: 'wfbr0' }),
      (e: unknown) =>
        e instanceof KernelError && e.errno === 17 && e.message === `link add bridge wfbr0 in netns ${hostPath}: File exists (EEXIST)`,
    );
    assert.throws(
      () => host.addAddress(brIndex, '10.77.0.1/24'),
      (e: unknown) => e instanceof KernelError && e.errno === 17,
    );
    host.addAddress(brIndex, '10.77.0.1/24', { replace: true });
    assert.throws(() => host.createBridge({ name: 'x/y' }), InvalidArgumentError);
  });

  it('attaches veths: peer born in the sandbox with its name and MAC, local end enslaved and up', () => {
    for (const [fd, inner, hostIf, mac, ip4, ip6] of [
      [fdA, inA, 'wfvA', '02:00:00:00:00:0a', '10.77.0.10/24', 'fd77::10/64'],
      [fdB, inB, 'wfvB', '02:00:00:00:00:0b', '10.77.0.11/24', 'fd77::11/64'],
    ] as const) {
      const l = host.createVeth({ name: hostIf, peerName: 'eth0', peerNetnsFd: fd, peerMac: mac, master: brIndex, up: true, mtu: 1450 });
      assert.equal(l.kind, 'veth');
      assert.equal(l.master, brIndex);
      assert.equal(l.up, true);
      assert.equal(host.link('eth0'), undefined, 'the peer never lived in the host namespace');
      const eth0 = inner.link('eth0');
      assert.ok(eth0, 'peer exists in the sandbox');
      assert.equal(eth0.mac, mac);
      assert.equal(eth0.mtu, 1450);
      assert.equal(eth0.kind, 'veth');
      inner.addAddress(eth0.index, ip4);
      inner.addAddress(eth0.index, ip6, { nodad: true });
      inner.setLink(eth0.index, { up: true });
      inner.addRoute({ dst: '0.0.0.0/0', gateway: '10.77.0.1', oif: eth0.index });
      inner.addRoute({ dst: '::/0', gateway: 'fd77::1', oif: eth0.index }, { replace: true });
      const def4 = inner.routes(4, 254).find((r) => r.dst === '0.0.0.0/0');
      assert.equal(def4?.gateway, '10.77.0.1');
      assert.equal(inner.routes(6).find((r) => r.dst === '::/0')?.gateway, 'fd77::1');
      assert.ok(inner.addresses(eth0.index, 6).some((a) => a.cidr === ip6));
    }
  });

  it('carries TCP over IPv4 and IPv6 between two sandboxes through the bridge', async () => {
    const server = spawn(
      'nsenter',
      [
        `--net=${sbB}`,
        process.execPath,
        '-e',
        `require('net').createServer(c => c.on('data', d => c.end(d + ' from ' + c.remoteAddress))).listen(7777, '::', () => console.log('ready'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(server);
    let out = '';
    server.stdout.on('data', (d) => (out += d));
    await waitUntil('server ready', 5000, () => (out.includes('ready') ? true : undefined));
    const client = `const c = require('net').connect({ host: process.argv[1], port: 7777 }, () => c.write('ping'));
      c.on('data', d => { process.stdout.write(String(d)); c.end(); }); c.setTimeout(3000, () => process.exit(2));`;
    const v4 = await nodeIn(sbA, client, ['10.77.0.11']);
    assert.match(v4.stdout, /^ping from (::ffff:)?10\.77\.0\.10$/);
    const v6 = await nodeIn(sbA, client, ['fd77::11']);
    assert.equal(v6.stdout, 'ping from fd77::10');
    server.kill('SIGKILL');
  });

  it('sysctls are per namespace: written in the fake host, root untouched', async () => {
    await writeSysctlIn(hostPath, 'net.ipv4.ip_forward', '1');
    assert.equal(await readSysctlIn(hostPath, 'net.ipv4.ip_forward'), '1');
    const seen = await run('ip', ['netns', 'exec', hostName, 'cat', '/proc/sys/net/ipv4/ip_forward'], { timeout: 5000 });
    assert.equal(seen.stdout.trim(), '1');
    assert.equal(await readSysctlIn(sbA, 'net.ipv4.ip_forward'), '0');
    await writeSysctlIn(hostPath, 'net.ipv4.conf.wfbr0.forwarding', '0');
    assert.equal(await readSysctlIn(hostPath, 'net/ipv4/conf/wfbr0/forwarding'), '0');
    assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), rootForward);
    await assert.rejects(readSysctlIn(hostPath, 'net.ipv4.no_such_knob'), KernelError);
  });

  it('vxlan with FDB entries, macvlan, and ARP entries', () => {
    const vx = host.createVxlan({ name: 'wfvx42', vni: 42, local: '10.77.0.1', up: true })!;
    assert.equal(vx.kind, 'vxlan');
    host.addNeighbour({ index: vx.index, family: 7, lladdr: '00:00:00:00:00:00', dst: '192.0.2.7', flags: NTF.SELF }, { append: true });
    host.addNeighbour({ index: vx.index, family: 7, lladdr: '00:00:00:00:00:00', dst: '192.0.2.8', flags: NTF.SELF }, { append: true });
    const fdb = host
      .neighbours(7, vx.index)
      .filter((n) => n.lladdr === '00:00:00:00:00:00')
      .map((n) => n.dst)
      .sort();
    assert.deepEqual(fdb, ['192.0.2.7', '192.0.2.8']);
    assert.equal(
      host.deleteNeighbour({ index: vx.index, family: 7, lladdr: '00:00:00:00:00:00', dst: '192.0.2.7', flags: NTF.SELF }),
      true,
    );
    assert.equal(host.neighbours(7, vx.index).filter((n) => n.dst === '192.0.2.7').length, 0);

    const mv = host.createMacvlan({ name: 'wfmv0', parent: vx.index, mode: 'bridge', mac: '02:00:00:00:02:02' });
    assert.equal(mv?.kind, 'macvlan');
    assert.equal(mv?.mac, '02:00:00:00:02:02');

    host.addNeighbour({ index: brIndex, family: 4, dst: '10.77.0.99', lladdr: '02:00:00:00:00:99', state: NUD.PERMANENT });
    const arp = host.neighbours(4, brIndex).find((n) => n.dst === '10.77.0.99');
    assert.equal(arp?.lladdr, '02:00:00:00:00:99');
    assert.equal(arp?.state, NUD.PERMANENT);
    assert.equal(host.deleteNeighbour({ index: brIndex, family: 4, dst: '10.77.0.99' }), true);
    assert.equal(host.deleteNeighbour({ index: brIndex, family: 4, dst: '10.77.0.99' }, { ignoreMissing: true }), false);
    host.deleteLink('wfmv0');
    host.deleteLink('wfvx42');
  });

  it('event subscription sees links appear and disappear', async () => {
    const events: RtnlEvent[] = [];
    subs.push(await host.subscribe(['link', 'ipv4-addr'], (e) => events.push(e)));
    const l = host.createVeth({ name: 'wfvtmp', peerName: 'wfvtmpp' });
    host.addAddress(l.index, '10.99.0.1/24');
    host.deleteLink('wfvtmp');
    const del = await waitUntil('link deletion event', 3000, () =>
      events.find((e) => e.type === 'link' && e.action === 'del' && e.name === 'wfvtmp'),
    );
    assert.equal(del.type === 'link' && del.index, l.index);
    assert.ok(
      events.some((e) => e.type === 'link' && e.action === 'new' && e.name === 'wfvtmpp'),
      'peer creation seen',
    );
    assert.ok(
      events.some((e) => e.type === 'addr' && e.action === 'new' && e.cidr === '10.99.0.1/24'),
      'address seen',
    );
  });

  it('delete: veth goes with its peer; missing things are fine with ignoreMissing, errors without', () => {
    assert.equal(host.deleteLink('wfvA'), true);
    assert.equal(host.link('wfvA'), undefined);
    assert.equal(inA.link('eth0'), undefined, 'peer in the sandbox went too');
    assert.equal(host.deleteLink('wfvA', { ignoreMissing: true }), false);
    assert.throws(
      () => host.deleteLink('wfvA'),
      (e: unknown) => e instanceof KernelError && e.errno === 19 && /ENODEV/.test(e.message),
    );
    assert.equal(host.deleteAddress(brIndex, '10.77.9.9/24', { ignoreMissing: true }), false);
    assert.equal(inB.deleteRoute({ dst: '10.123.0.0/16' }, { ignoreMissing: true }), false);
    assert.equal(inB.deleteRoute({ dst: '0.0.0.0/0' }), true);
    assert.equal(
      inB.routes(4).some((r) => r.dst === '0.0.0.0/0'),
      false,
    );
  });

  it('one endpoint attach (createVeth + link + addAddress + up + addRoute) is fast', async () => {
    await createNetns(sbBench);
    const inner = await Rtnl.open(sbBench);
    const fd = openNetnsFd(sbBench);
    try {
      const N = 200;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) {
        host.createVeth({ name: `wfb${i}`, peerName: `e${i}`, peerNetnsFd: fd, master: brIndex, up: true });
        const peer = inner.link(`e${i}`)!;
        inner.addAddress(peer.index, `10.78.${i >> 8}.${(i & 255) + 1}/16`);
        inner.setLink(peer.index, { up: true });
        inner.addRoute({ dst: '0.0.0.0/0', gateway: '10.78.255.254', oif: peer.index, table: 1000 + i });
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6 / N;
      const t1 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) host.deleteLink(`wfb${i}`);
      const delMs = Number(process.hrtime.bigint() - t1) / 1e6 / N;
      console.log(`endpoint attach: ${ms.toFixed(3)} ms average over ${N} (target < 0.5 ms); detach ${delMs.toFixed(3)} ms`);
      assert.equal(inner.links().length, 1, 'every peer went with its host end');
      assert.ok(ms < 5, `attach took ${ms} ms`);
    } finally {
      inner.close();
      libc().close(fd);
      await deleteNetns(sbBench);
    }
  });

  it('proc: start time and liveness survive odd process names', async () => {
    const odd = `${dir}/we ft) (x`;
    await run('ln', ['-s', '/bin/sleep', odd]);
    const child = spawn(odd, ['30'], { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid!;
    const start = await waitUntil('child stat', 3000, () => processStartTime(pid));
    assert.match(start, /^\d+$/);
    assert.equal(isAlive(pid, start), true);
    assert.equal(isAlive(pid, String(Number(start) + 1)), false, 'a different start time is a different process');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(isAlive(pid, start), false);
    assert.equal(processStartTime(2 ** 22 + 7), undefined);
  });

  it('left the root namespace untouched', () => {
    assert.deepEqual(rootLinks(), rootBefore);
    assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), rootForward);
  });
});
