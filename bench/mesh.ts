/**
 * The mesh data paths and control plane, measured in one run on lab namespaces:
 *   node dist/bench/mesh.js [--seconds 5] [--rounds 3] [--peers 4,16] [--join-runs 1] [--gossip-window 20] [--throughput no] [--before DIR]
 *   (MESH_LAB_PREFIX=xx names the lab namespaces xx-…; --before DIR adds the sleeves of another
 *   build's dist/ side by side, e.g. the previous commit's, for a before/after in one run)
 * 1. TCP throughput (iperf3, one stream) h0→h1 over: the plain veth underlay, a kernel VXLAN
 *    link (what a fast path would use), wireguard-go (the userspace anchor), the plaintext sleeve,
 *    the encrypted sleeve; plus the
 *    CPU the two router processes used (utime+stime from /proc/PID/stat) per Gbit carried.
 * 2. Time for a new peer (joining, with no ring space of its own) to be reachable from every
 *    other peer (route known and a ping answered), at each --peers size, --join-runs times, with
 *    where the time went (from the routers' logs: seed session, ring space, membership, sessions
 *    with every peer, routes, pings).
 * 3. Gossip bytes per second per peer (membership datagrams, link heartbeats, TCP control) at
 *    the largest size, over a quiet window.
 * The machine is shared: compare the rows of one run (ratios), not runs.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseStat } from '../src/kernel/proc.js';
import { mustRun, sleep, waitFor } from '../src/lab/sim-host.js';
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
// --before DIR: also run the sleeves of another build (its dist/ directory) side by side.
const BEFORE = opt('before', '');
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

async function mustRunIn(lab: MeshLab, i: number, cmd: string, args: string[]): Promise<void> {
  const r = await lab.exec(i, cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
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
  const wgSockets: string[] = [];
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
    // wireguard-go: the userspace anchor (the kernel here has no WireGuard module). Interface
    // names carry the lab's tag: wireguard-go's control sockets live on the shared filesystem.
    const wg = [0, 1].map((i) => `wg${lab.tag}${i}`);
    const keys = [0, 1].map(() => mustRun('wg', ['genkey']));
    const priv = await Promise.all(keys);
    const pub = await Promise.all(priv.map((k) => mustRun('wg', ['pubkey'], { input: k })));
    wgSockets.push(...wg.map((n) => `/var/run/wireguard/${n}.sock`));
    for (const i of [0, 1]) {
      lab.spawnIn(i, 'wireguard-go', ['-f', wg[i]!]);
      await waitFor(`${wg[i]} created`, async () => (await lab.exec(i, 'ip', ['link', 'show', wg[i]!])).code === 0, 30_000);
      const keyFile = `${lab.dir}/wg${i}.key`;
      writeFileSync(keyFile, priv[i]!.trim(), { mode: 0o600 });
      const o = 1 - i;
      await mustRunIn(lab, i, 'wg', ['set', wg[i]!, 'private-key', keyFile, 'listen-port', String(51820 + i)]);
      await mustRunIn(lab, i, 'wg', [
        'set',
        wg[i]!,
        'peer',
        pub[o]!.trim(),
        'endpoint',
        `198.18.0.${10 + o}:${51820 + o}`,
        'allowed-ips',
        `198.19.201.${o + 1}/32`,
      ]);
      await mustRunIn(lab, i, 'ip', ['addr', 'add', `198.19.201.${i + 1}/24`, 'dev', wg[i]!]);
      await mustRunIn(lab, i, 'ip', ['link', 'set', wg[i]!, 'up']);
    }
    const plain: MeshNode[] = [];
    const sealed: MeshNode[] = [];
    const plainBefore: MeshNode[] = [];
    const sealedBefore: MeshNode[] = [];
    const psk = randomBytes(32).toString('hex');
    for (const i of [0, 1]) {
      const ip = `198.18.0.${10 + i}`;
      const seed = { init: 'seed' as const, peers: ['h0', 'h1'] };
      plain.push(await lab.start(i, { peers: ['198.18.0.10:6783'], ipalloc: seed }));
      const sealedOpts = (port: number, k: number, standalone?: string) => ({
        listen: `${ip}:${port}`,
        peers: [`198.18.0.10:${port}`],
        subnet: `198.19.${16 * k}.0/20`,
        tun: { name: `weftmesh${k}` },
        ipalloc: seed,
        ...(standalone ? { standalone } : {}),
      });
      sealed.push(await lab.start(i, { ...sealedOpts(6784, 1), pskHex: psk }));
      if (BEFORE) {
        const entry = `${BEFORE}/src/mesh/standalone.js`;
        plainBefore.push(await lab.start(i, sealedOpts(6785, 2, entry)));
        sealedBefore.push(await lab.start(i, { ...sealedOpts(6786, 3, entry), pskHex: psk }));
      }
    }
    await waitFor(
      'sleeves up',
      async () => {
        for (const n of [...plain, ...sealed, ...plainBefore, ...sealedBefore]) {
          const s = await n.status();
          if (!s.sleeve || !s.connections.some((c) => c.established)) return false;
        }
        return true;
      },
      60_000,
    );
    await waitFor(
      'wireguard-go handshake',
      async () => (await lab.exec(0, 'busybox', ['ping', '-c', '1', '-W', '1', '198.19.201.2'])).code === 0,
      30_000,
    );
    const sleeves: [string, MeshNode[]][] = [
      ['plaintext sleeve', plain],
      ['encrypted sleeve (ChaCha20-Poly1305)', sealed],
    ];
    if (BEFORE) sleeves.push([`plaintext sleeve, before (${BEFORE})`, plainBefore], [`encrypted sleeve, before (${BEFORE})`, sealedBefore]);
    let port = 5201;
    for (let round = 0; round < ROUNDS; round++) {
      add('veth underlay', await iperf(lab, '198.18.0.11', port++));
      add('kernel VXLAN (fast-path reference)', await iperf(lab, '198.19.200.2', port++));
      add('wireguard-go (userspace anchor)', await iperf(lab, '198.19.201.2', port++));
      for (const [path, pair] of sleeves) {
        const cpu0 = pair.map((n) => cpuSeconds(n.pid));
        const gbps = await iperf(lab, pair[1]!.tunAddress!, port++);
        const cpu = pair.reduce((sum, n, k) => sum + cpuSeconds(n.pid) - cpu0[k]!, 0);
        add(path, gbps, cpu / (gbps * SECONDS));
      }
    }
  } finally {
    await lab.destroy();
    // SIGKILLed wireguard-go leaves its control socket behind.
    for (const f of wgSockets) rmSync(f, { force: true });
  }
  return [...runs].map(([path, rs]) => {
    const cpus = rs.flatMap((r) => (r.cpu === undefined ? [] : [r.cpu]));
    return { path, gbps: median(rs.map((r) => r.gbps)), ...(cpus.length > 0 ? { cpuSecPerGbit: median(cpus) } : {}) };
  });
}

/** When a router's log (ISO time first on each line) first has a line with `needle`, at or after `since` (ms). */
function loggedAt(log: string, needle: string, since: number): number | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes(needle)) continue;
    const t = Date.parse(line.slice(0, 24));
    if (t >= since) return t;
  }
  return undefined;
}

