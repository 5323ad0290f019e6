/**
 * The process supervisor against real processes (a tiny Node daemon, supervisor-child.ts):
 * readiness, logs with a size bound, stop with SIGTERM then SIGKILL, restart with backoff and
 * a cap, adoption after a "weftd restart", and refusal to adopt (or signal) a pid that now
 * runs something else. Every process a test starts is stopped by pid in after().
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MissingProgramError, TimeoutError, WeftError } from '../../src/errors.js';
import { isAlive } from '../../src/kernel/proc.js';
import { readCmdline } from '../../src/kernel/process-identity.js';
import { resolveProgram } from '../../src/kernel/program-path.js';
import { SupervisedProcess, Supervisor, type ProgramSpec, type SupervisorEvents } from '../../src/kernel/supervisor.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'supervisor-child.js');
const dir = mkdtempSync(path.join(tmpdir(), 'weft-supervisor-'));
const started = new Set<SupervisedProcess>();
const strayPids = new Set<number>();
let n = 0;

function spec(args: string[], over: Partial<ProgramSpec> = {}): ProgramSpec {
  const name = `child-${++n}`;
  return {
    name,
    program: process.execPath,
    packageName: 'nodejs',
    args: [CHILD, ...args],
    env: { PATH: process.env.PATH ?? '', WEFT_SUPERVISOR_CHILD: '1' },
    runDir: dir,
    readyTimeoutMs: 5000,
    stopGraceMs: 2000,
    ...over,
  };
}

function supervised(s: ProgramSpec): SupervisedProcess {
  const p = new SupervisedProcess(s);
  started.add(p);
  return p;
}

const sock = (tag: string): string => path.join(dir, `${tag}-${++n}.sock`);

function nextEvent<K extends keyof SupervisorEvents>(p: SupervisedProcess, ev: K, ms = 10_000): Promise<SupervisorEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${ev} event within ${ms} ms`)), ms);
    p.once(ev, ((v: SupervisorEvents[K][0]) => {
      clearTimeout(t);
      resolve(v);
    }) as never);
  });
}

async function waitUntil(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('kernel: process supervisor', () => {
  after(async () => {
    const errors: unknown[] = [];
    for (const p of started) await p.stop().catch((e: unknown) => errors.push(e));
    for (const pid of strayPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(errors, []);
  });

  it('starts from an argument vector, waits for its socket, logs its output, and stops it with SIGTERM', async () => {
    const s = sock('ready');
    const p = supervised(spec(['serve', s, '--delay', '300'], { ready: { socket: s } }));
    const t0 = Date.now();
    const { pid, adopted } = await p.ensure();
    assert.equal(adopted, false);
    assert.ok(Date.now() - t0 >= 250, 'readiness waited for the socket');
    assert.equal(p.state, 'running');
    assert.equal(readFileSync(p.pidFile, 'utf8'), `${pid}\n`);
    assert.deepEqual(readCmdline(pid), [process.execPath, CHILD, 'serve', s, '--delay', '300']);
    await waitUntil('child output in the log', () => readFileSync(p.log.file, 'utf8').includes(`hello from ${pid}`));
    const exit = nextEvent(p, 'exit');
    await p.stop();
    const info = await exit;
    assert.equal(info.expected, true);
    assert.equal(isAlive(pid), false);
    assert.equal(existsSync(p.pidFile), false);
    assert.equal(p.state, 'stopped');
  });

  it('escalates to SIGKILL when SIGTERM is ignored, after the grace period', async () => {
    const s = sock('stubborn');
    const p = supervised(spec(['serve', s, '--ignore-term'], { ready: { socket: s }, stopGraceMs: 400 }));
    const { pid } = await p.ensure();
    const t0 = Date.now();
    await p.stop();
    const ms = Date.now() - t0;
    assert.equal(isAlive(pid), false);
    assert.ok(ms >= 380 && ms < 3000, `stop took ${ms} ms`);
    assert.match(readFileSync(p.log.file, 'utf8'), /ignored SIGTERM; sending SIGKILL/);
  });

  it('bounds the readiness wait and stops what it started', async () => {
    const s = sock('never');
    const p = supervised(spec(['serve', path.join(dir, 'elsewhere.sock')], { ready: { socket: s }, readyTimeoutMs: 2000 }));
    let pid = 0;
    p.once('started', (e) => (pid = e.pid));
    // 2 s: the child (a Node program) must have started and printed before the wait ends, even on a busy machine.
    await assert.rejects(p.ensure(), (e: unknown) => e instanceof TimeoutError && /hello from/.test(e.message));
    assert.ok(pid > 0);
    assert.equal(isAlive(pid), false);
    assert.equal(p.state, 'stopped');
  });

  it('reports a program that exits before it is ready, with its log tail, and does not restart it', async () => {
    const p = supervised(spec(['crash', '3'], { ready: { socket: sock('crash') } }));
    let restarts = 0;
    p.on('restarting', () => restarts++);
    await assert.rejects(p.ensure(), (e: unknown) => e instanceof WeftError && /exited before it was ready[\s\S]*crashing/.test(e.message));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(restarts, 0);
    assert.equal(p.state, 'stopped');
  });

  it('restarts after an unexpected exit with growing delays, then gives up at the cap', async () => {
    const s = sock('flaky');
    const p = supervised(
      spec(['serve', s, '--exit-after', '150', '7'], {
        ready: { socket: s },
        restart: { initialDelayMs: 50, maxDelayMs: 150, maxRestarts: 3, windowMs: 60_000 },
      }),
    );
    const delays: number[] = [];
    const exits: (number | null)[] = [];
    p.on('restarting', (e) => delays.push(e.delayMs));
    p.on('exit', (e) => exits.push(e.code));
    const gaveUp = nextEvent(p, 'gave-up', 15_000);
    await p.ensure();
    const g = await gaveUp;
    assert.equal(g.restarts, 3);
    assert.equal(g.last.code, 7);
    assert.deepEqual(delays, [50, 100, 150]);
    assert.deepEqual(exits, [7, 7, 7, 7]);
    assert.equal(p.state, 'failed');
    assert.equal(existsSync(p.pidFile), false);
  });

  it('adopts a running child after a restart of its supervisor, and restarts it when it dies', async () => {
    const s = sock('adopt');
    const base = spec(['serve', s], { ready: { socket: s }, restart: { initialDelayMs: 50 } });
    const first = supervised(base);
    const { pid } = await first.ensure();
    first.detach(); // weftd exits, the daemon stays
    assert.equal(isAlive(pid), true);
    assert.equal(readFileSync(first.pidFile, 'utf8'), `${pid}\n`);

    const second = supervised(base);
    const again = await second.ensure();
    assert.deepEqual(again, { pid, adopted: true });
    assert.equal(second.pid, pid);

    const restarted = nextEvent(second, 'ready', 10_000);
    process.kill(pid, 'SIGKILL'); // we started it: an unexpected death
    const r = await restarted;
    assert.notEqual(r.pid, pid);
    assert.equal(second.pid, r.pid);
    assert.equal(readFileSync(second.pidFile, 'utf8'), `${r.pid}\n`);
  });

  it('never adopts (or signals) a pid from its pid file that now runs something else', async () => {
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    assert.ok(stranger.pid);
    strayPids.add(stranger.pid);
    const s = sock('reuse');
    const p = supervised(spec(['serve', s], { ready: { socket: s } }));
    writeFileSync(p.pidFile, `${stranger.pid}\n`);
    const { pid, adopted } = await p.ensure();
    assert.equal(adopted, false);
    assert.notEqual(pid, stranger.pid);
    await p.stop();
    assert.equal(isAlive(stranger.pid), true, 'the unrelated process was left alone');
    assert.match(readFileSync(p.log.file, 'utf8'), new RegExp(`not adopting .*pid ${stranger.pid} runs`));
    stranger.kill('SIGKILL');
  });

  it('keeps the log within its bound by rotating to a single backup', async () => {
    const s = sock('spam');
    const p = supervised(spec(['serve', s, '--spam', '400000'], { ready: { socket: s }, logMaxBytes: 64 * 1024, logCheckMs: 50 }));
    await p.ensure();
    await waitUntil('a rotation', () => existsSync(`${p.log.file}.1`), 10_000);
    await new Promise((r) => setTimeout(r, 1500)); // let the spam finish and a few more checks run
    const size = statSync(p.log.file).size;
    const backup = statSync(`${p.log.file}.1`).size;
    // Bound + what one check interval lets through (the child writes ~200 KB/s here).
    assert.ok(size <= 64 * 1024 + 64 * 1024, `log is ${size} bytes`);
    assert.ok(backup > 64 * 1024 && backup < 400_000, `backup is ${backup} bytes`);
  });

  it('names the package when the program is missing, before starting anything', async () => {
    const p = new SupervisedProcess({ ...spec([]), program: 'weft-no-such-daemon', packageName: 'weft-imaginary' });
    await assert.rejects(
      p.ensure(),
      (e: unknown) => e instanceof MissingProgramError && /weft-imaginary/.test(e.message) && e.code === 'WEFT_NOT_FOUND',
    );
    assert.throws(() => resolveProgram('relative/bird', 'bird2'), /bare name or an absolute path/);
    assert.equal(resolveProgram('bird', 'bird2'), '/usr/sbin/bird');
  });

  it('refuses bad specs and duplicate names in the registry; stopAll stops everything', async () => {
    assert.throws(() => new SupervisedProcess({ ...spec([]), name: 'Bad Name' }), /name/);
    assert.throws(() => new SupervisedProcess({ ...spec([]), runDir: 'relative' }), /runDir/);
    const reg = new Supervisor();
    const s1 = sock('reg');
    const a = reg.add(spec(['serve', s1], { name: 'reg-a', ready: { socket: s1 } }));
    started.add(a);
    assert.throws(() => reg.add(spec([], { name: 'reg-a' })), /already supervised/);
    const { pid } = await a.ensure();
    await reg.stopAll();
    assert.equal(isAlive(pid), false);
    assert.equal(reg.list().length, 0);
  });
});
