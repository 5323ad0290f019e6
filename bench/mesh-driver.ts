/**
 * The mesh driver end to end, in one run: two lab hosts (`weft lab up --mesh`, no etcd), a
 * sandbox on each on a mesh network, and between the two sandboxes
 *   - TCP throughput (iperf3, one stream, --seconds each, median of --rounds) and
 *   - latency (busybox ping, 50 echoes 20 ms apart, average RTT)
 * over: a plain veth pair between two namespaces (the baseline), the mesh's kernel VXLAN fast
 * path, the plaintext sleeve (--mesh-no-fastpath) and the encrypted sleeve (a password).
 * Ratios are against the veth row. Run: node dist/bench/mesh-driver.js [--seconds 3] [--rounds 3]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ClusterLab } from '../src/lab/cluster-lab.js';
import { mustRun, run, sleep, waitFor } from '../src/lab/sim-host.js';
import type { MeshStatus } from '../src/mesh/router/status.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    // Comma list of rows to run (veth always runs: it is the baseline): fast,sleeve,encrypted.
    paths: { type: 'string', default: 'fast,sleeve,encrypted' },
    // Namespace/lab name prefix, so that parallel runs on one machine never collide.
    prefix: { type: 'string', default: 'msb' },
  },
});
const PATHS = new Set(values.paths.split(','));
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  path: string;
  gbits: number;
  rttMs: number;
  /** CPU seconds weftd used on both hosts per Gbit carried (undefined for the veth row: no weftd). */
  weftdCpuPerGbit?: number;
  /** Sleeve counters after the run (drops show up here). */
  counters?: string;
}

const HZ = 100; // USER_HZ: /proc/PID/stat's clock ticks
/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / HZ;
}

/** iperf3 (median of ROUNDS) and ping RTT from namespace path `a` to `bIp`, the server in namespace path `b`. */
async function measure(a: string, b: string, bIp: string, pids: number[] = []): Promise<Omit<Row, 'path'>> {
  const speeds: number[] = [];
  let gbitCarried = 0;
  const cpu0 = pids.reduce((n, p) => n + cpuSeconds(p), 0);
  for (let i = 0; i < ROUNDS; i++) {
    const server = run('nsenter', [`--net=${b}`, 'iperf3', '-s', '-1', '-p', '5211'], { timeoutMs: (SECONDS + 30) * 1000 });
    await sleep(500);
    const c = await run('nsenter', [`--net=${a}`, 'iperf3', '-c', bIp, '-p', '5211', '-t', String(SECONDS), '-J'], {
      timeoutMs: (SECONDS + 30) * 1000,
    });
    await server;
    if (c.code !== 0) throw new Error(`iperf3 to ${bIp}: ${c.stdout.slice(0, 300)} ${c.stderr}`);
    const end = (JSON.parse(c.stdout) as { end: { sum_received: { bits_per_second: number; bytes: number } } }).end.sum_received;
    speeds.push(end.bits_per_second / 1e9);
    gbitCarried += (end.bytes * 8) / 1e9;
  }
  // Includes the iperf3 server start-up pauses: weftd is idle then, so this barely inflates it.
  const cpu = pids.reduce((n, p) => n + cpuSeconds(p), 0) - cpu0;
  const p = await run('nsenter', [`--net=${a}`, 'busybox', 'ping', '-c', '50', '-i', '0.02', '-q', bIp], { timeoutMs: 30_000 });
  const m = /= [\d.]+\/([\d.]+)\//.exec(p.stdout);
  if (!m) throw new Error(`ping to ${bIp}: ${p.stdout} ${p.stderr}`);
  return { gbits: median(speeds), rttMs: Number(m[1]), ...(pids.length ? { weftdCpuPerGbit: cpu / gbitCarried } : {}) };
}

