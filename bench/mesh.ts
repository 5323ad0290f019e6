/**
 * The mesh data paths and control plane, measured in one run on lab namespaces:
 *   node dist/bench/mesh.js [--seconds 5] [--rounds 3] [--peers 4,16] [--gossip-window 20] [--throughput no]
 * 1. TCP throughput (iperf3, one stream) h0→h1 over: the plain veth underlay, a kernel VXLAN
 *    link (what a fast path would use), the plaintext sleeve, the encrypted sleeve; plus the
 *    CPU the two router processes used (utime+stime from /proc/PID/stat) per Gbit carried.
 * 2. Time for a new peer (joining, with no ring space of its own) to be reachable from every
 *    other peer (route known and a ping answered), at each --peers size.
 * 3. Gossip bytes per second per peer (membership datagrams, link heartbeats, TCP control) at
 *    the largest size, over a quiet window.
 * The machine is shared: compare the rows of one run (ratios), not runs.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseStat } from '../src/kernel/proc.js';
import { sleep, waitFor } from '../src/lab/sim-host.js';
import { MeshLab, type MeshNode } from '../test/netns/mesh-lab.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const SECONDS = Math.min(Number(opt('seconds', '5')), 30);
const SIZES = opt('peers', '4,16').split(',').map(Number);
const WINDOW_S = Math.min(Number(opt('gossip-window', '20')), 120);
const ROUNDS = Math.min(Number(opt('rounds', '3')), 9);
const TICK = 100; // USER_HZ

function cpuSeconds(pid: number): number {
  const f = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))!;
  return (Number(f[14 - 3]) + Number(f[15 - 3])) / TICK;
}

async function iperf(lab: MeshLab, to: string, port: number): Promise<number> {
  const server = lab.spawnIn(1, 'iperf3', ['-s', '-1', '-p', String(port)]);
  try {
    await sleep(500);
    const r = await lab.exec(0, 'iperf3', ['-c', to, '-p', String(port), '-t', String(SECONDS), '-J'], (SECONDS + 20) * 1000);
    if (r.code !== 0) throw new Error(`iperf3 to ${to}: ${r.stdout.slice(0, 300)} ${r.stderr}`);
    const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
    return j.end.sum_received.bits_per_second / 1e9;
  } finally {
    server.kill('SIGKILL');
  }
}

interface Row {
  path: string;
  gbps: number;
  cpuSecPerGbit?: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Both sleeves run side by side (plaintext on port 6783 / weftmesh0 / 198.19.0.0/20, encrypted
 * on 6784 / weftmesh1 / 198.19.16.0/20) so the rounds can alternate paths quickly; each row is
 * the median of ROUNDS runs.
 */
