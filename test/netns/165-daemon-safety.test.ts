/**
 * weftd itself must not harm the host it runs on (issue 9, defects 8 and 10): a second daemon
 * on the same state refuses to start, naming the first one's pid, and never unlinks a live
 * socket; a dead daemon's socket is still cleaned up; a non-root weftd stops at once with a
 * plain message instead of failing halfway through the kernel.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SimHost, WEFTD, run } from '../../src/lab/sim-host.js';

const node = process.execPath;

describe('daemon safety: one weftd per state, root only', () => {
  let h: SimHost;
  let firstPid: number;

  before(async () => {
    h = await SimHost.create('dmn');
    await h.start();
    firstPid = (await h.client.request<{ pid: number }>('GET', '/v1/info')).pid;
  });
  after(async () => {
    await h?.cleanup();
  });

  /** Start another weftd in the same fake host with these flags; resolves when it exits (bounded). */
  const second = (flags: string[]) =>
    run('nsenter', [`--net=${h.nsPath}`, node, WEFTD, '--firewall', 'none', ...flags], { timeoutMs: 20_000 });

  it('a second weftd on the same state directory refuses to start and names the running pid', async () => {
    const ino = statSync(h.socket).ino;
    const r = await second(['--state-dir', h.stateDir, '--run-dir', h.runDir]);
    assert.notEqual(r.code, 0, 'the second daemon must not run');
    assert.match(r.stderr, new RegExp(`another weftd \\(pid ${firstPid}\\)`), r.stderr);
    assert.equal(statSync(h.socket).ino, ino, "the first daemon's socket was not replaced");
    const info = await h.client.request<{ pid: number }>('GET', '/v1/info');
    assert.equal(info.pid, firstPid, 'the first daemon still answers on its socket');
  });

  it('a second weftd with its own state but the same run directory is refused too', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'weft-dmn-state-'));
    try {
      const r = await second(['--state-dir', other, '--run-dir', h.runDir, '--socket', path.join(other, 'w.sock')]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`pid ${firstPid}`), r.stderr);
      assert.equal(existsSync(path.join(other, 'weft.db')), false, 'it stopped before opening a store');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('a weftd with separate state but pointed at a live socket leaves that socket alone', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'weft-dmn-state-'));
    const ino = statSync(h.socket).ino;
    try {
      const r = await second([
        '--state-dir',
        path.join(other, 'state'),
        '--run-dir',
        path.join(other, 'run'),
        '--socket',
        h.socket,
        '--docker-plugin-socket',
        '',
      ]);
      assert.notEqual(r.code, 0, 'refused: the socket is live');
      assert.match(r.stderr, /live socket/, r.stderr);
      assert.equal(statSync(h.socket).ino, ino, 'the live socket was not unlinked');
      assert.equal((await h.client.request<{ pid: number }>('GET', '/v1/info')).pid, firstPid);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("a dead daemon's stale socket is cleaned up and a new daemon starts", async () => {
    await h.stop('SIGKILL');
    assert.ok(existsSync(h.socket), 'SIGKILL left the socket file behind');
    await h.start();
    const info = await h.client.request<{ pid: number }>('GET', '/v1/info');
    assert.notEqual(info.pid, firstPid);
    firstPid = info.pid;
  });

  it('weftd as a non-root user stops at once with a plain message and changes nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weft-nonroot-'));
    chmodSync(dir, 0o777); // so the failure cannot be a mkdir EACCES in our temp dir
    try {
      const t0 = Date.now();
      const r = await run(
        'nsenter',
        [
          `--net=${h.nsPath}`,
          'setpriv',
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          node,
          WEFTD,
          '--state-dir',
          path.join(dir, 'state'),
          '--run-dir',
          path.join(dir, 'run'),
          '--firewall',
          'none',
          '--docker-plugin-socket',
          '',
        ],
        { timeoutMs: 20_000 },
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /weftd must run as root: it programs the kernel/, r.stderr);
      assert.ok(Date.now() - t0 < 10_000, 'fails fast');
      assert.deepEqual(readdirSync(dir), [], 'nothing was created');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
