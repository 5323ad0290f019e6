/** Stopping a sandbox's command: grace parsing, refusal rules, and SIGTERM → SIGKILL on real processes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { assertRemovable, assertStoppable, parseGraceSeconds, runsCommand } from '../../src/controller/sandbox-stop.js';
import { stopProcess } from '../../src/kernel/process-stop.js';
import { isAlive, parseStat, processStartTime } from '../../src/kernel/proc.js';
import { readFileSync, readdirSync } from 'node:fs';
import type { SandboxRecord } from '../../src/model/types.js';

/** The controller asks the kernel port; here the real /proc answers. */
const kernel = { isAlive };

const record = (extra: Partial<SandboxRecord>): SandboxRecord => ({
  id: 'a'.repeat(64),
  name: 'x',
  kind: 'netns',
  netnsPath: '/run/weft/netns/x',
  dns: [],
  hostname: 'x',
  labels: {},
  created: '',
  ...extra,
});

describe('sandbox stop rules', () => {
  it('parses -t as whole seconds from 0 to 3600, 10 by default', () => {
    assert.equal(parseGraceSeconds(null), 10);
    assert.equal(parseGraceSeconds('0'), 0);
    assert.equal(parseGraceSeconds('3600'), 3600);
    for (const bad of ['-1', '1.5', 'x', '3601']) assert.throws(() => parseGraceSeconds(bad), /seconds/);
  });
  it('refuses rm only while a command weft started runs', () => {
    const running = record({ pid: process.pid, pidStartTime: processStartTime(process.pid), managedProcess: true });
    assert.equal(runsCommand(kernel, running), true);
    assert.throws(() => assertRemovable(kernel, running, false), /is running/);
    assert.doesNotThrow(() => assertRemovable(kernel, running, true));
    // The same pid, but not a command weft started (the CLI tied to a new sandbox, an attach --pid).
    assert.doesNotThrow(() => assertRemovable(kernel, record({ pid: process.pid, pidStartTime: processStartTime(process.pid) }), false));
    assert.throws(() => assertStoppable(record({ kind: 'external' })), /did not start/);
  });
});

describe('stopProcess', () => {
  it('ends a process that obeys SIGTERM without waiting the grace period', async () => {
    const c = spawn('sleep', ['60'], { stdio: 'ignore' });
    await new Promise((r) => c.once('spawn', r));
    const t0 = Date.now();
    assert.equal(await stopProcess(c.pid!, processStartTime(c.pid!), 5000), 'exited');
    assert.ok(Date.now() - t0 < 2000);
  });
  it('kills one that ignores SIGTERM after the grace period, with its process group', async () => {
    const c = spawn('sh', ['-c', 'trap "" TERM; sleep 60 & exec sleep 61'], { stdio: 'ignore', detached: true });
    await new Promise((r) => c.once('spawn', r));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    assert.equal(await stopProcess(c.pid!, processStartTime(c.pid!), 500), 'killed');
    assert.ok(Date.now() - t0 >= 500);
    assert.equal(isAlive(c.pid!), false);
    // Killed members may linger as zombies until reaped: count the ones still running.
    const running = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map((p) => {
        try {
          return parseStat(readFileSync(`/proc/${p}/stat`, 'utf8'));
        } catch {
          return undefined;
        }
      })
      .filter((f) => f !== undefined && Number(f[2]) === c.pid && f[0] !== 'Z');
    assert.deepEqual(running, [], 'the background child in its group went too');
  });
  it('does nothing to a pid whose start time is not the recorded one', async () => {
    assert.equal(await stopProcess(process.pid, '1', 100), 'not-running');
  });
});
