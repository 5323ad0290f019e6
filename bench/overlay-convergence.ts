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
import { ClusterLab } from '../src/lab/cluster-lab.js';
import { arg, load, weftConvergence, weftOk } from './overlay-common.js';
import { printTable, summarize } from './stats.js';

const hosts = arg('--hosts', 10);
const samples = arg('--samples', 30);

async function main(): Promise<void> {
  console.log(`load average at start: ${load()}`);
  const name = `ovb${randomBytes(2).toString('hex')}`;
  const lab = await ClusterLab.up({ hosts, underlay: 'l2', name });
  const a = 'h1';
  const b = `h${hosts}`;
  try {
    await weftOk(lab, a, ['network', 'create', '-d', 'overlay', '--subnet', '10.93.0.0/16', 'conv']);
    const conv = await weftConvergence(lab, a, b, 'conv', 7700);
    const ms: number[] = [];
    for (let i = 0; i < samples; i++) ms.push((await conv.sample(i)).connectMs);
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