async function vethBaseline(): Promise<Row> {
  const tag = randomBytes(3).toString('hex');
  const [a, b] = [`${values.prefix}-${tag}-a`, `${values.prefix}-${tag}-b`];
  try {
    for (const ns of [a, b]) await mustRun('ip', ['netns', 'add', ns]);
    await mustRun('ip', ['-n', a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
    for (const [ns, ip] of [
      [a, '198.18.9.1/24'],
      [b, '198.18.9.2/24'],
    ] as const) {
      await mustRun('ip', ['-n', ns, 'addr', 'add', ip, 'dev', 'eth0']);
      await mustRun('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    return { path: 'veth (baseline)', ...(await measure(`/run/netns/${a}`, `/run/netns/${b}`, '198.18.9.2')) };
  } finally {
    for (const ns of [a, b]) await run('ip', ['netns', 'del', ns]);
  }
}

async function meshRow(path: string, extra: string[]): Promise<Row> {
  const lab = await ClusterLab.up({
    hosts: 2,
    underlay: 'l2',
    mesh: true,
    name: `${values.prefix}${randomBytes(2).toString('hex')}`,
    weftdArgs: extra,
  });
  const pids: number[] = [];
  try {
    await waitFor(
      'peers linked',
      async () => {
        for (const h of ['h1', 'h2']) {
          const s = JSON.parse((await lab.weft(h, ['mesh', 'status', '--format', 'json'])).stdout || '{}') as Partial<MeshStatus>;
          if (!s.connections?.some((c) => c.established) || !s.sleeve) return false;
        }
        return true;
      },
      60_000,
    );
    const boxes: { netns: string; ip: string }[] = [];
    // Made on h1; the mesh gossips the definition to h2.
    const c = await lab.weft('h1', ['network', 'create', '-d', 'mesh', '--subnet', '10.32.0.0/12', 'meshnet']);
    if (c.code !== 0) throw new Error(c.stderr);
    await waitFor('meshnet on h2', async () => (await lab.weft('h2', ['network', 'inspect', 'meshnet'])).code === 0, 30_000);
    for (const h of ['h1', 'h2']) {
      const r = await lab.weft(h, ['run', '-d', '--name', `b${h}`, '--network', 'meshnet', '--format', 'json', '--', 'sleep', '900']);
      const v = JSON.parse(r.stdout) as { pid: number; netnsPath: string; endpoints: { ipv4: string }[] };
      pids.push(v.pid);
      boxes.push({ netns: v.netnsPath, ip: v.endpoints[0]!.ipv4.split('/')[0]! });
    }
    await sleep(2000); // fast-path entries follow the first topology exchange
    const weftds = ['h1', 'h2'].map((h) => lab.host(h).pid!);
    const row = await measure(boxes[0]!.netns, boxes[1]!.netns, boxes[1]!.ip, weftds);
    const counters = [];
    for (const h of ['h1', 'h2']) {
      const s = JSON.parse((await lab.weft(h, ['mesh', 'status', '--format', 'json'])).stdout || '{}') as Partial<MeshStatus>;
      counters.push(
        `${h} tun rx ${s.sleeve?.rxPackets} tx ${s.sleeve?.txPackets} drops ${s.sleeve?.txDrops} udp-drops ${s.counters?.udpSendDrops ?? '-'}`,
      );
    }
    return { path, ...row, counters: counters.join('; ') };
  } finally {
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* the sandbox's command already exited */
      }
    }
    await lab.down();
  }
}

const pw = `/tmp/msh-bench-pw-${randomBytes(3).toString('hex')}`;
writeFileSync(pw, 'bench password\n', { mode: 0o600 });
const rows: Row[] = [];
try {
  rows.push(await vethBaseline());
  if (PATHS.has('fast')) rows.push(await meshRow('mesh fast path (kernel VXLAN)', []));
  if (PATHS.has('sleeve')) rows.push(await meshRow('mesh sleeve, plaintext', ['--mesh-no-fastpath']));
  if (PATHS.has('encrypted')) rows.push(await meshRow('mesh sleeve, encrypted', ['--mesh-password-file', pw]));
} finally {
  rmSync(pw, { force: true });
}
const base = rows[0]!;
console.log(`\nsandbox → sandbox across two lab hosts; iperf3 one stream ${SECONDS} s, median of ${ROUNDS}; ping 50 × 20 ms\n`);
console.log(`load average: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
console.log('| path | Gbit/s | vs veth | avg RTT ms | vs veth | weftd CPU s per Gbit |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(
    `| ${r.path} | ${r.gbits.toFixed(3)} | ${((100 * r.gbits) / base.gbits).toFixed(1)} % | ${r.rttMs.toFixed(3)} | ${(r.rttMs / base.rttMs).toFixed(2)}× | ${r.weftdCpuPerGbit === undefined ? '-' : r.weftdCpuPerGbit.toFixed(2)} |`,
  );
}
for (const r of rows) if (r.counters) console.log(`${r.path}: ${r.counters}`);