async function throughput(): Promise<Row[]> {
  const lab = await MeshLab.create(2);
  const runs = new Map<string, { gbps: number; cpu?: number }[]>();
  const add = (path: string, gbps: number, cpu?: number): void => {
    runs.set(path, [...(runs.get(path) ?? []), { gbps, ...(cpu === undefined ? {} : { cpu }) }]);
  };
  try {
    for (const [i, ip, peer] of [
      [0, '198.19.200.1', '198.18.0.11'],
      [1, '198.19.200.2', '198.18.0.10'],
    ] as const) {
      await lab.exec(i, 'ip', ['link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'remote', peer, 'dstport', '4789', 'dev', 'eth0']);
      await lab.exec(i, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'vx0']);
      await lab.exec(i, 'ip', ['link', 'set', 'vx0', 'up']);
    }
    const plain: MeshNode[] = [];
    const sealed: MeshNode[] = [];
    const psk = randomBytes(32).toString('hex');
    for (const i of [0, 1]) {
      const ip = `198.18.0.${10 + i}`;
      plain.push(await lab.start(i, { peers: ['198.18.0.10:6783'], ipalloc: { init: 'seed', peers: ['h0', 'h1'] } }));
      sealed.push(
        await lab.start(i, {
          listen: `${ip}:6784`,
          peers: ['198.18.0.10:6784'],
          subnet: '198.19.16.0/20',
          tun: { name: 'weftmesh1' },
          ipalloc: { init: 'seed', peers: ['h0', 'h1'] },
          pskHex: psk,
        }),
      );
    }
    await waitFor(
      'sleeves up',
      async () => {
        for (const n of [...plain, ...sealed]) {
          const s = await n.status();
          if (!s.sleeve || !s.connections.some((c) => c.established)) return false;
        }
        return true;
      },
      60_000,
    );
    let port = 5201;
    for (let round = 0; round < ROUNDS; round++) {
      add('veth underlay', await iperf(lab, '198.18.0.11', port++));
      add('kernel VXLAN (fast-path reference)', await iperf(lab, '198.19.200.2', port++));
      for (const [path, pair] of [
        ['plaintext sleeve', plain],
        ['encrypted sleeve (ChaCha20-Poly1305)', sealed],
      ] as const) {
        const cpu0 = pair.map((n) => cpuSeconds(n.pid));
        const gbps = await iperf(lab, pair[1]!.tunAddress!, port++);
        const cpu = pair.reduce((sum, n, k) => sum + cpuSeconds(n.pid) - cpu0[k]!, 0);
        add(path, gbps, cpu / (gbps * SECONDS));
      }
    }
  } finally {
    await lab.destroy();
  }
  return [...runs].map(([path, rs]) => {
    const cpus = rs.flatMap((r) => (r.cpu === undefined ? [] : [r.cpu]));
    return { path, gbps: median(rs.map((r) => r.gbps)), ...(cpus.length > 0 ? { cpuSecPerGbit: median(cpus) } : {}) };
  });
}

async function newPeer(
  n: number,
  gossip: boolean,
): Promise<{ peers: number; reachableMs: number; startupMs: number; gossip?: Record<string, number> }> {
  const lab = await MeshLab.create(n);
  const psk = randomBytes(32).toString('hex');
  const seedNames = Array.from({ length: n - 1 }, (_, i) => `h${i}`);
  try {
    for (let i = 0; i < n - 1; i++) {
      await lab.start(i, { pskHex: psk, peers: ['198.18.0.10:6783'], ipalloc: { init: 'seed', peers: seedNames } });
    }
    await lab.until(
      `${n - 1} peers meshed`,
      (s) => s.connections.filter((c) => c.established).length === n - 2 && s.sleeve !== undefined,
      120_000,
    );
    let gossipRates: Record<string, number> | undefined;
    if (gossip) {
      await sleep(3000);
      const nodes = [...lab.nodes.values()];
      const before = await Promise.all(nodes.map((x) => x.status()));
      await sleep(WINDOW_S * 1000);
      const after = await Promise.all(nodes.map((x) => x.status()));
      const rate = (k: string): number =>
        after.reduce((sum, s, i) => sum + (s.counters[k]! - before[i]!.counters[k]!), 0) / nodes.length / WINDOW_S;
      gossipRates = {
        membershipBytesPerSec: rate('swimBytesOut'),
        heartbeatBytesPerSec: rate('beatBytesOut'),
        controlBytesPerSec: rate('controlBytesOut'),
      };
    }
    const spawned = Date.now();
    const fresh = await lab.start(n - 1, { pskHex: psk, peers: ['198.18.0.10:6783'], ipalloc: { init: 'join' } });
    // From the moment its router listens (process start-up is not the mesh's doing).
    const t0 = Date.now();
    const name = `h${n - 1}`;
    await waitFor('the new peer has an address', () => fresh.tunAddress, 60_000, 20);
    const addr = fresh.tunAddress!;
    await lab.until(`every peer routes to ${name}`, (s) => s.name === name || s.routes.some((r) => r.dest === name), 60_000);
    await Promise.all(
      Array.from({ length: n - 1 }, (_, i) =>
        waitFor(
          `h${i} pings ${name}`,
          async () => (await lab.exec(i, 'busybox', ['ping', '-c', '1', '-W', '1', addr])).code === 0,
          60_000,
          20,
        ),
      ),
    );
    return { peers: n, reachableMs: Date.now() - t0, startupMs: t0 - spawned, ...(gossipRates ? { gossip: gossipRates } : {}) };
  } finally {
    await lab.destroy();
  }
}

const rows = opt('throughput', 'yes') === 'no' ? [] : await throughput();
const veth = rows[0]?.gbps ?? 1;
if (rows.length > 0) console.log('\nTCP throughput h0→h1, one iperf3 stream, %d s each, median of %d rounds:', SECONDS, ROUNDS);
for (const r of rows) {
  const cpu = r.cpuSecPerGbit === undefined ? '' : `  router CPU ${r.cpuSecPerGbit.toFixed(2)} s per Gbit`;
  console.log(`  ${r.path.padEnd(38)} ${r.gbps.toFixed(3).padStart(7)} Gbit/s  (${((r.gbps / veth) * 100).toFixed(1)} % of veth)${cpu}`);
}
const joins = [];
for (const n of SIZES) joins.push(await newPeer(n, n === Math.max(...SIZES)));
console.log('\nNew peer (joining without ring space) reachable from every other peer (route + ping answered):');
for (const j of joins)
  console.log(`  ${String(j.peers).padStart(3)} peers: ${j.reachableMs} ms after its router listened (process start-up ${j.startupMs} ms)`);
const g = joins.find((j) => j.gossip);
if (g?.gossip) {
  console.log(`\nControl traffic per peer at ${g.peers} peers, ${WINDOW_S} s quiet window (bytes/s sent):`);
  for (const [k, v] of Object.entries(g.gossip)) console.log(`  ${k.padEnd(24)} ${v.toFixed(0)}`);
}
console.log(`\n${JSON.stringify({ throughput: rows, joins })}`);
