/**
 * The daemon's own guards, without a daemon: the privilege check (pure), the state lock (two
 * locks in one process conflict as two processes would: flock is per open file), and claiming
 * a socket path (live sockets and non-sockets are refused, stale ones removed).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { capEffOf, NOT_ROOT_MESSAGE, privilegeProblem } from '../../src/kernel/privileges.js';
import { acquireStateLock, LOCK_FILE } from '../../src/kernel/state-lock.js';
import { claimSocketPath, releaseSocketPath, socketInode } from '../../src/api/unix-socket-path.js';
import { ConflictError } from '../../src/errors.js';

const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'weft-unit-'));

describe('privilege check', () => {
  it('refuses any uid but 0 with the plain message', () => {
    assert.equal(privilegeProblem(1000, 'ffffffffff'), NOT_ROOT_MESSAGE);
    assert.equal(privilegeProblem(65534, undefined), NOT_ROOT_MESSAGE);
  });
  it('accepts root with full capabilities or unknown capabilities', () => {
    assert.equal(privilegeProblem(0, '000001ffffffffff'), undefined);
    assert.equal(privilegeProblem(0, undefined), undefined);
  });
  it('names the capabilities root is missing', () => {
    const noNetAdmin = (0x1ffffffffffn & ~(1n << 12n)).toString(16);
    assert.match(privilegeProblem(0, noNetAdmin)!, /without CAP_NET_ADMIN;/);
    assert.match(privilegeProblem(0, '0')!, /without CAP_NET_ADMIN and CAP_SYS_ADMIN/);
  });
  it('reads CapEff from a status text', () => {
    assert.equal(capEffOf('Name:\tx\nCapInh:\t0\nCapEff:\t000001ffffffffff\nCapBnd:\t1\n'), '000001ffffffffff');
    assert.equal(capEffOf('Name:\tx\n'), undefined);
  });
});

describe('state lock', () => {
  it('a second lock on the same state directory is refused, naming the holder pid', () => {
    const d = tmp();
    try {
      const a = acquireStateLock({ stateDir: path.join(d, 's'), runDir: path.join(d, 'r') });
      assert.equal(readFileSync(path.join(d, 's', LOCK_FILE), 'utf8').trim(), String(process.pid));
      assert.throws(
        () => acquireStateLock({ stateDir: path.join(d, 's'), runDir: path.join(d, 'other-run') }),
        (e: unknown) => e instanceof ConflictError && new RegExp(`pid ${process.pid}`).test(e.message) && e.field === 'state-dir',
      );
      assert.throws(
        () => acquireStateLock({ stateDir: path.join(d, 'other-state'), runDir: path.join(d, 'r') }),
        (e: unknown) => e instanceof ConflictError && e.field === 'run-dir',
      );
      a.release();
      const b = acquireStateLock({ stateDir: path.join(d, 's'), runDir: path.join(d, 'r') });
      b.release();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('socket path claim', () => {
  it('refuses a live socket, removes a stale one, refuses a regular file', async () => {
    const d = tmp();
    const p = path.join(d, 'x.sock');
    const server = net.createServer();
    try {
      await new Promise<void>((r) => server.listen(p, r));
      await assert.rejects(claimSocketPath(p), /live socket/);
      assert.ok(existsSync(p), 'the live socket is still there');
      // A socket file nobody listens on: what a SIGKILLed daemon leaves.
      const stale = path.join(d, 'stale.sock');
      const killed = spawnSync(process.execPath, [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`,
      ]);
      assert.equal(killed.signal, 'SIGKILL');
      const ino = socketInode(stale);
      assert.notEqual(ino, undefined, 'the dead listener left its socket file');
      await claimSocketPath(stale);
      assert.equal(existsSync(stale), false, 'a stale socket is removed');
      const file = path.join(d, 'plain');
      writeFileSync(file, 'keep me');
      await assert.rejects(claimSocketPath(file), /is not a socket/);
      assert.equal(readFileSync(file, 'utf8'), 'keep me');
      // Release only unlinks the socket it was given the inode of.
      releaseSocketPath(p, (socketInode(p) ?? 0) + 1);
      assert.ok(existsSync(p));
    } finally {
      server.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
