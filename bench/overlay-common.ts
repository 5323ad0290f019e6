/**
 * What the overlay benches share (bench/overlay.ts, overlay-convergence.ts, overlay-swarm.ts):
 * the load average, iperf3 between two network namespaces, and the convergence probe — a
 * client already waiting in host B's namespace that tries to connect every 2 ms, timed from
 * just before the command that starts the server on host A.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import type { ClusterLab } from '../src/lab/cluster-lab.js';
import { NETTOOL, run, sleep } from '../src/lab/sim-host.js';

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

/**
 * Prints the epoch ms of the first successful connect to any of IPs (comma list) on PORT,
 * trying them all every 2 ms (60 s at most).
 */
const CONNECT_LOOP = `
const net = require('node:net');
const [ips, port] = process.argv.slice(1);
const end = Date.now() + 60000;
const round = () => {
  for (const ip of ips.split(',')) {
    const s = net.connect({ host: ip, port: Number(port) });
    s.setTimeout(100);
    s.once('connect', () => { console.log(Date.now()); process.exit(0); });
    s.once('error', () => s.destroy());
    s.once('timeout', () => s.destroy());
  }
  if (Date.now() > end) process.exit(1);
  setTimeout(round, 2);
};
round();
`;

/**
 * One convergence sample: a connect loop in clientNs towards `candidates` (one of them will be
 * the new server's address) on `port`, then the clock starts and `start` makes the server on
 * host A. `connectMs`: from then to the first successful connect; `runMs`: until `start`
 * returned (the run command's own time), so connectMs − runMs is what the other host still
 * waited after the command on A was done.
 */
export interface ConvergenceSample {
  connectMs: number;
  runMs: number;
}

export async function convergenceSample(
  clientNs: string,
  candidates: string[],
  port: number,
  start: () => Promise<void>,
): Promise<ConvergenceSample> {
  const waiter = spawn('nsenter', [`--net=${clientNs}`, process.execPath, '-e', CONNECT_LOOP, candidates.join(','), String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  waiter.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number>((resolve) => waiter.on('exit', (code) => resolve(code ?? 1)));
  try {
    await sleep(300); // the loop is running before the clock starts
    const t0 = Date.now();
    await start();
    const runMs = Date.now() - t0;
    if ((await done) !== 0)
      throw new Error(
        `no connect to ${candidates.length > 3 ? `${candidates.length} candidates` : candidates.join(',')}:${port} within 60 s`,
      );
    return { connectMs: Number(out.trim()) - t0, runMs };
  } finally {
    if (waiter.exitCode === null && waiter.signalCode === null) waiter.kill('SIGKILL');
  }
}

/** The other host addresses of the /26 cluster IPAM block (weft's default block size) holding ip. */
export function blockMates(ip: string): string[] {
  const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
  const base = d & ~63;
  const out: string[] = [];
  for (let x = base; x < base + 64; x++) if (x !== d && x !== 0 && x !== 255) out.push(`${a}.${b}.${c}.${x}`);
  return out;
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
 * weft's side of a convergence sample on an overlay network: a client sandbox on host B, a
 * probe sandbox on host A that shows A's IPAM block (global networks take no --ip, so the new
 * server's address is one of its block mates); each sample runs a tcp-server on A.
 */
export async function weftConvergence(
  lab: ClusterLab,
  a: string,
  b: string,
  network: string,
  port: number,
): Promise<{ clientNs: string; candidates: string[]; sample: (i: number) => Promise<ConvergenceSample> }> {
  const node = process.execPath;
  const client = await weftSandbox(lab, b, 'client', network, [node, NETTOOL, 'tcp-server', '9']);
  const probe = await weftSandbox(lab, a, 'probe', network, [node, NETTOOL, 'tcp-server', '9']);
  const candidates = blockMates(probe.ip);
  return {
    clientNs: client.netnsPath,
    candidates,
    sample: async (i: number) => {
      const got = await convergenceSample(client.netnsPath, candidates, port, async () => {
        await weftOk(lab, a, ['run', '-d', '--name', `s${i}`, '--network', network, '--', node, NETTOOL, 'tcp-server', String(port)]);
      });
      await weftOk(lab, a, ['sandbox', 'rm', '-f', `s${i}`]);
      return got;
    },
  };
}
