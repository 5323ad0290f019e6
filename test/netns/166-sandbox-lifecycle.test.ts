/**
 * A sandbox started by `weft run` is like a container (issue 9, defect 9): `weft sandbox rm`
 * refuses while its command runs, `rm -f` and `weft sandbox stop` stop it (SIGTERM, SIGKILL
 * after `-t`), and a namespace weft did not start is only detached — its process keeps running.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { SimHost, run, waitFor } from '../../src/lab/sim-host.js';
import { isAlive } from '../../src/kernel/proc.js';
import type { SandboxView } from '../../src/controller/inspect.js';

describe('sandbox rm / stop', () => {
  let h: SimHost;
  const children: ChildProcess[] = [];

  before(async () => {
    h = await SimHost.create('life');
    await h.start();
    await h.cliOk(['network', 'create', '--subnet', '10.166.0.0/24', 'n']);
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await h?.cleanup();
  });

  const exists = async (ref: string): Promise<boolean> =>
    (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).some((s) => s.name === ref);
  const hostLink = async (name: string): Promise<boolean> => (await h.inHost('ip', ['link', 'show', name])).code === 0;

  it('rm refuses while the command runs, and changes nothing', async () => {
    const sb = await h.runDetached(['--name', 'busy', '--network', 'n', '--', 'sleep', '300']);
    const r = await h.cli(['sandbox', 'rm', 'busy']);
    assert.notEqual(r.code, 0, 'refused');
    assert.match(r.stderr, /is running \(pid \d+\).*--force/, r.stderr);
    assert.ok(isAlive(sb.pid!), 'the command still runs');
    assert.ok(await exists('busy'), 'the sandbox is still there');
    assert.ok(await hostLink(sb.endpoints[0]!.hostIfname!), 'and still connected');
  });

  it('rm -f stops the command: SIGTERM, then SIGKILL after -t when it ignores SIGTERM', async () => {
    const sb = await h.runDetached(['--name', 'stubborn', '--network', 'n', '--', 'sh', '-c', 'trap "" TERM; exec sleep 300']);
    const t0 = Date.now();
    const r = await h.cli(['sandbox', 'rm', '-f', '-t', '1', 'stubborn']);
    const ms = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(isAlive(sb.pid!), false, 'the command is gone');
    assert.ok(ms >= 1000, `waited the grace period before SIGKILL (${ms} ms)`);
    assert.ok(ms < 8000, `then killed it (${ms} ms)`);
    assert.equal(await exists('stubborn'), false);
    assert.equal(await hostLink(sb.endpoints[0]!.hostIfname!), false, 'its veth is gone');
  });

  it('sandbox stop ends the command with SIGTERM and releases the sandbox', async () => {
    const busy = await h.sandbox('busy');
    const t0 = Date.now();
    await h.cliOk(['sandbox', 'stop', '-t', '5', 'busy']);
    assert.ok(Date.now() - t0 < 4000, 'sleep exits on SIGTERM without waiting for the grace period');
    assert.equal(isAlive(busy.pid!), false);
    assert.equal(await exists('busy'), false);
    assert.equal(await hostLink(busy.endpoints[0]!.hostIfname!), false);
  });

  it('rm detaches a namespace weft did not start and never kills its process; stop refuses it', async () => {
    const ns = await h.extraNetns('ext');
    const proc = spawn('ip', ['netns', 'exec', ns, 'sleep', '300'], { stdio: 'ignore' });
    children.push(proc);
    await waitFor('process in the namespace', async () => (await run('ip', ['netns', 'pids', ns])).stdout.trim() !== '');
    const pid = Number((await run('ip', ['netns', 'pids', ns])).stdout.trim().split('\n')[0]);
    await h.cliOk(['attach', '--pid', String(pid), '--network', 'n', '--name', 'theirs']);
    const stop = await h.cli(['sandbox', 'stop', 'theirs']);
    assert.notEqual(stop.code, 0);
    assert.match(stop.stderr, /did not start.*detach/, stop.stderr);
    await h.cliOk(['sandbox', 'rm', 'theirs']);
    assert.ok(isAlive(pid), 'the attached process keeps running');
    const links = await SimHost.inNetns(`/run/netns/${ns}`, 'ip', ['-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, /eth0/, 'weft took its interface back');
    assert.equal(await exists('theirs'), false);
  });
});
