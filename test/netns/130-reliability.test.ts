/**
 * Reliability of the single-host engine: drift of each kind repaired within 2 s (objects weft
 * does not own untouched), cold start after a simulated reboot, 200 concurrent attaches with
 * no duplicate address, the doctor, and the root-only API.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { SimHost, NETTOOL, WEFT, mustRun, run, waitFor } from '../../src/lab/sim-host.js';
import type { SandboxView, NetworkInspect } from '../../src/controller/inspect.js';
import type { DoctorReport } from '../../src/controller/doctor.js';

const node = process.execPath;

describe('reliability: drift repair, cold start, concurrency, security', () => {
  let h: SimHost;

  before(async () => {
    h = await SimHost.create('rel', ['--firewall', 'nftables']);
    await h.start();
    await h.cliOk(['network', 'create', '--subnet', '10.97.0.0/24', 'd']);
  });
  after(async () => {
    await h?.cleanup();
  });

  const sandbox = (ref: string): Promise<SandboxView> => h.sandbox(ref);
  const runDetached = (args: string[]): Promise<SandboxView> => h.runDetached(args);
  const doctor = (): Promise<DoctorReport> => h.client.request<DoctorReport>('GET', '/v1/doctor');
  const repairedWithin = async (what: string, check: () => Promise<boolean>, limitMs = 2000): Promise<number> => {
    const t0 = Date.now();
    await waitFor(what, async () => (await check()) || undefined, limitMs + 500, 20);
    const ms = Date.now() - t0;
    assert.ok(ms <= limitMs, `${what} repaired in ${ms} ms (limit ${limitMs})`);
    return ms;
  };

  it('repairs drift of each kind within 2 s and leaves foreign objects alone', async () => {
    // Foreign objects in the same namespace: weft must not touch them.
    await mustRun('ip', ['-n', h.ns, 'link', 'add', 'foreign0', 'type', 'veth', 'peer', 'name', 'foreign1']);
    await mustRun('nsenter', [`--net=${h.nsPath}`, 'nft', 'add', 'table', 'inet', 'someoneelse']);
    const a = await runDetached(['--name', 'da', '--network', 'd', '--', node, NETTOOL, 'tcp-server', '7000']);
    const ep = a.endpoints[0]!;
    const br = (await h.client.request<NetworkInspect>('GET', '/v1/networks/d')).Options['com.docker.network.bridge.name']!;
    const hostHas = async (args: string[]): Promise<boolean> => (await h.inHost('ip', args)).code === 0;
    const sbOut = async (args: string[]): Promise<string> => (await SimHost.inNetns(a.netnsPath, 'ip', args)).stdout;
    const times: Record<string, number> = {};

    await mustRun('ip', ['-n', h.ns, 'link', 'del', ep.hostIfname!]);
    times.veth = await repairedWithin(
      'veth',
      async () => (await hostHas(['link', 'show', ep.hostIfname!])) && (await sbOut(['-o', 'addr', 'show', 'eth0'])).includes(ep.ipv4!),
    );

    await mustRun('ip', ['-n', h.ns, 'link', 'del', br]);
    times.bridge = await repairedWithin('bridge', async () => {
      const l = await h.inHost('ip', ['-o', 'link', 'show', 'master', br]);
      return l.code === 0 && l.stdout.includes(ep.hostIfname!);
    });

    await mustRun('ip', ['-n', h.ns, 'addr', 'flush', 'dev', br]);
    times.gatewayAddress = await repairedWithin('gateway address', async () =>
      (await h.inHost('ip', ['-o', 'addr', 'show', 'dev', br])).stdout.includes('10.97.0.1/24'),
    );

    await mustRun('nsenter', [`--net=${a.netnsPath}`, 'ip', 'addr', 'del', ep.ipv4!, 'dev', 'eth0']);
    times.sandboxAddress = await repairedWithin('sandbox address', async () =>
      (await sbOut(['-o', 'addr', 'show', 'eth0'])).includes(ep.ipv4!),
    );

    await mustRun('nsenter', [`--net=${a.netnsPath}`, 'ip', 'route', 'del', 'default']);
    times.defaultRoute = await repairedWithin('default route', async () =>
      (await sbOut(['route', 'show', 'default'])).includes('10.97.0.1'),
    );

    await mustRun('nsenter', [`--net=${h.nsPath}`, 'nft', 'flush', 'table', 'inet', 'weft']);
    times.nftRules = await repairedWithin('nft rules', async () =>
      (await h.inHost('nft', ['list', 'table', 'inet', 'weft'])).stdout.includes('masquerade'),
    );

    console.log(`drift repair times (ms): ${JSON.stringify(times)}`);
    assert.ok(await hostHas(['link', 'show', 'foreign0']), 'foreign link untouched');
    assert.equal((await h.inHost('nft', ['list', 'table', 'inet', 'someoneelse'])).code, 0, 'foreign table untouched');
    const d = await doctor();
    assert.deepEqual(d.violations, []);
  });

  it('serves 200 concurrent attaches with no duplicate address and no hang', async () => {
    await h.cliOk(['network', 'create', '--subnet', '10.98.0.0/22', 'busy']);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push((await h.client.request<{ id: string }>('POST', '/v1/sandboxes', { name: `c${i}` })).id);
    const t0 = Date.now();
    // 180 through the API at once, 20 through CLI processes at the same time.
    const api = ids.slice(0, 180).map((id) =>
      h.client.request<{ ipv4: string }>('POST', '/v1/networks/busy/connect', { sandbox: id }).then(
        (e) => ({ ok: true as const, ip: e.ipv4 }),
        (err: Error) => ({ ok: false as const, err: err.message }),
      ),
    );
    const cli = ids
      .slice(180)
      .map((id) =>
        h
          .cli(['network', 'connect', 'busy', id], 60_000)
          .then((r) => (r.code === 0 ? { ok: true as const, ip: '' } : { ok: false as const, err: r.stderr })),
      );
    const results = await Promise.all([...api, ...cli]);
    const ms = Date.now() - t0;
    const failed = results.filter((r) => !r.ok);
    for (const f of failed) assert.match((f as { err: string }).err, /\S/, 'a failure carries a message');
    const net = await h.client.request<NetworkInspect>('GET', '/v1/networks/busy');
    const addrs = Object.values(net.Containers).map((c) => c.IPv4Address);
    assert.equal(new Set(addrs).size, addrs.length, 'no address handed out twice (store)');
    const kernelAddrs: string[] = [];
    for (const id of ids) {
      const sb = await sandbox(id);
      const out = (await SimHost.inNetns(sb.netnsPath, 'ip', ['-4', '-o', 'addr', 'show', 'eth0'])).stdout;
      const m = /inet (\S+)/.exec(out);
      if (m) kernelAddrs.push(m[1]!);
    }
    assert.equal(new Set(kernelAddrs).size, kernelAddrs.length, 'no address twice in the kernel');
    console.log(
      `200 concurrent attaches: ${results.length - failed.length} ok, ${failed.length} failed, ${ms} ms, ${addrs.length} distinct addresses`,
    );
    assert.equal(failed.length, 0);
    assert.equal(addrs.length, 200);
    for (const id of ids) await h.client.request('DELETE', `/v1/sandboxes/${id}`);
    assert.deepEqual((await doctor()).violations, []);
  });

  it('cold start after a simulated reboot restores every network and releases dead sandboxes', async () => {
    const before = await h.client.request<NetworkInspect[]>('GET', '/v1/networks');
    const sb = await sandbox('da');
    await h.stop('SIGKILL');
    // Reboot: every namespace and process is gone, /run is empty.
    process.kill(sb.pid!, 'SIGKILL');
    await run('umount', ['-l', sb.netnsPath]);
    await run('rm', ['-rf', h.runDir]);
    await mustRun('ip', ['netns', 'del', h.ns]);
    await mustRun('ip', ['netns', 'add', h.ns]);
    await mustRun('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
    await h.start();
    const nets = await h.client.request<NetworkInspect[]>('GET', '/v1/networks');
    assert.deepEqual(nets.map((n) => n.Name).sort(), before.map((n) => n.Name).sort(), 'every network is still recorded');
    for (const n of nets.filter((x) => x.Driver === 'bridge')) {
      const br = n.Options['com.docker.network.bridge.name']!;
      const a = await h.inHost('ip', ['-o', 'addr', 'show', 'dev', br]);
      assert.equal(a.code, 0, `bridge ${br} re-created`);
      assert.ok(a.stdout.includes(n.IPAM.Config[0]!.Gateway), `gateway on ${br}`);
      assert.deepEqual(n.Containers, {}, `no endpoint left on ${n.Name}`);
    }
    assert.deepEqual(await h.client.request('GET', '/v1/sandboxes'), []);
    assert.equal((await h.inHost('nft', ['list', 'table', 'inet', 'weft'])).code, 0, 'firewall restored');
    assert.deepEqual((await doctor()).violations, []);
    // And the restored network works.
    const x = await runDetached(['--name', 'after', '--network', 'd', '--', node, NETTOOL, 'tcp-server', '7000']);
    const y = await runDetached(['--name', 'after2', '--network', 'd', '--', 'sleep', '600']);
    const r = await waitFor('traffic after reboot', async () => {
      const o = await SimHost.inNetns(y.netnsPath, node, [NETTOOL, 'tcp-client', x.endpoints[0]!.ipv4!.split('/')[0]!, '7000', 'up']);
      return o.code === 0 ? o.stdout.trim() : undefined;
    });
    assert.match(r, / up$/);
  });

  it('the API is for root only: 0600 socket, and peer credentials are checked', async () => {
    assert.equal(statSync(h.socket).mode & 0o777, 0o600);
    chmodSync(h.socket, 0o666);
    chmodSync(h.runDir, 0o755);
    try {
      const child = spawn(node, [WEFT, '-H', h.socket, 'network', 'ls'], { uid: 65534, gid: 65534 });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
      assert.notEqual(code, 0);
      assert.match(err, /root/, `refused for uid 65534: ${err}`);
    } finally {
      chmodSync(h.socket, 0o600);
      chmodSync(h.runDir, 0o711);
    }
    assert.ok(existsSync(h.socket));
  });
});
