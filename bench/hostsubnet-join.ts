/**
 * hostsubnet: a new host joins — how long until its subnet is reachable from every other host,
 * at 10 and 50 hosts (one run each, one l2 lab per size; test/netns/hostsubnet-lab.ts: real
 * namespaces, one etcd, the real controller per host). N−1 hosts hold the vxlan network; the
 * N-th creates it (lease in etcd → the others' lease watch → route, neighbour and FDB entries).
 * Each other host's route table is followed with `ip monitor route` started before the join;
 * a host counts as reaching the new subnet when its route appears (the driver programs the FDB
 * and neighbour entries before the route, so the route is the last object). After the clock
 * stops, every host pings the new host's gateway once to confirm the path really works.
 * Usage: npm run build && node dist/bench/hostsubnet-join.js [--hosts 10,50]
 * Not a test: it prints figures. Needs root (namespaces) and etcd.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { HsLab } from '../test/netns/hostsubnet-lab.js';
import { killAndWait } from '../src/lab/etcd-process.js';
import { sleep } from '../src/lab/sim-host.js';
import type { LeaseRecord } from '../src/ipam/subnet-leases.js';

const i = process.argv.indexOf('--hosts');
const SIZES = (i >= 0 ? process.argv[i + 1]! : '10,50').split(',').map(Number);

interface Result {
  hosts: number;
  createMs: number;
  medianMs: number;
  p90Ms: number;
  maxMs: number;
  reached: number;
  pinged: number;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function once(n: number): Promise<Result> {
  const t = performance.now();
  const lab = await HsLab.up({ hosts: n, underlay: 'l2' });
  console.error(`lab of ${n} hosts up in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  const monitors: ChildProcess[] = [];
  try {
    const others = lab.hosts.slice(0, -1);
    const joiner = lab.hosts[n - 1]!;
    for (const h of others) await lab.call(h.name, 'create', { name: 'hsjoin', subnet: '10.244.0.0/16', options: { backend: 'vxlan' } });
    // Every route line each host sees, with its arrival time; matched against the new subnet
    // once the lease names it (a route for it cannot exist before the lease does).
    const lines = new Map<string, { at: number; text: string }[]>(others.map((h) => [h.name, []]));
    for (const h of others) {
      const m = spawn('ip', ['-n', h.ns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
      monitors.push(m);
      createInterface({ input: m.stdout }).on('line', (text) => lines.get(h.name)!.push({ at: performance.now(), text }));
    }
    await sleep(500); // the monitors subscribe
    const before = await lab.call<LeaseRecord[]>('h1', 'leases', { name: 'hsjoin' });
    if (before.length !== others.length) throw new Error(`expected ${others.length} leases before the join, found ${before.length}`);
    const t0 = performance.now();
    await lab.call(joiner.name, 'create', { name: 'hsjoin', subnet: '10.244.0.0/16', options: { backend: 'vxlan' } });
    const createMs = performance.now() - t0;
    const want = (await lab.call<LeaseRecord[]>('h1', 'leases', { name: 'hsjoin' })).find((x) => x.publicIp === joiner.address)?.subnet;
    if (!want) throw new Error("the joiner's lease is not in etcd");
    const seen = new Map<string, number>();
    const deadline = performance.now() + 120_000;
    while (seen.size < others.length && performance.now() < deadline) {
      for (const h of others) {
        const hit = lines.get(h.name)!.find((l) => l.text.startsWith(`${want} `));
        if (hit && !seen.has(h.name)) seen.set(h.name, hit.at - t0);
      }
      await sleep(100);
    }
    const times = [...seen.values()];
    let pinged = 0;
    const gw = want.replace(/\.0\/\d+$/, '.1');
    for (const h of others) if ((await lab.exec(`/run/netns/${h.ns}`, ['busybox', 'ping', '-c', '1', '-W', '2', gw])).code === 0) pinged++;
    return {
      hosts: n,
      createMs,
      medianMs: pct(times, 50),
      p90Ms: pct(times, 90),
      maxMs: Math.max(...times),
      reached: times.length,
      pinged,
    };
  } finally {
    for (const m of monitors) if (m.pid && m.exitCode === null) await killAndWait(m.pid);
    await lab.down();
  }
}

async function main(): Promise<void> {
  console.log("hostsubnet join (vxlan, l2): time from the new host's create to its route on every other host");
  console.log(
    '| hosts | joiner create returns ms | route on others: median ms | p90 ms | max ms | hosts reached | ping ok | load (1 min) |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  // Each size prints as soon as it is measured: a later, larger lab failing loses nothing.
  for (const n of SIZES) {
    const r = await once(n);
    const load = /load average: ([\d.]+)/.exec(execFileSync('uptime', { encoding: 'utf8' }))?.[1] ?? '?';
    console.log(
      `| ${r.hosts} | ${r.createMs.toFixed(0)} | ${r.medianMs.toFixed(0)} | ${r.p90Ms.toFixed(0)} | ${r.maxMs.toFixed(0)} | ${r.reached}/${r.hosts - 1} | ${r.pinged}/${r.hosts - 1} | ${load} |`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