interface Join {
  peers: number;
  /** Which build's routers ran (the current one, or --before DIR). */
  build: string;
  /** Control bytes (TCP gossip) all routers sent from the new router's start until it was reachable from all. */
  joinControlBytes: number;
  reachableMs: number;
  startupMs: number;
  /** Milliseconds after the new router listened, the slowest peer for each step. */
  phases: Record<string, number | undefined>;
  gossip?: Record<string, number>;
  /** CPU the n−1 settled routers used during the quiet window, in % of one core (all of them together). */
  idleCpuPct?: number;
  loadDuringWindow?: string;
}

async function newPeer(n: number, gossip: boolean, standalone?: string): Promise<Join> {
  const lab = await MeshLab.create(n);
  const build = standalone ? { standalone } : {};
  const psk = randomBytes(32).toString('hex');
  const seedNames = Array.from({ length: n - 1 }, (_, i) => `h${i}`);
  try {
    for (let i = 0; i < n - 1; i++) {
      await lab.start(i, { pskHex: psk, peers: ['198.18.0.10:6783'], ipalloc: { init: 'seed', peers: seedNames }, ...build });
    }
    await lab.until(
      `${n - 1} peers meshed`,
      (s) => s.connections.filter((c) => c.established).length === n - 2 && s.sleeve !== undefined,
      180_000,
    );
    let gossipRates: Record<string, number> | undefined;
    let idleCpuPct: number | undefined;
    let loadDuringWindow: string | undefined;
    if (gossip) {
      await sleep(3000);
      const nodes = [...lab.nodes.values()];
      const before = await Promise.all(nodes.map((x) => x.status()));
      const cpu0 = nodes.map((x) => cpuSeconds(x.pid));
      await sleep(WINDOW_S * 1000);
      const after = await Promise.all(nodes.map((x) => x.status()));
      idleCpuPct = (nodes.reduce((sum, x, i) => sum + cpuSeconds(x.pid) - cpu0[i]!, 0) / WINDOW_S) * 100;
      loadDuringWindow = loadavg();
      const rate = (k: string): number =>
        after.reduce((sum, s, i) => sum + (s.counters[k]! - before[i]!.counters[k]!), 0) / nodes.length / WINDOW_S;
      gossipRates = {
        membershipBytesPerSec: rate('swimBytesOut'),
        heartbeatBytesPerSec: rate('beatBytesOut'),
        controlBytesPerSec: rate('controlBytesOut'),
      };
    }
    const controlSent = async (): Promise<number> =>
      (await Promise.all([...lab.nodes.values()].map((x) => x.status()))).reduce((sum, st) => sum + st.counters.controlBytesOut!, 0);
    const control0 = await controlSent();
    const spawned = Date.now();
    const fresh = await lab.start(n - 1, { pskHex: psk, peers: ['198.18.0.10:6783'], ipalloc: { init: 'join' }, ...build });
    // From the moment its router listens (process start-up is not the mesh's doing).
    const t0 = Date.now();
    const name = `h${n - 1}`;
    await waitFor('the new peer has an address', () => fresh.tunAddress, 60_000, 20);
    const addressMs = Date.now() - t0;
    const addr = fresh.tunAddress!;
    await lab.until(`every peer routes to ${name}`, (s) => s.name === name || s.routes.some((r) => r.dest === name), 60_000);
    const routesMs = Date.now() - t0;
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
    const reachableMs = Date.now() - t0;
    const joinControlBytes = (await controlSent()) - control0;
    // Where the time went, from the routers' own logs (the slowest old peer for each step).
    const old = Array.from({ length: n - 1 }, (_, i) => lab.nodes.get(i)!.log);
    const slowest = (needle: string): number | undefined => {
      const ts = old.map((log) => loggedAt(log, needle, t0 - 1000));
      return ts.some((t) => t === undefined) ? undefined : Math.max(...(ts as number[])) - t0;
    };
    const firstSeed = loggedAt(fresh.log, 'connected to h0', t0 - 1000);
    const phases = {
      'connected to its seed': firstSeed === undefined ? undefined : firstSeed - t0,
      'has ring space (sleeve up)': addressMs,
      'every peer knows it (membership)': slowest(`member ${name}: join`),
      'every peer has a session with it': slowest(`connected to ${name} `),
      'every peer routes to it': routesMs,
      'every peer pinged it': reachableMs,
    };
    return {
      peers: n,
      build: standalone ? `before (${BEFORE})` : 'this build',
      joinControlBytes,
      reachableMs,
      startupMs: t0 - spawned,
      phases,
      ...(gossipRates ? { gossip: gossipRates } : {}),
      ...(idleCpuPct === undefined ? {} : { idleCpuPct, loadDuringWindow }),
    };
  } finally {
    // MESH_BENCH_LOGS=DIR keeps every router's log of the join (to see where the time went).
    const keep = process.env.MESH_BENCH_LOGS;
    if (keep) for (const [i, x] of lab.nodes) writeFileSync(`${keep}/join${n}-${lab.tag}-h${i}.log`, x.log);
    await lab.destroy();
  }
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const rows = opt('throughput', 'yes') === 'no' ? [] : await throughput();
const veth = rows[0]?.gbps ?? 1;
const wgo = rows.find((r) => r.path.startsWith('wireguard-go'))?.gbps ?? 1;
if (rows.length > 0) {
  console.log('\nTCP throughput h0→h1, one iperf3 stream, %d s each, median of %d rounds (load average %s):', SECONDS, ROUNDS, loadavg());
  console.log('| path | Gbit/s | vs veth | vs wireguard-go | router CPU s per Gbit |\n| --- | --- | --- | --- | --- |');
}
for (const r of rows) {
  const cpu = r.cpuSecPerGbit === undefined ? '-' : r.cpuSecPerGbit.toFixed(2);
  console.log(`| ${r.path} | ${r.gbps.toFixed(3)} | ${((r.gbps / veth) * 100).toFixed(1)} % | ${(r.gbps / wgo).toFixed(2)}× | ${cpu} |`);
}
const joins: Join[] = [];
const JOIN_RUNS = Math.min(Number(opt('join-runs', '1')), 5);
for (const n of SIZES)
  for (let k = 0; k < JOIN_RUNS; k++) {
    console.log(`# join at ${n} peers, run ${k + 1}/${JOIN_RUNS} (load average ${loadavg()})`);
    joins.push(await newPeer(n, k === 0 && n === Math.max(...SIZES)));
    // --before DIR: the other build's routers right after, so both see the same machine.
    if (BEFORE) joins.push(await newPeer(n, false, `${BEFORE}/src/mesh/standalone.js`));
    // Each result as it comes: a later lab that never settles on a loaded machine must not lose the earlier ones.
    for (const j of joins.slice(BEFORE ? -2 : -1)) console.log(`# ${JSON.stringify({ ...j, load: loadavg() })}`);
  }
console.log(`\nNew peer (joining without ring space) reachable from every other peer (route + ping answered; load average ${loadavg()}):`);
for (const j of joins) {
  console.log(
    `  ${String(j.peers).padStart(3)} peers, ${j.build}: ${j.reachableMs} ms after its router listened (process start-up ${j.startupMs} ms); control bytes sent by all routers meanwhile ${j.joinControlBytes}`,
  );
  for (const [k, v] of Object.entries(j.phases)) console.log(`        ${k.padEnd(36)} ${v === undefined ? '-' : `${v} ms`}`);
}
const g = joins.find((j) => j.gossip);
if (g?.gossip) {
  console.log(`\nControl traffic per peer at ${g.peers} peers, ${WINDOW_S} s quiet window (bytes/s sent):`);
  for (const [k, v] of Object.entries(g.gossip)) console.log(`  ${k.padEnd(24)} ${v.toFixed(0)}`);
  console.log(
    `  CPU of the ${g.peers - 1} settled routers together: ${g.idleCpuPct!.toFixed(1)} % of one core (load average at the end of the window ${g.loadDuringWindow})`,
  );
}
console.log(`\n${JSON.stringify({ throughput: rows, joins })}`);
