/**
 * What the overlay benches share (bench/overlay.ts, overlay-convergence.ts, overlay-swarm.ts):
 * the load average, iperf3 between two network namespaces, and the convergence probe — a
 * client already waiting in host B's namespace that tries to connect every 2 ms
 * (bench/connect-wait.c), timed from the exec of the command that starts the server on host A.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ClusterLab } from '../src/lab/cluster-lab.js';
import { REPO, run, sleep, type RunResult } from '../src/lab/sim-host.js';

/** The CLI users run (src/cli/weft-launcher.c) and the server every convergence sample starts. */
export const LAUNCHER = path.join(REPO, 'dist/bin/weft');
export const BUSYBOX = '/usr/bin/busybox';
/** A TCP server that starts in about a millisecond (what a user's real server would be measured with). */
export const busyboxServer = (port: number): string[] => [BUSYBOX, 'nc', '-ll', '-p', String(port), '-e', '/bin/true'];
/** Epoch ms with sub-ms resolution (the clients print theirs from CLOCK_REALTIME). */
export const now = (): number => performance.timeOrigin + performance.now();

export const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

/** The machine is shared: every figure goes with the load it was measured under. */
export const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** iperf3, one TCP stream for `seconds`, server in serverNs bound to address, client in clientNs; Gbit/s received. */
export async function iperf3Gbit(serverNs: string, clientNs: string, address: string, seconds: number): Promise<number> {
  const srv = spawn('nsenter', [`--net=${serverNs}`, 'iperf3', '-s', '-1', '-B', address], { stdio: 'ignore' });
  const gone = new Promise<void>((r) => srv.once('exit', () => r()));
  try {
    await sleep(300);
    const out = await run('nsenter', [`--net=${clientNs}`, 'iperf3', '-c', address, '-t', String(seconds), '-J'], {
      timeoutMs: (seconds + 20) * 1000,
    });
    if (out.code !== 0) throw new Error(`iperf3 to ${address}: ${out.stderr || out.stdout.slice(0, 400)}`);
    const j = JSON.parse(out.stdout) as { end: { sum_received: { bits_per_second: number } } };
    return j.end.sum_received.bits_per_second / 1e9;
  } finally {
    if (srv.exitCode === null && srv.signalCode === null) srv.kill('SIGKILL');
    await gone;
  }
}

/** The median of `rounds` runs of f. */
export async function median(rounds: number, f: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < rounds; i++) xs.push(await f());
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)]!;
}

/** The client (bench/connect-wait.c), compiled into dist/bench on first use. */
export function connectWaitBinary(): string {
  const out = path.join(REPO, 'dist/bench/connect-wait');
  const src = path.join(REPO, 'bench/connect-wait.c');
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs)
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, src], { stdio: 'inherit' });
  return out;
}

export interface Waiter {
  ready: Promise<void>;
  connected: Promise<number>;
  kill(): void;
}

/** The client in a namespace, trying ip:port until it connects (bench/connect-wait.c). */
export function startWaiter(netns: string, ip: string, port: number): Waiter {
  const child = spawn('nsenter', [`--net=${netns}`, connectWaitBinary(), ip, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) onReady();
  });
  const connected = new Promise<number>((resolve, reject) =>
    // 'close', not 'exit': the output may still be in the pipe when the process has exited.
    child.on('close', (code) => {
      const line = out.split('\n')[1] ?? '';
      const t = Number(line);
      if (code === 0 && line !== '' && Number.isFinite(t)) resolve(t);
      else reject(new Error(`no connect to ${ip}:${port} from ${netns} (exit ${code})`));
    }),
  );
  return { ready, connected, kill: () => void child.kill('SIGKILL') };
}

/** A command ready to start; start() returns the epoch ms it was told to. */
export interface ArmedCommand {
  start(): number;
  result: Promise<RunResult>;
  kill(): void;
}

/**
 * A command, armed: a shell already running in the lab host's namespace that execs it when
 * the bench writes a line to it, as an interactive shell execs what a user typed. The clock
 * starts at that write, so a figure counts the command's own exec and start but not this Node
 * process's spawn machinery (≈ 5–10 ms of fork/exec bookkeeping a user's shell does not pay).
 */
export function armCommand(lab: ClusterLab, host: string, argv: string[]): ArmedCommand {
  const h = lab.host(host);
  const child = spawn('nsenter', [`--net=/run/netns/${h.ns}`, '/bin/sh', '-c', 'read -r go && exec "$@"', 'sh', ...argv], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: lab.envFor(h),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<RunResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void result.then(() => clearTimeout(timer));
  return {
    start: () => {
      const t = now();
      child.stdin.end('go\n');
      return t;
    },
    result,
    kill: () => void (child.exitCode === null && child.kill('SIGKILL')),
  };
}

export interface Mark {
  phase: string;
  t: number;
  [k: string]: string | number | undefined;
}

/** The phase marks a weftd logged since the last call (its log is JSON lines). */
export class MarkReader {
  private offset: number;
  constructor(private readonly file: string) {
    this.offset = statSync(file).size;
  }
  read(): Mark[] {
    const size = statSync(this.file).size;
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const out: Mark[] = [];
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line.includes('"msg":"phase"')) continue;
      out.push(JSON.parse(line) as Mark);
    }
    return out;
  }
}

