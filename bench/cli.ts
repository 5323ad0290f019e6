/**
 * How fast the weft CLI answers, side by side with what a Docker user compares it to, in one
 * run (rounds alternate the commands so the machine's load hits all alike):
 *   weft network ls                      vs  docker network ls (a real dockerd)
 *   weft run --network none -- true      vs  unshare -n true
 * `weft` is dist/bin/weft, the compiled launcher users run (src/cli/weft-launcher.c): it runs a
 * plain foreground `weft run` itself and execs the Node CLI for everything else (so `network ls`
 * is the Node CLI plus one exec). Also timed, to show what the time is made of: Node's own start
 * (`node -e 0`), the Node CLI's start without a request (`weft --version`), the same run through
 * the Node CLI (`node bin/weft.js run …`), and traced runs (WEFT_TRACE=1: ms at each step).
 * weftd and dockerd both run in one fake host namespace with their own state, sockets and
 * pidfiles, and are removed afterwards (by PID). The load average is printed before and after.
 *   node dist/bench/cli.js [--runs 30] [--tag clibench] [--before DIR]
 * --tag: the fake host's namespace is weft-t-TAG-…; --before DIR: also time an older build of
 * weft (a checkout with `npm run build` done), same rounds.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import path from 'node:path';
import { REPO, SimHost, WEFT } from '../src/lab/sim-host.js';
import { DOCKER, DockerLab } from '../src/lab/docker-lab.js';
import { printTable, summarize } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const RUNS = Number(opt('--runs') ?? 30);
const BEFORE = opt('--before');
const TAG = opt('--tag') ?? 'clibench';
const LAUNCHER = path.join(REPO, 'dist/bin/weft');
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

interface Case {
  label: string;
  cmd: string[];
}

/** Run once, return wall ms; a failing command fails the benchmark. */
function timeOnce(c: Case, env: NodeJS.ProcessEnv = process.env): number {
  const t0 = performance.now();
  const r = spawnSync(c.cmd[0]!, c.cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env, timeout: 30_000 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${c.cmd.join(' ')} → ${r.status ?? r.signal}: ${String(r.stderr)}`);
  return ms;
}

function traced(cmd: string[]): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WEFT_TRACE: '1' } });
  return /weft-trace: (.*)/.exec(String(r.stderr))?.[1] ?? `(no trace: ${String(r.stderr).trim()})`;
}

async function main(): Promise<void> {
  const loadBefore = load();
  const h = await SimHost.create(TAG);
  const dk = new DockerLab(h);
  try {
    await h.start();
    await dk.start();
    const node = process.execPath;
    const weft = (...a: string[]): string[] => [LAUNCHER, '-H', `unix://${h.socket}`, ...a];
    const nodeWeft = (...a: string[]): string[] => [node, WEFT, '-H', `unix://${h.socket}`, ...a];
    const runArgs = ['run', '--network', 'none', '--', 'true'];
    const cases: Case[] = [
      { label: 'node -e 0 (Node start, reference)', cmd: [node, '-e', '0'] },
      { label: 'weft --version (Node CLI start, no request)', cmd: weft('--version') },
      { label: 'weft network ls', cmd: weft('network', 'ls') },
      { label: 'docker network ls', cmd: [DOCKER, '-H', `unix://${dk.socket}`, 'network', 'ls'] },
      { label: 'weft run --network none -- true', cmd: weft(...runArgs) },
      { label: 'node bin/weft.js run --network none -- true', cmd: nodeWeft(...runArgs) },
      { label: 'unshare -n true', cmd: ['unshare', '-n', 'true'] },
    ];
    if (BEFORE) {
      const old = path.join(path.resolve(BEFORE), 'bin/weft.js');
      cases.push({ label: 'weft network ls (before)', cmd: [node, old, '-H', h.socket, 'network', 'ls'] });
      cases.push({
        label: 'weft run --network none -- true (before)',
        cmd: [node, old, '-H', h.socket, 'run', '--network', 'none', '--', 'true'],
      });
    }
    const samples = new Map<string, number[]>(cases.map((c) => [c.label, []]));
    for (const c of cases) timeOnce(c); // warm-up: page cache, dockerd's first answer
    for (let r = 0; r < RUNS; r++) for (const c of cases) samples.get(c.label)!.push(timeOnce(c));
    const s = (label: string) => summarize(samples.get(label)!);
    process.stdout.write(
      `weft CLI vs docker CLI and unshare, ${RUNS} alternating rounds, wall ms (${new Date().toISOString()}; ` +
        `load average ${loadBefore} before, ${load()} after)\n`,
    );
    printTable(
      ['command', 'p50', 'p99', 'mean'],
      cases.map((c) => [c.label, s(c.label).p50, s(c.label).p99, s(c.label).mean]),
    );
    const ls = s('weft network ls').p50 / s('docker network ls').p50;
    const run = s('weft run --network none -- true').p50 - s('unshare -n true').p50;
    process.stdout.write(
      `\nweft network ls / docker network ls (p50): ${ls.toFixed(2)}× (goal ≤ 2×: ${ls <= 2 ? 'met' : 'NOT met'})\n` +
        `weft run − unshare -n (p50): ${run.toFixed(1)} ms (goal ≤ 150 ms: ${run <= 150 ? 'met' : 'NOT met'})\n` +
        `through the Node CLI instead: ${(s('node bin/weft.js run --network none -- true').p50 - s('unshare -n true').p50).toFixed(1)} ms ` +
        `more than unshare, of which Node's own start is ${s('node -e 0 (Node start, reference)').p50.toFixed(1)} ms (p50).\n`,
    );
    process.stdout.write('\nsteps (WEFT_TRACE=1, ms since the process started; one run each):\n');
    process.stdout.write(`  network ls: ${traced(weft('network', 'ls'))}\n`);
    process.stdout.write(`  run:        ${traced(weft(...runArgs))}\n`);
    process.stdout.write(`  run (Node): ${traced(nodeWeft(...runArgs))}\n`);
  } finally {
    await dk.cleanup();
    await h.cleanup();
  }
}

await main();
