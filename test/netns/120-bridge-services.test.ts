/**
 * Bridge networks as users expect them, with real packets: published ports from an outside
 * machine (a namespace standing for one), hairpin, masquerade, isolation, ICC, internal
 * networks, and the firewall restored after `nft flush ruleset`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimHost, NETTOOL, mustRun, waitFor, sleep } from '../../src/lab/sim-host.js';
import type { SandboxView } from '../../src/controller/inspect.js';

const node = process.execPath;

describe('bridge services: NAT, published ports, isolation (nftables)', () => {
  let h: SimHost;
  let outside: string;
  const outsidePath = (): string => `/run/netns/${outside}`;

  before(async () => {
    h = await SimHost.create('svc', ['--firewall', 'nftables']);
    // The outside machine: one veth to the host; the host has two addresses on it.
    outside = await h.outsideMachine('out', 'uplink', '198.18.0.1/24', '198.18.0.2/24');
    await mustRun('ip', ['-n', h.ns, 'addr', 'add', '198.18.0.3/24', 'dev', 'uplink']);
    await h.start();
  });
  after(async () => {
    await h?.cleanup();
  });

  const sandbox = (ref: string): Promise<SandboxView> => h.sandbox(ref);
  const runDetached = (args: string[]): Promise<SandboxView> => h.runDetached(args);
  const ipOf = (sb: SandboxView, i = 0): string => sb.endpoints[i]!.ipv4!.split('/')[0]!;
  const tool = (nsPath: string, args: string[]) => SimHost.inNetns(nsPath, node, [NETTOOL, ...args]);
  const reply = (nsPath: string, args: string[], timeoutMs = 5000) =>
    waitFor(
      `${args.join(' ')}`,
      async () => {
        const r = await tool(nsPath, args);
        return r.code === 0 ? r.stdout.trim() : undefined;
      },
      timeoutMs,
    );
  const blocked = async (nsPath: string, args: string[]): Promise<boolean> => (await tool(nsPath, [...args.slice(0, 4), '800'])).code !== 0;

  it('runs with the nftables backend', async () => {
    const info = await h.client.request<{ firewall: string }>('GET', '/v1/info');
    assert.equal(info.firewall, 'nftables');
    const t = await h.inHost('nft', ['list', 'table', 'inet', 'weft']);
    assert.equal(t.code, 0, 'weft table exists in the fake host');
  });

  it('an outside client reaches published TCP and UDP ports and the server sees its real address', async () => {
    await h.cliOk(['network', 'create', '--subnet', '10.93.0.0/24', 'web']);
    await runDetached([
      '--name',
      'srv',
      '--network',
      'web',
      '-p',
      '8080:7000',
      '-p',
      '8080:7001/udp',
      '-p',
      '9000-9001:7100-7101',
      '--',
      node,
      NETTOOL,
      'tcp-server',
      '7000,7100,7101',
    ]);
    await runDetached(['--name', 'usrv', '--network', 'web', '-p', '5353:7001/udp', '--', node, NETTOOL, 'udp-server', '7001']);
    assert.equal(await reply(outsidePath(), ['tcp-client', '198.18.0.1', '8080', 'hi']), '198.18.0.2 hi');
    assert.equal(await reply(outsidePath(), ['udp-client', '198.18.0.1', '5353', 'dg']), '198.18.0.2 dg');
    assert.equal(await reply(outsidePath(), ['tcp-client', '198.18.0.1', '9000', 'r0']), '198.18.0.2 r0');
    assert.equal(await reply(outsidePath(), ['tcp-client', '198.18.0.1', '9001', 'r1']), '198.18.0.2 r1');
  });

  it('a port bound to one host address is not reachable on another', async () => {
    await runDetached(['--name', 'bound', '--network', 'web', '-p', '198.18.0.1:8181:7000', '--', node, NETTOOL, 'tcp-server', '7000']);
    assert.equal(await reply(outsidePath(), ['tcp-client', '198.18.0.1', '8181', 'b']), '198.18.0.2 b');
    assert.ok(await blocked(outsidePath(), ['tcp-client', '198.18.0.3', '8181', 'b']), 'not on 198.18.0.3');
  });

  it('the host itself reaches a published port, including via 127.0.0.1', async () => {
    const r = await reply(h.nsPath, ['tcp-client', '127.0.0.1', '8080', 'lo']);
    assert.match(r, / lo$/);
    assert.match(await reply(h.nsPath, ['tcp-client', '198.18.0.1', '8080', 'me']), / me$/);
  });

  it('hairpin: a sandbox reaches a published port via the host address', async () => {
    const cli = await runDetached(['--name', 'hp', '--network', 'web', '--', 'sleep', '600']);
    assert.match(await reply(cli.netnsPath, ['tcp-client', '198.18.0.1', '8080', 'hair']), / hair$/);
  });

  it('egress is masqueraded behind the host address', async () => {
    const srv = SimHost.inNetns(outsidePath(), node, [NETTOOL, 'tcp-server', '7777'], 20_000);
    await sleep(500);
    const cli = await sandbox('hp');
    assert.equal(await reply(cli.netnsPath, ['tcp-client', '198.18.0.2', '7777', 'out']), '198.18.0.1 out');
    void srv;
  });

  it('networks are isolated from each other; ICC off and internal networks behave', async () => {
    await h.cliOk(['network', 'create', '--subnet', '10.94.0.0/24', 'other']);
    const o = await runDetached(['--name', 'o1', '--network', 'other', '--', node, NETTOOL, 'tcp-server', '7000']);
    const srv = await sandbox('srv');
    assert.ok(await blocked(o.netnsPath, ['tcp-client', ipOf(srv), '7000', 'x']), 'other → web blocked');
    assert.ok(await blocked(srv.netnsPath, ['tcp-client', ipOf(o), '7000', 'x']), 'web → other blocked');

    await h.cliOk(['network', 'create', '--subnet', '10.95.0.0/24', '-o', 'com.docker.network.bridge.enable_icc=false', 'noicc']);
    const i1 = await runDetached(['--name', 'i1', '--network', 'noicc', '--', node, NETTOOL, 'tcp-server', '7000']);
    const i2 = await runDetached(['--name', 'i2', '--network', 'noicc', '--', 'sleep', '600']);
    assert.ok(await blocked(i2.netnsPath, ['tcp-client', ipOf(i1), '7000', 'x']), 'icc=false blocks within the network');

    await h.cliOk(['network', 'create', '--internal', '--subnet', '10.96.0.0/24', 'intern']);
    const n1 = await runDetached(['--name', 'n1', '--network', 'intern', '--', node, NETTOOL, 'tcp-server', '7000']);
    const n2 = await runDetached(['--name', 'n2', '--network', 'intern', '--', 'sleep', '600']);
    assert.match(await reply(n2.netnsPath, ['tcp-client', ipOf(n1), '7000', 'in']), / in$/, 'internal network works inside');
    assert.ok(await blocked(n2.netnsPath, ['tcp-client', '198.18.0.2', '7777', 'x']), 'internal network cannot get out');
    const routes = await SimHost.inNetns(n2.netnsPath, 'ip', ['route', 'show', 'default']);
    assert.equal(routes.stdout.trim(), '', 'internal network gives no default route');
  });

  it('IPv6: dual-stack networks, a published port over IPv6 keeps the client address, v6 isolation', async () => {
    await mustRun('ip', ['-n', h.ns, 'addr', 'add', 'fd18::1/64', 'dev', 'uplink', 'nodad']);
    await mustRun('ip', ['-n', outside, 'addr', 'add', 'fd18::2/64', 'dev', 'eth0', 'nodad']);
    await h.cliOk(['network', 'create', '--ipv6', '--subnet', '10.100.1.0/24', '--subnet', 'fd00:a1::/64', 'v6a']);
    await h.cliOk(['network', 'create', '--ipv6', '--subnet', '10.100.2.0/24', '--subnet', 'fd00:a2::/64', 'v6b']);
    const s6 = await runDetached(['--name', 's6', '--network', 'v6a', '-p', '8443:7000', '--', node, NETTOOL, 'tcp-server', '7000']);
    const same = await runDetached(['--name', 's6same', '--network', 'v6a', '--', 'sleep', '600']);
    const other = await runDetached(['--name', 's6other', '--network', 'v6b', '--', 'sleep', '600']);
    const v6 = s6.endpoints[0]!.ipv6!.split('/')[0]!;
    assert.match(v6, /^fd00:a1::/);
    assert.equal(
      await reply(outsidePath(), ['tcp-client', 'fd18::1', '8443', 'six']),
      'fd18::2 six',
      'outside client over IPv6, real source address',
    );
    assert.match(await reply(same.netnsPath, ['tcp-client', v6, '7000', 'in']), / in$/, 'same network over IPv6');
    assert.ok(await blocked(other.netnsPath, ['tcp-client', v6, '7000', 'x']), 'other network blocked over IPv6');
  });

  it('restores its tables within 2 s after `nft flush ruleset`', async () => {
    assert.equal(await reply(outsidePath(), ['tcp-client', '198.18.0.1', '8080', 'pre']), '198.18.0.2 pre');
    await mustRun('nsenter', [`--net=${h.nsPath}`, 'nft', 'flush', 'ruleset']);
    const t0 = Date.now();
    await waitFor('weft table back', async () => (await h.inHost('nft', ['list', 'table', 'inet', 'weft'])).code === 0, 2000, 20);
    const r = await reply(outsidePath(), ['tcp-client', '198.18.0.1', '8080', 'post'], 2000);
    assert.equal(r, '198.18.0.2 post');
    assert.ok(Date.now() - t0 <= 2500, `restored in ${Date.now() - t0} ms`);
  });

  it('refuses bad -p specs and an already published host port, changing nothing', async () => {
    const before = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    const rules = (await h.inHost('nft', ['list', 'table', 'inet', 'weft'])).stdout;
    for (const spec of ['80:', 'abc', '0:80', '65536:80', '9010-9005:80-85', '8080:7000', '1-3:1-2', '80/icmp', '[::1:80:80']) {
      const r = await h.cli(['run', '--network', 'web', '-p', spec, '--', 'true']);
      assert.notEqual(r.code, 0, `-p ${spec} refused`);
      assert.match(r.stderr, /publish/, `error for ${spec} names the field: ${r.stderr}`);
    }
    const after = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    assert.deepEqual(after.map((s) => s.id).sort(), before.map((s) => s.id).sort(), 'no sandbox created');
    assert.equal((await h.inHost('nft', ['list', 'table', 'inet', 'weft'])).stdout, rules, 'ruleset unchanged');
  });
});
