/**
 * Overlay convergence through the product: `weft run` of a TCP server on host A (h1) until the
 * first successful TCP connect from a sandbox on host B (the last host), over a real lab
 * (`weft lab up`: a weftd per host on etcd, cluster agent watches programming FDB/neighbour
 * entries). The client is one process already waiting in B's sandbox that tries to connect
 * every 2 ms, so the figure is the control plane's (CLI start, attach, etcd, watch, peerUp),
 * not a process start on B. Docker's gossip (memberlist) needs seconds; the goal is p99 ≤ 100 ms.
 * Usage: npm run build && node dist/bench/overlay-convergence.js [--hosts 10] [--samples 30]
 * Not a test: it prints figures and the load average. Needs root and etcd.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { spawn } from 'node:child_process';
import { ClusterLab } from '../src/lab/cluster-lab.js';
import { NETTOOL } from '../src/lab/sim-host.js';
import { printTable, summarize } from './stats.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const hosts = arg('--hosts', 10);
const samples = arg('--samples', 30);
const node = process.execPath;
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/**
 * Prints the epoch ms of the first successful connect to any of IPs (comma list) on PORT,
 * trying them all every 2 ms (60 s at most). Global networks take no --ip, so the new
 * sandbox's address is one of the free addresses of host A's IPAM block.
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

/** The other host addresses of the /26 cluster IPAM block (the default block size) holding ip. */
function blockMates(ip: string): string[] {
  const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
  const base = d & ~63;
  const out: string[] = [];
  for (let x = base; x < base + 64; x++) if (x !== d && x !== 0 && x !== 255) out.push(`${a}.${b}.${c}.${x}`);
  return out;
}

async function main(): Promise<void> {
  console.log(`load average at start: ${load()}`);
  const name = `ovb${randomBytes(2).toString('hex')}`;
  const lab = await ClusterLab.up({ hosts, underlay: 'l2', name });
  const a = 'h1';
  const b = `h${hosts}`;
  const must = async (h: string, args: string[]): Promise<string> => {
    const r = await lab.weft(h, args, 60_000);
    if (r.code !== 0) throw new Error(`weft ${args.join(' ')} on ${h}: ${r.stderr}`);
    return r.stdout;
  };
  try {
    await must(a, ['network', 'create', '-d', 'overlay', '--subnet', '10.93.0.0/16', 'conv']);
    await must(b, ['run', '-d', '--name', 'client', '--network', 'conv', '--', node, NETTOOL, 'tcp-server', '9']);
    const client = (JSON.parse(await must(b, ['sandbox', 'inspect', 'client'])) as { netnsPath: string }[])[0]!.netnsPath;
    // A first sandbox on A shows its IPAM block; it stays, so its address is never a candidate.
    await must(a, ['run', '-d', '--name', 'probe', '--network', 'conv', '--', node, NETTOOL, 'tcp-server', '9']);
    type Ep = { endpoints: { ipv4?: string }[] };
    const probeIp = (JSON.parse(await must(a, ['sandbox', 'inspect', 'probe'])) as Ep[])[0]!.endpoints[0]!.ipv4!.split('/')[0]!;
    const candidates = blockMates(probeIp).join(',');
    const ms: number[] = [];
    for (let i = 0; i < samples; i++) {
      const waiter = spawn('nsenter', [`--net=${client}`, node, '-e', CONNECT_LOOP, candidates, '7700'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      waiter.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const done = new Promise<number>((resolve) => waiter.on('exit', (code) => resolve(code ?? 1)));
      await new Promise((r) => setTimeout(r, 300)); // the loop is running before the clock starts
      const t0 = Date.now();
      await must(a, ['run', '-d', '--name', `s${i}`, '--network', 'conv', '--', node, NETTOOL, 'tcp-server', '7700']);
      if ((await done) !== 0) throw new Error(`no connect to s${i} within 60 s`);
      ms.push(Number(out.trim()) - t0);
      await must(a, ['sandbox', 'rm', '-f', `s${i}`]);
    }
    const s = summarize(ms);
    console.log(`overlay convergence, ${hosts} hosts, ${samples} samples (weft run on ${a} → first TCP connect from ${b}):`);
    printTable(['p50 ms', 'p99 ms', 'min ms', 'max ms'], [[s.p50, s.p99, Math.min(...ms), Math.max(...ms)]]);
  } finally {
    await lab.down();
    console.log(`load average at end: ${load()}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
