/**
 * `lab down` ends every process the lab or the weftd of its hosts started — also the commands
 * of `weft run -d` sandboxes, which live in namespaces weftd made (mounted under the lab's
 * directory, not in the lab's list) — by pid, and leaves every other process alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { WeftClient } from '../../src/cli/client.js';
import { pidAlive } from '../../src/lab/etcd-process.js';

/** Alive and not a zombie waiting for its parent. */
const running = (pid: number): boolean => {
  if (!pidAlive(pid)) return false;
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('lab down ends the processes of weft run sandboxes', { timeout: 180_000 }, () => {
  let lab: ClusterLab | undefined;
  let outsider: ChildProcess | undefined;
  const sandboxPids: number[] = [];

  before(async () => {
    lab = await ClusterLab.up({ hosts: 1, name: `td${randomBytes(3).toString('hex')}` });
    // A process of ours outside the lab: down must not touch it.
    outsider = spawn('sleep', ['600'], { stdio: 'ignore' });
  });
  after(async () => {
    // On failure: the lab (if still up) and anything this test saw started, by pid.
    if (lab && existsSync(lab.state.dir)) await lab.down();
    for (const pid of sandboxPids) if (running(pid)) process.kill(pid, 'SIGKILL');
    outsider?.kill('SIGKILL');
  });

  it('weft run -d sandboxes (own namespace and the default network) are gone after down', async () => {
    const l = lab!;
    const h = l.host('h1');
    const client = new WeftClient(h.socket);
    try {
      for (const net of [['--network', 'none'], []]) {
        const r = await l.weft('h1', ['run', '-d', ...net, '--', 'sleep', '600'], 60_000);
        assert.equal(r.code, 0, r.stderr);
        const sb = await client.request<{ pid: number }>('GET', `/v1/sandboxes/${r.stdout.trim()}`);
        assert.ok(sb.pid > 0 && running(sb.pid), 'the sandbox command runs');
        assert.deepEqual(readFileSync(`/proc/${sb.pid}/cmdline`, 'utf8').split('\0').slice(0, 2), ['sleep', '600']);
        sandboxPids.push(sb.pid);
      }
    } finally {
      client.close();
    }
    await l.down();
    lab = undefined;
    assert.deepEqual(
      sandboxPids.filter((p) => running(p)),
      [],
      'sandbox commands left running after lab down',
    );
    assert.ok(outsider?.pid !== undefined && running(outsider.pid), 'a process outside the lab was left alone');
  });
});
