/**
 * weft never modifies or deletes kernel objects it did not create (issue 9, defect 1).
 *  - A host link named as a network's bridge (the host's uplink veth) is refused — through the
 *    CLI, a CNI config and the default bridge name — and the failed create's rollback leaves it
 *    alone.
 *  - An existing user bridge is refused unless adopted explicitly (weft.bridge.adopt); adopted,
 *    it keeps its MAC, addresses and ports, and `network rm` hands it back with only weft's
 *    gateway address removed.
 *  - Reconcile and doctor --repair never delete a link that merely looks like weft's.
 *  - In a namespace weft did not make, its own default route is neither replaced nor removed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { SimHost, mustRun } from '../../src/lab/sim-host.js';
import type { NetworkInspect, SandboxView } from '../../src/controller/inspect.js';

interface IpLink {
  ifindex: number;
  ifname: string;
  address: string;
  operstate: string;
  master?: string;
  flags: string[];
}
interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number; protocol?: string }[];
}

describe('host safety: links, bridges and routes weft does not own', () => {
  let h: SimHost;
  const procs: ChildProcess[] = [];

  const link = async (name: string, ns?: string): Promise<IpLink | undefined> => {
    const r = await SimHost.inNetns(ns ?? h.nsPath, 'ip', ['-j', 'link', 'show', 'dev', name]);
    return r.code === 0 ? (JSON.parse(r.stdout) as IpLink[])[0] : undefined;
  };
  const addrs = async (name: string): Promise<string[]> => {
    const r = await h.inHost('ip', ['-j', 'addr', 'show', 'dev', name]);
    if (r.code !== 0) return [];
    return (JSON.parse(r.stdout) as IpAddr[])[0]!.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  };
  /** Everything about a link weft must leave unchanged. */
  const fingerprint = async (name: string): Promise<string> => {
    const l = await link(name);
    assert.ok(l, `${name} exists`);
    return JSON.stringify({ index: l.ifindex, mac: l.address, master: l.master, up: l.flags.includes('UP'), addrs: await addrs(name) });
  };
  const networkNames = async (): Promise<string[]> => (await h.client.request<NetworkInspect[]>('GET', '/v1/networks')).map((n) => n.Name);

  before(async () => {
    h = await SimHost.create('own', ['--firewall', 'nftables']);
    await h.start();
    // The host's own uplink (a veth to "another machine") and a user's bridge with a port.
    await h.outsideMachine('up', 'uplink', '198.18.160.1/24', '198.18.160.2/24');
    await mustRun('ip', ['-n', h.ns, 'link', 'add', 'br-user', 'type', 'bridge']);
    await mustRun('ip', ['-n', h.ns, 'addr', 'add', '198.18.161.1/24', 'dev', 'br-user']);
    await mustRun('ip', ['-n', h.ns, 'link', 'add', 'user-a', 'type', 'veth', 'peer', 'name', 'user-b']);
    await mustRun('ip', ['-n', h.ns, 'link', 'set', 'user-a', 'master', 'br-user', 'up']);
    await mustRun('ip', ['-n', h.ns, 'link', 'set', 'br-user', 'up']);
  });
  after(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await h?.cleanup();
  });

  it("refuses the host's uplink as a network's bridge (CLI and CNI) and the rollback leaves it alone", async () => {
    const before = await fingerprint('uplink');
    const r = await h.cli(['network', 'create', '-o', 'com.docker.network.bridge.name=uplink', 'x']);
    assert.notEqual(r.code, 0);
    assert.equal(await fingerprint('uplink'), before, 'the uplink is untouched (not deleted, not changed)');
    assert.match(r.stderr, /interface "uplink" exists \(veth\) and was not created by weft; weft will not modify or delete it/, r.stderr);
    assert.ok(!(await networkNames()).includes('x'));
    const ctr = `/run/netns/${await h.extraNetns('ctr')}`;
    for (const type of ['weft', 'weft-ipam']) {
      const cni = await h.client.request<{ exitCode: number; output: { msg: string } }>('POST', '/v1/cni', {
        plugin: type,
        env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'upctr', CNI_NETNS: ctr, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' },
        stdin: JSON.stringify({ cniVersion: '1.0.0', name: `cniup-${type}`, type, bridge: 'uplink', ipam: { subnet: '10.160.5.0/24' } }),
      });
      assert.equal(cni.exitCode, 1, `${type}: ${JSON.stringify(cni)}`);
      assert.match(cni.output.msg, /not created by weft/);
      assert.equal(await fingerprint('uplink'), before, `${type}: the uplink is untouched`);
    }
    const ping = await h.inHost('busybox', ['ping', '-c', '1', '-W', '2', '198.18.160.2']);
    assert.equal(ping.code, 0, 'the host still reaches the machine behind its uplink');
  });

  it('refuses an existing user bridge unless adopted, and hands an adopted one back unchanged', async () => {
    const before = await fingerprint('br-user');
    const refused = await h.cli(['network', 'create', '--subnet', '10.160.0.0/24', '-o', 'com.docker.network.bridge.name=br-user', 'y']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /weft\.bridge\.adopt=true/, 'the refusal says how to adopt it');
    assert.equal(await fingerprint('br-user'), before);

    await h.cliOk([
      'network',
      'create',
      '--subnet',
      '10.160.0.0/24',
      '-o',
      'com.docker.network.bridge.name=br-user',
      '-o',
      'weft.bridge.adopt=true',
      'y',
    ]);
    const adopted = await link('br-user');
    assert.equal(adopted!.address, (JSON.parse(before) as { mac: string }).mac, 'adopted: the MAC is not changed');
    assert.deepEqual((await addrs('br-user')).sort(), ['10.160.0.1/24', '198.18.161.1/24'], "weft's gateway next to the user's address");
    const sb = await h.runDetached(['--name', 'onuser', '--network', 'y', '--', 'sleep', '300']);
    assert.equal((await link(sb.endpoints[0]!.hostIfname!))!.master, 'br-user', "a sandbox joins the user's bridge");
    const gw = await SimHost.inNetns(sb.netnsPath, 'busybox', ['ping', '-c', '1', '-W', '2', '10.160.0.1']);
    assert.equal(gw.code, 0, 'and reaches its gateway');
    await h.cliOk(['sandbox', 'rm', '-f', '-t', '0', 'onuser']);
    await h.cliOk(['network', 'rm', 'y']);
    assert.equal(
      await fingerprint('br-user'),
      before,
      "network rm hands the bridge back: same index, MAC, port and the user's address only",
    );
  });

  it('an adopted bridge whose address is the gateway keeps that address: weft removes only what it added', async () => {
    const before = await fingerprint('br-user');
    await h.cliOk([
      'network',
      'create',
      '--subnet',
      '198.18.161.0/24',
      '-o',
      'com.docker.network.bridge.name=br-user',
      '-o',
      'weft.bridge.adopt=true',
      'z',
    ]);
    await h.cliOk(['network', 'rm', 'z']);
    assert.equal(await fingerprint('br-user'), before, "the user's 198.18.161.1/24 survives network rm");
  });

  it("reconcile and doctor --repair never delete links that only look like weft's", async () => {
    await mustRun('ip', ['-n', h.ns, 'link', 'add', 'wfv0123456789ab', 'type', 'veth', 'peer', 'name', 'lookalike-p']);
    await mustRun('ip', ['-n', h.ns, 'link', 'add', 'wf-0123456789ab', 'type', 'bridge']);
    const before = [await fingerprint('wfv0123456789ab'), await fingerprint('wf-0123456789ab')];
    const d = await h.client.request<{ ok: boolean; violations: string[] }>('GET', '/v1/doctor?repair=true');
    assert.deepEqual(
      d.violations.filter((v) => /0123456789ab/.test(v)),
      [],
      'doctor does not call them weft leftovers',
    );
    assert.deepEqual([await fingerprint('wfv0123456789ab'), await fingerprint('wf-0123456789ab')], before, 'both still exist, unchanged');
  });

  it('weftd refuses a default bridge name that is a host link, and leaves the link alone', async () => {
    const h2 = await SimHost.create('own2');
    try {
      await h2.outsideMachine('up', 'uplink2', '198.18.163.1/24', '198.18.163.2/24');
      const before = await SimHost.inNetns(h2.nsPath, 'ip', ['-j', 'link', 'show', 'dev', 'uplink2']);
      const started = await h2.start(['--default-bridge-name', 'uplink2']).then(
        () => 'started',
        (e: Error) => e.message,
      );
      const after = await SimHost.inNetns(h2.nsPath, 'ip', ['-j', 'link', 'show', 'dev', 'uplink2']);
      assert.equal(after.code, 0, 'uplink2 still exists');
      assert.equal((JSON.parse(after.stdout) as IpLink[])[0]!.ifindex, (JSON.parse(before.stdout) as IpLink[])[0]!.ifindex);
      assert.match(started, /uplink2.*was not created by weft/, 'weftd stops with a clear error');
    } finally {
      await h2.cleanup();
    }
  });

  it('a failed create rolls back only what it made: its own bridge, nothing of the host', async () => {
    // A host program on UDP 0.0.0.0:53 keeps the embedded DNS from listening on the new gateway.
    const dns = spawn(
      'nsenter',
      [
        `--net=${h.nsPath}`,
        process.execPath,
        '-e',
        "const s = require('dgram').createSocket({ type: 'udp4', reuseAddr: true }); s.bind(53, '0.0.0.0', () => console.log('ready')); setInterval(() => s.address(), 60000)",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    procs.push(dns);
    await new Promise<void>((resolve, reject) => {
      dns.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      dns.once('exit', (c) => reject(new Error(`the port-53 holder exited (${c})`)));
      setTimeout(() => reject(new Error('the port-53 holder did not start')), 15_000).unref();
    });
    const linksBefore = (await h.inHost('ip', ['-o', 'link', 'show'])).stdout.replace(/ state \S+/g, '');
    const r = await h.cli(['network', 'create', '--subnet', '10.160.9.0/24', '-o', 'com.docker.network.bridge.name=br-fail', 'w']);
    assert.notEqual(r.code, 0, 'the create fails (DNS cannot listen)');
    assert.equal(await link('br-fail'), undefined, 'the bridge it made is gone again');
    assert.equal((await h.inHost('ip', ['-o', 'link', 'show'])).stdout.replace(/ state \S+/g, ''), linksBefore, 'no other link changed');
    assert.ok(!(await networkNames()).includes('w'));
    dns.kill('SIGKILL');
  });

  it("keeps an attached namespace's own default route, before and after detaching", async () => {
    await h.cliOk(['network', 'create', '--subnet', '10.160.1.0/24', 'n']);
    const other = await h.outsideMachine('rt', 'toext', '198.18.162.1/24', '198.18.162.2/24');
    const ns = `/run/netns/${other}`;
    await mustRun('ip', ['-n', other, 'route', 'add', 'default', 'via', '198.18.162.1']);
    const routeBefore = (await SimHost.inNetns(ns, 'ip', ['route', 'show', 'default'])).stdout.trim();
    await h.cliOk(['attach', '--netns', ns, '--network', 'n', '--name', 'ext', '--ifname', 'eth7']);
    const view = await h.sandbox('ext');
    assert.equal(view.endpoints[0]!.ipv4?.startsWith('10.160.1.'), true);
    assert.equal((await SimHost.inNetns(ns, 'ip', ['route', 'show', 'default'])).stdout.trim(), routeBefore, 'not replaced by weft');
    await h.cliOk(['sandbox', 'rm', 'ext']);
    assert.equal((await SimHost.inNetns(ns, 'ip', ['route', 'show', 'default'])).stdout.trim(), routeBefore, 'still there after detach');
    const sbs = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    assert.ok(!sbs.some((s) => s.name === 'ext'));
    // Without --ifname, a name the namespace already uses (its eth0) is skipped, not a raw EEXIST.
    await h.cliOk(['attach', '--netns', ns, '--network', 'n', '--name', 'ext2']);
    assert.equal((await h.sandbox('ext2')).endpoints[0]!.ifname, 'eth1');
    await h.cliOk(['sandbox', 'rm', 'ext2']);
  });
});