/**
 * One convergence sample: the client waits in clientNs for ip:port, then the clock starts and
 * `cmd` (armed) makes the server on host A. `connectMs`: from then to the first successful
 * connect; `runMs`: until the command exited, so connectMs − runMs is what the other host still
 * waited after the command on A was done.
 */
export interface ConvergenceSample {
  connectMs: number;
  runMs: number;
}

export async function convergenceSample(clientNs: string, ip: string, port: number, cmd: ArmedCommand): Promise<ConvergenceSample> {
  const waiter = startWaiter(clientNs, ip, port);
  try {
    await waiter.ready;
    const t0 = cmd.start();
    const r = await cmd.result;
    const runMs = now() - t0;
    if (r.code !== 0) throw new Error(`the server's run command failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    return { connectMs: (await waiter.connected) - t0, runMs };
  } finally {
    cmd.kill();
    waiter.kill();
  }
}

/** `weft ARGS` on a lab host; its stdout, or an error with stderr. */
export async function weftOk(lab: ClusterLab, host: string, args: string[]): Promise<string> {
  const r = await lab.weft(host, args, 60_000);
  if (r.code !== 0) throw new Error(`weft ${args.join(' ')} on ${host}: ${r.stderr}`);
  return r.stdout;
}

/** `weft run -d` on a lab host; the sandbox's first address and namespace. */
export async function weftSandbox(
  lab: ClusterLab,
  host: string,
  name: string,
  network: string,
  cmd: string[],
): Promise<{ ip: string; netnsPath: string }> {
  await weftOk(lab, host, ['run', '-d', '--name', name, '--network', network, '--', ...cmd]);
  type View = { netnsPath: string; endpoints: { ipv4?: string }[] };
  const v = (JSON.parse(await weftOk(lab, host, ['sandbox', 'inspect', name])) as View[])[0]!;
  return { ip: v.endpoints[0]!.ipv4!.split('/')[0]!, netnsPath: v.netnsPath };
}

/**
 * weft's side of a convergence sample on an overlay network: a client sandbox on host B; each
 * sample is `weft run -d` (the compiled launcher users run) of a busybox TCP server on A, armed
 * like any other command. Global networks take no --ip, and cluster IPAM hands out the lowest
 * free address of A's block, so every server gets the address a first one got (checked per
 * sample); a sample starts only once B has removed the previous server's entries (its
 * `peer.removed` mark: the lab's weftds must run with WEFT_TRACE_PHASES=1), so no sample finds
 * its path already programmed.
 */
export async function weftConvergence(
  lab: ClusterLab,
  a: string,
  b: string,
  network: string,
  port: number,
): Promise<{ ip: string; clientNs: string; sample: (name: string) => Promise<ConvergenceSample> }> {
  const idle = [BUSYBOX, 'sleep', '1000000'];
  const client = await weftSandbox(lab, b, `${network}-client`, network, idle);
  const warm = await weftSandbox(lab, a, `${network}-warm`, network, idle);
  await weftOk(lab, a, ['sandbox', 'rm', '-f', `${network}-warm`]);
  const logB = new MarkReader(lab.host(b).log);
  const removed = new Set<string>();
  return {
    ip: warm.ip,
    clientNs: client.netnsPath,
    sample: async (name: string) => {
      const run = [LAUNCHER, 'run', '-d', '--name', name, '--network', network, '--', ...busyboxServer(port)];
      const got = await convergenceSample(client.netnsPath, warm.ip, port, armCommand(lab, a, run));
      const v = (JSON.parse(await weftOk(lab, a, ['sandbox', 'inspect', name])) as { endpoints: { id: string; ipv4?: string }[] }[])[0]!;
      const ep = v.endpoints[0]!;
      if (ep.ipv4?.split('/')[0] !== warm.ip)
        throw new Error(`${name} got ${ep.ipv4}, not ${warm.ip}: the client waited on the wrong address`);
      await weftOk(lab, a, ['sandbox', 'rm', '-f', name]);
      for (const end = Date.now() + 5000; ;) {
        for (const m of logB.read()) if (m.phase === 'peer.removed') removed.add(String(m.endpoint));
        if (removed.has(ep.id)) break;
        if (Date.now() > end) throw new Error(`${b} did not remove endpoint ${ep.id} within 5 s (is WEFT_TRACE_PHASES=1 set?)`);
        await sleep(20);
      }
      return got;
    },
  };
}
