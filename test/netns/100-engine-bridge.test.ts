/**
 * The single-host engine end to end: weftd in a fake host namespace, sandboxes started with
 * `weft run`, real TCP/UDP between them, the kernel asked for what exists.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { SimHost as FakeHost, NETTOOL, waitFor, sleep } from '../../src/lab/sim-host.js';
import type { SandboxView } from '../../src/controller/inspect.js';
import type { NetworkInspect } from '../../src/controller/inspect.js';

const node = process.execPath;

describe('single-host engine: bridge, none, host, container modes', () => {
  let h: FakeHost;

  before(async () => {
    h = await FakeHost.create('engine');
    await h.start();
  });
  after(async () => {
    await h?.cleanup();
  });

  const sandbox = (ref: string): Promise<SandboxView> => h.sandbox(ref);
  const runDetached = (args: string[]): Promise<SandboxView> => h.runDetached(args);
  const inSandbox = (sb: SandboxView, args: string[]) => FakeHost.inNetns(sb.netnsPath, node, [NETTOOL, ...args]);

  it('runs the engine in the fake host namespace with the default networks', async () => {
    const nets = await h.client.request<NetworkInspect[]>('GET', '/v1/networks');
    assert.deepEqual(nets.map((n) => n.Name).sort(), ['bridge', 'host', 'none']);
    const links = await h.inHost('ip', ['-j', 'link', 'show', 'weft0']);
    assert.equal(links.code, 0, 'default bridge weft0 exists in the fake host');
    const root = await FakeHost.inNetns('/proc/1/ns/net', 'ip', ['link', 'show', 'weft0']);
    assert.notEqual(root.code, 0, 'nothing was created in the root namespace');
  });

  it('two sandboxes on a user-defined bridge exchange TCP and UDP by IP', async () => {
    await h.cliOk(['network', 'create', '--subnet', '10.91.0.0/24', 'n1']);
    const a = await runDetached(['--name', 'a', '--network', 'n1', '--', node, NETTOOL, 'tcp-server', '7000']);
    const b = await runDetached(['--name', 'b', '--network', 'n1', '--', node, NETTOOL, 'udp-server', '7001']);
    const ipA = a.endpoints[0]!.ipv4!.split('/')[0]!;
    const ipB = b.endpoints[0]!.ipv4!.split('/')[0]!;
    assert.match(ipA, /^10\.91\.0\.\d+$/);
    assert.notEqual(ipA, ipB);
    const tcp = await waitFor('tcp reply', async () => {
      const r = await inSandbox(b, ['tcp-client', ipA, '7000', 'hello']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    assert.equal(tcp, `${ipB} hello`, 'server saw the client by its own address');
    const udp = await waitFor('udp reply', async () => {
      const r = await inSandbox(a, ['udp-client', ipB, '7001', 'dgram']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    assert.equal(udp, `${ipA} dgram`);
  });

  it('none mode has only loopback', async () => {
    const sb = await runDetached(['--name', 'lonely', '--network', 'none', '--', 'sleep', '60']);
    const r = await FakeHost.inNetns(sb.netnsPath, 'ip', ['-o', 'link', 'show']);
    const names = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(': ')[1]!.split('@')[0]);
    assert.deepEqual(names, ['lo']);
  });

  it('host mode sees the host interfaces', async () => {
    // `ip` rather than os.networkInterfaces(): libuv hides interfaces without carrier, and the
    // default bridge has none while no sandbox is on it.
    const r = await h.cli(['run', '--network', 'host', '--', 'ip', '-o', 'link', 'show']);
    assert.equal(r.code, 0, r.stderr);
    const ifs = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(': ')[1]!.split('@')[0]);
    assert.ok(ifs.includes('weft0'), `host-mode sandbox sees the fake host's weft0 (got ${ifs.join(',')})`);
    const own = await FakeHost.inNetns(h.nsPath, 'ip', ['-o', 'link', 'show']);
    assert.equal(r.stdout.trim().split('\n').length, own.stdout.trim().split('\n').length, 'the same interfaces as the fake host');
  });

  it('container mode shares one IP between two sandboxes', async () => {
    const a = await sandbox('a');
    const r = await h.cli(['run', '--network', 'container:a', '--', node, NETTOOL, 'tcp-client', '127.0.0.1', '7000', 'pod']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '127.0.0.1 pod', "reached a's server over the shared loopback");
    const r2 = await h.cli(['run', '--network', 'container:a', '--', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
    assert.match(r2.stdout, new RegExp(a.endpoints[0]!.ipv4!.replace(/\./g, '\\.')));
  });

  it('connects and disconnects a running sandbox to a second network', async () => {
    await h.cliOk(['network', 'create', '--subnet', '10.92.0.0/24', 'n2']);
    const c = await runDetached(['--name', 'c', '--network', 'n2', '--', node, NETTOOL, 'tcp-server', '7000']);
    const ipC = c.endpoints[0]!.ipv4!.split('/')[0]!;
    const b = await sandbox('b');
    const before = await inSandbox(b, ['tcp-client', ipC, '7000', 'x']);
    assert.notEqual(before.code, 0, 'b cannot reach n2 before connecting');
    await h.cliOk(['network', 'connect', 'n2', 'b']);
    const b2 = await sandbox('b');
    assert.equal(b2.endpoints.length, 2);
    const eth1 = b2.endpoints.find((e) => e.networkName === 'n2')!;
    assert.equal(eth1.ifname, 'eth1');
    const reply = await waitFor('reply over n2', async () => {
      const r = await inSandbox(b, ['tcp-client', ipC, '7000', 'x']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    assert.equal(reply, `${eth1.ipv4!.split('/')[0]} x`);
    await h.cliOk(['network', 'disconnect', 'n2', 'b']);
    const links = await FakeHost.inNetns(b.netnsPath, 'ip', ['-o', 'link', 'show', 'eth1']);
    assert.notEqual(links.code, 0, 'eth1 is gone after disconnect');
    assert.equal((await sandbox('b')).endpoints.length, 1);
  });

  it('a TCP stream between two sandboxes survives a weftd restart', async () => {
    const s = await runDetached(['--name', 'streamsrv', '--network', 'n1', '--', node, NETTOOL, 'stream-server', '7100']);
    const c = await sandbox('a');
    const ip = s.endpoints[0]!.ipv4!.split('/')[0]!;
    await sleep(300);
    const streaming = inSandbox(c, ['stream-client', ip, '7100', '4000']);
    await sleep(800);
    await h.stop('SIGTERM');
    await sleep(300);
    await h.start();
    const r = await streaming;
    assert.equal(r.code, 0, `stream broke: ${r.stderr}`);
    const m = /sent=(\d+) acked=(\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(m[1], m[2], 'every byte sent was received');
    assert.ok(Number(m[1]) > 1_000_000, 'the stream carried data throughout');
    // State after restart matches: every sandbox is still known.
    const all = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    for (const name of ['a', 'b', 'c', 'streamsrv'])
      assert.ok(
        all.some((x) => x.name === name),
        `${name} still recorded`,
      );
  });

  it('killing a sandbox process frees its address', async () => {
    const d = await runDetached(['--name', 'doomed', '--network', 'n1', '--', 'sleep', '600']);
    const ip = d.endpoints[0]!.ipv4!;
    const hostIf = d.endpoints[0]!.hostIfname!;
    process.kill(d.pid!, 'SIGKILL');
    await waitFor('sandbox reaped', async () => {
      const r = await h.cli(['sandbox', 'inspect', 'doomed']);
      return r.code !== 0;
    });
    const n1 = await h.client.request<NetworkInspect>('GET', '/v1/networks/n1');
    assert.ok(!Object.values(n1.Containers).some((x) => x.IPv4Address === ip), `${ip} released`);
    const l = await h.inHost('ip', ['link', 'show', hostIf]);
    assert.notEqual(l.code, 0, 'host veth removed');
    assert.ok(!(await import('node:fs')).existsSync(d.netnsPath), 'namespace file removed');
  });

  it('refuses bad input with an error naming the field, a non-zero exit, and nothing created', async () => {
    const before = await h.client.request<NetworkInspect[]>('GET', '/v1/networks');
    const linksBefore = (await h.inHost('ip', ['-o', 'link', 'show'])).stdout.replace(/ state \S+/g, '');
    const cases: [string[], RegExp][] = [
      [['network', 'create', '--subnet', '10.120.0.0/33', 'badcidr'], /subnet/],
      [['network', 'create', '--subnet', '10.120.0.0/24', '--gateway', '10.121.0.1', 'badgw'], /gateway/],
      [['network', 'create', '--subnet', '10.120.0.0/24', 'n1'], /name/],
      [['network', 'create', '-o', 'com.docker.network.bridge.name=abcdefghijklmnop', 'longif'], /bridge\.name.*15/],
      [['network', 'create', '-d', 'nosuchdriver', 'baddrv'], /driver/],
      [['network', 'create', '-o', 'com.docker.network.bridge.colour=red', 'badopt'], /com\.docker\.network\.bridge\.colour/],
    ];
    for (const [args, field] of cases) {
      const r = await h.cli(args);
      assert.notEqual(r.code, 0, `weft ${args.join(' ')} must fail`);
      assert.match(r.stderr, field, `error names the field: ${r.stderr}`);
    }
    const after = await h.client.request<NetworkInspect[]>('GET', '/v1/networks');
    assert.deepEqual(after.map((n) => n.Id).sort(), before.map((n) => n.Id).sort(), 'no network created');
    assert.equal((await h.inHost('ip', ['-o', 'link', 'show'])).stdout.replace(/ state \S+/g, ''), linksBefore, 'no link created');
  });

  it('refuses to remove a network in use, removes it when empty', async () => {
    const r = await h.cli(['network', 'rm', 'n2']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /active endpoint/);
    await h.cliOk(['sandbox', 'rm', '-f', '-t', '1', 'c']);
    await h.cliOk(['network', 'rm', 'n2']);
    const l = await h.cli(['network', 'inspect', 'n2']);
    assert.notEqual(l.code, 0);
  });
});
