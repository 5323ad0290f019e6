/**
 * Attach targets (issue 9, defects 3 and 4). The host's own namespace — weftd's, reached by
 * --pid of a host process, --netns /proc/self/ns/net or a CNI_NETNS naming it — is refused and
 * the host is left exactly as it was; the same namespace attached twice is "already attached";
 * a netns path that is a FIFO (or a socket, a device, a directory, a plain file) is refused
 * at once, and the daemon's API and DNS keep answering meanwhile.
 *
 * The machine's real root namespace (pid 1's) is refused by the same identity check; it is
 * covered by a unit test only, so that no run of this file can ever touch the real host.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SimHost, REPO, mustRun, run, waitFor } from '../../src/lab/sim-host.js';
import type { SandboxView } from '../../src/controller/inspect.js';

const DNS_TOOL = path.join(REPO, 'dist/src/lab/dns-lab-tool.js');

describe('attach targets: never the host, never twice, never blocking', () => {
  let h: SimHost;
  let weftdPid: number;
  const children: ChildProcess[] = [];
  const fifos: string[] = [];

  /** Links, addresses and routes of the fake host: what a refused attach must leave unchanged. */
  const hostState = async (): Promise<string> => {
    const links = (await h.inHost('ip', ['-o', 'link', 'show'])).stdout.replace(/ state \S+/g, '').replace(/link\/\S+ \S+ brd \S+/g, '');
    const addrs = (await h.inHost('ip', ['-o', 'addr', 'show'])).stdout.replace(/valid_lft.*$/gm, '');
    const routes = (await h.inHost('ip', ['route', 'show', 'table', 'all'])).stdout;
    return [links, addrs, routes].join('\n---\n');
  };

  before(async () => {
    h = await SimHost.create('hostns');
    await h.start();
    weftdPid = (await h.client.request<{ pid: number }>('GET', '/v1/info')).pid;
    await h.cliOk(['network', 'create', '--subnet', '10.162.0.0/24', 'n']);
  });
  after(async () => {
    // Release anything a blocked open might still wait on (a daemon without the fix).
    for (const f of fifos) {
      try {
        closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        /* no reader left */
      }
    }
    for (const c of children) c.kill('SIGKILL');
    await h?.cleanup();
  });

  it('refuses the host namespace by --pid, by --netns /proc/self/ns/net and through CNI, changing nothing', async () => {
    const before = await hostState();
    const hostProc = spawn('nsenter', [`--net=${h.nsPath}`, 'sleep', '300'], { stdio: 'ignore' });
    children.push(hostProc);
    await waitFor('host process', () => hostProc.pid !== undefined);
    for (const args of [
      ['attach', '--pid', String(weftdPid), '--network', 'n'],
      ['attach', '--pid', String(hostProc.pid), '--network', 'n'],
      ['attach', '--netns', '/proc/self/ns/net', '--network', 'n'],
      ['attach', '--netns', `/proc/${weftdPid}/ns/net`, '--network', 'n'],
    ]) {
      const r = await h.cli(args);
      assert.notEqual(r.code, 0, `weft ${args.join(' ')} must be refused`);
      assert.match(r.stderr, /host's/, r.stderr);
    }
    const cni = await h.client.request<{ exitCode: number; output: { code: number; msg: string; details?: string } }>('POST', '/v1/cni', {
      plugin: 'weft',
      env: {
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: 'hostctr',
        CNI_NETNS: `/proc/${weftdPid}/ns/net`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: '/opt/cni/bin',
      },
      stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'weft' }),
    });
    assert.equal(cni.exitCode, 1, JSON.stringify(cni));
    assert.match(`${cni.output.msg} ${cni.output.details ?? ''}`, /host's/);
    assert.deepEqual(await h.client.request<SandboxView[]>('GET', '/v1/sandboxes'), [], 'no sandbox recorded');
    assert.equal(await hostState(), before, 'no interface, address or route was added to the host');
    const doctor = await h.client.request<{ ok: boolean; violations: string[] }>('GET', '/v1/doctor');
    assert.equal(doctor.ok, true, doctor.violations.join('; '));
  });

  it('says "already attached" for a namespace attached twice (by path or by a pid inside it)', async () => {
    const ns = await h.extraNetns('twice');
    const nsPath = `/run/netns/${ns}`;
    const first = await h.cli(['attach', '--netns', nsPath, '--network', 'n', '--name', 'once']);
    assert.equal(first.code, 0, first.stderr);
    const again = await h.cli(['attach', '--netns', nsPath, '--network', 'n']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already attached as sandbox "once"/, again.stderr);
    assert.match(again.stderr, /WEFT_CONFLICT/);
    const inside = spawn('ip', ['netns', 'exec', ns, 'sleep', '300'], { stdio: 'ignore' });
    children.push(inside);
    await waitFor('process in the namespace', async () => (await run('ip', ['netns', 'pids', ns])).stdout.trim() !== '');
    const pid = (await run('ip', ['netns', 'pids', ns])).stdout.trim().split('\n')[0]!;
    const byPid = await h.cli(['attach', '--pid', pid, '--network', 'n']);
    assert.notEqual(byPid.code, 0);
    assert.match(byPid.stderr, /already attached as sandbox "once"/, byPid.stderr);
    const eth = await SimHost.inNetns(nsPath, 'ip', ['-o', 'link', 'show']);
    assert.equal(eth.stdout.match(/eth\d/g)?.length, 1, 'still exactly one weft interface in it');
    await h.cliOk(['sandbox', 'rm', 'once']);
  });

  it('refuses sockets, devices, directories and plain files as namespaces', async () => {
    const dir = path.join(h.dir, 'paths');
    mkdirSync(dir, { recursive: true });
    const sock = path.join(dir, 'sock');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    const file = path.join(dir, 'file');
    writeFileSync(file, '');
    try {
      for (const [p, what] of [
        [sock, 'a socket'],
        ['/dev/null', 'a device'],
        [dir, 'a directory'],
        [file, 'a regular file'],
      ] as const) {
        const r = await h.cli(['attach', '--netns', p, '--network', 'n'], 10_000);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, new RegExp(`is ${what}, not a namespace file`), `${p}: ${r.stderr}`);
      }
    } finally {
      server.close();
    }
  });
  it('refuses a FIFO as a namespace at once while the API and DNS keep answering', async () => {
    const dir = path.join(h.dir, 'paths');
    mkdirSync(dir, { recursive: true });
    const fifo = path.join(dir, 'fifo');
    await mustRun('mkfifo', [fifo]);
    fifos.push(fifo);
    // Through the API first (the request is in flight at once), then probe the daemon.
    const inFlight = h.client.request('POST', '/v1/sandboxes', { kind: 'external', netnsPath: fifo, networks: [{ network: 'n' }] }).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 500));
    const info = await Promise.race([
      h.client.request<{ pid: number }>('GET', '/v1/info'),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000)),
    ]);
    assert.ok(info, 'the API answered while a FIFO was given as a namespace');
    assert.match(await inFlight, /is a FIFO, not a namespace file/);
    const t0 = Date.now();
    const r = await h.cli(['attach', '--netns', fifo, '--network', 'n'], 20_000);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is a FIFO, not a namespace file/, r.stderr);
    assert.ok(Date.now() - t0 < 5000, `refused quickly (${Date.now() - t0} ms)`);
    const cni = await h.client.request<{ exitCode: number; output: { code: number; msg: string } }>('POST', '/v1/cni', {
      plugin: 'weft',
      env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'fifoctr', CNI_NETNS: fifo, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' },
      stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'weft' }),
    });
    assert.equal(cni.exitCode, 1);
    assert.match(cni.output.msg, /FIFO/);
    // DNS on the network's gateway still answers a sandbox on it.
    const sb = await h.runDetached(['--name', 'asker', '--network', 'n', '--', 'sleep', '300']);
    const q = await SimHost.inNetns(sb.netnsPath, process.execPath, [
      DNS_TOOL,
      'query',
      JSON.stringify({ server: '10.162.0.1', port: 53, queries: [{ name: 'asker', type: 'A' }], timeoutMs: 2000 }),
    ]);
    assert.match(q.stdout, new RegExp(sb.endpoints[0]!.ipv4!.split('/')[0]!.replace(/\./g, '\\.')), q.stdout + q.stderr);
  });
});
