/**
 * Attach on a cluster: a lab of N simulated hosts (default 10), one weftd each, one etcd. Per
 * host, M sandboxes (default 100) are made first; then, in the same run, each is attached to a
 * global network (cluster-null driver: the cluster control plane alone — cluster IPAM blocks,
 * the endpoint record in etcd, every other host told) and to a local bridge network (veth,
 * addresses, bridge; SQLite). Figures:
 *   - attach latency p50/p99 (POST /v1/networks/:net/connect), global vs local bridge
 *   - weftd resident memory and open fds per endpoint beyond its base (host h1's weftd)
 *   - etcd requests per global attach (from weftd's own store-request counter on /metrics)
 *   - propagation: how long after the last attach every host knows every remote endpoint
 *   - memory after a full GC (heap used, external, RSS) and fds by kind, at each phase, and a
 *     steady-state slope on h1 alone (--slope N more sandboxes, each on both networks), where
 *     one-time costs (JIT code, V8's young generation growing) no longer hide the per-endpoint one
 * Usage: npm run build && node dist/bench/cluster-attach.js [--hosts 10] [--endpoints 100] [--inflight 4] [--slope 200] [--lab-prefix cb]
 * Not a test: it prints figures. Needs root (namespaces) and /usr/bin/etcd.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ClusterLab } from '../src/lab/cluster-lab.js';
import type { WeftClient } from '../src/cli/client.js';
import { labClient, peerEndpoints, pool, sumOf } from '../src/lab/lab-tools.js';
import type { SandboxView } from '../src/controller/inspect.js';
import { printTable, summarize } from './stats.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const HOSTS = arg('--hosts', 10);
const EPS = arg('--endpoints', 100);
const INFLIGHT = arg('--inflight', 4);
const SLOPE = arg('--slope', 200);
const labPrefix = ((i) => (i >= 0 ? process.argv[i + 1]! : 'cb'))(process.argv.indexOf('--lab-prefix'));

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
/** Open netlink sockets of a process: its socket fds whose inode the namespace's netlink table lists. */
function netlinkFds(pid: number): number {
  const inodes = new Set(
    readFileSync(`/proc/${pid}/net/netlink`, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/).at(-1))
      .filter((x): x is string => !!x),
  );
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // closed between listing and reading
      throw err;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]!)) n++;
  }
  return n;
}

/**
 * Memory of a weftd after a full GC. weftds run with --heapsnapshot-signal=SIGUSR2 (NODE_OPTIONS,
 * inherited): a heap snapshot starts with a full, compacting GC, and it needs nothing of weftd's
 * own code, so the same figures can be taken of any version. Heap used, external (Buffers,
 * ArrayBuffers) and RSS are read from weftd's /metrics right after the snapshot is written.
 */
async function memoryAfterGc(lab: ClusterLab, h: string, dir: string): Promise<{ rss: number; heap: number; external: number }> {
  const pid = lab.host(h).pid!;
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  let file: string | undefined;
  let size = -1;
  for (let i = 0; ; i++) {
    if (i > 600) throw new Error(`${h}: no heap snapshot within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
    file ??= readdirSync(dir).find((f) => !before.has(f) && f.includes(`.${pid}.`));
    if (!file) continue;
    // Written in one go; done when it ends with the snapshot's closing brace and stops growing.
    const s = statSync(`${dir}/${file}`).size;
    if (s === size && s > 0 && readFileSync(`${dir}/${file}`).subarray(-2).toString().includes('}')) break;
    size = s;
  }
  if (!process.env.WEFT_BENCH_KEEP_SNAPSHOTS) rmSync(`${dir}/${file}`);
  const text = (
    await lab.exec(h, [process.execPath, '-e', 'fetch("http://127.0.0.1:9329/metrics").then(r=>r.text()).then(t=>process.stdout.write(t))'])
  ).stdout;
  const metric = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  return { rss: rssKiB(pid), heap: metric('weftd_nodejs_heap_size_used_bytes'), external: metric('weftd_nodejs_external_memory_bytes') };
}

/** Open fds of a process by kind: sockets, namespace fds, the rest. */
function fdKinds(pid: number): { socket: number; netns: number; other: number } {
  const out = { socket: 0, netns: 0, other: 0 };
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (target.startsWith('socket:')) out.socket++;
    else if (target.startsWith('net:')) out.netns++;
    else out.other++;
  }
  return out;
}

/** Remote endpoints a host's driver was told about on a network (from inspect's Peers). */
const peersKnown = async (c: WeftClient, net: string): Promise<number> => sumOf(await peerEndpoints(c, net));

async function storeRequests(lab: ClusterLab, h: string): Promise<number> {
  const r = await lab.exec(h, [
    process.execPath,
    '-e',
    'fetch("http://127.0.0.1:9329/metrics").then(r=>r.text()).then(t=>process.stdout.write(t))',
  ]);
  let n = 0;
  for (const m of r.stdout.matchAll(/^weft_store_request_duration_seconds_count\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

async function main(): Promise<void> {
  process.env.WEFT_TEST_DRIVERS = '1';
  // Inherited by every weftd of the lab: SIGUSR2 writes a heap snapshot (after a full GC) into `snaps`.
  const snaps = mkdtempSync('/tmp/weft-bench-heap-');
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snaps}`.trim();
  const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const loadAtStart = load();
  const t0 = performance.now();
  const lab = await ClusterLab.up({
    hosts: HOSTS,
    underlay: 'l2',
    name: `${labPrefix}${randomBytes(2).toString('hex')}`,
    weftdArgs: ['--metrics-addr', '127.0.0.1:9329', '--full-resync-ms', '600000'],
  });
  try {
    const names = lab.state.hosts.map((h) => h.name);
    const c = (h: string) => labClient(lab, h, 120_000);
    process.stdout.write(`lab of ${HOSTS} hosts up in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    await c('h1').request('POST', '/v1/networks', {
      name: 'gbench',
      driver: 'cluster-null',
      ipam: { config: [{ subnet: '10.96.0.0/16' }] },
    });
    // Local to each host (its own namespace), big enough for the endpoints and the slope phase.
    for (const h of names)
      await c(h).request('POST', '/v1/networks', { name: 'lbench', driver: 'bridge', ipam: { config: [{ subnet: '10.200.0.0/16' }] } });
    // Every host must know the global network before attaches start.
    for (const h of names) {
      for (let i = 0; ; i++) {
        const ok = await c(h)
          .request('GET', '/v1/networks/gbench')
          .then(
            () => true,
            () => false,
          );
        if (ok) break;
        if (i > 100) throw new Error(`${h} never saw gbench`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const pid = lab.host('h1').pid!;
    const snap = async () => ({ ...(await memoryAfterGc(lab, 'h1', snaps)), fds: fdKinds(pid) });
    const base = await snap();
    const nlBase = netlinkFds(pid);
    const sandboxes = await Promise.all(
      names.map((h) =>
        pool(
          INFLIGHT,
          Array.from({ length: EPS }, (_, i) => () => c(h).request<SandboxView>('POST', '/v1/sandboxes', { name: `b-${h}-${i}` })),
        ),
      ),
    );
    const afterSandboxes = await snap();
    const reqBefore = await storeRequests(lab, 'h1');
    const timed = async (h: string, net: string, sb: string): Promise<number> => {
      const t = performance.now();
      await c(h).request('POST', `/v1/networks/${net}/connect`, { sandbox: sb });
      return performance.now() - t;
    };
    const loadBeforeGlobal = load();
    const tg = performance.now();
    const global = (
      await Promise.all(
        names.map((h, i) =>
          pool(
            INFLIGHT,
            sandboxes[i]!.map((sb) => () => timed(h, 'gbench', sb.id)),
          ),
        ),
      )
    ).flat();
    const lastAttach = performance.now();
    const globalWall = lastAttach - tg;
    // Propagation: how long after the last attach each host knows every other host's endpoints.
    const want = (HOSTS - 1) * EPS;
    const knownAt = new Map<string, number>();
    const knownAt1s = new Map<string, number>();
    while (knownAt.size < names.length && performance.now() - lastAttach < 30_000) {
      await Promise.all(
        names
          .filter((h) => !knownAt.has(h))
          .map(async (h) => {
            const n = await peersKnown(c(h), 'gbench');
            if (performance.now() - lastAttach <= 1000) knownAt1s.set(h, n);
            if (n >= want) knownAt.set(h, performance.now() - lastAttach);
          }),
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    const peersAt5s = await peersKnown(c('h1'), 'gbench');
    const reqAfter = await storeRequests(lab, 'h1');
    const afterGlobal = await snap();
    const loadAfterGlobal = load();
    const tl = performance.now();
    const local = (
      await Promise.all(
        names.map((h, i) =>
          pool(
            INFLIGHT,
            sandboxes[i]!.map((sb) => () => timed(h, 'lbench', sb.id)),
          ),
        ),
      )
    ).flat();
    const localWall = performance.now() - tl;
    const loadAfterLocal = load();
    // Let background work (sandbox files, drift watchers) settle before reading memory.
    await new Promise((r) => setTimeout(r, 3000));
    const afterLocal = await snap();
    const nlAfter = netlinkFds(pid);
    // Steady state on h1 alone: SLOPE more sandboxes, each on the global and the bridge network.
    let slope: { rss: number; heap: number; external: number; fds: number } | undefined;
    if (SLOPE > 0) {
      await pool(
        INFLIGHT,
        Array.from({ length: SLOPE }, (_, i) => async () => {
          const sb = await c('h1').request<SandboxView>('POST', '/v1/sandboxes', { name: `s-h1-${i}` });
          await c('h1').request('POST', '/v1/networks/gbench/connect', { sandbox: sb.id });
          await c('h1').request('POST', '/v1/networks/lbench/connect', { sandbox: sb.id });
        }),
      );
      await new Promise((r) => setTimeout(r, 3000));
      const x = await snap();
      const fdsOf = (f: typeof x.fds) => f.socket + f.netns + f.other;
      slope = {
        rss: (x.rss - afterLocal.rss) / SLOPE,
        heap: (x.heap - afterLocal.heap) / SLOPE,
        external: (x.external - afterLocal.external) / SLOPE,
        fds: (fdsOf(x.fds) - fdsOf(afterLocal.fds)) / SLOPE,
      };
    }
    const g = summarize(global);
    const l = summarize(local);
    process.stdout.write(
      `\n${HOSTS} hosts × ${EPS} endpoints, ${INFLIGHT} attaches in flight per host\n` +
        `load average (1 5 15 min): start ${loadAtStart}; before global ${loadBeforeGlobal}; after global ${loadAfterGlobal}; after local ${loadAfterLocal}\n`,
    );
    printTable(
      ['attach', 'n', 'p50 ms', 'p99 ms', 'mean ms', 'wall s'],
      [
        ['global (cluster-null, etcd)', g.n, g.p50, g.p99, g.mean, globalWall / 1000],
        ['local bridge (veth, SQLite)', l.n, l.p50, l.p99, l.mean, localWall / 1000],
      ],
    );
    process.stdout.write(`global/local p50 ratio: ${(g.p50 / l.p50).toFixed(2)}\n`);
    process.stdout.write(
      `etcd requests per global attach on h1: ${((reqAfter - reqBefore) / EPS).toFixed(2)} (${reqAfter - reqBefore} for ${EPS}, incl. h1's background)\n`,
    );
    process.stdout.write(`propagation: every host must know ${want} remote endpoints\n`);
    printTable(
      ['host', 'known 1 s after last attach', 'all known after ms'],
      names.map((h) => [h, String(knownAt1s.get(h) ?? '-'), knownAt.get(h) ?? NaN]),
    );
    process.stdout.write(`h1 knew ${peersAt5s} of ${want} when the propagation wait ended\n`);
    const per = (a: number, b: number) => ((a - b) / EPS).toFixed(2);
    const row = (what: string, x: typeof base, prev: typeof base) => [
      what,
      x.rss,
      x.heap.toFixed(0),
      x.external.toFixed(0),
      per(x.rss, prev.rss),
      per(x.heap, prev.heap),
      per(x.external, prev.external),
      `${x.fds.socket}/${x.fds.netns}/${x.fds.other}`,
      per(x.fds.socket + x.fds.netns + x.fds.other, prev.fds.socket + prev.fds.netns + prev.fds.other),
    ];
    process.stdout.write(`\nweftd h1 after a full GC (KiB; fds socket/netns/other):\n`);
    printTable(
      ['weftd h1', 'RSS', 'heap', 'external', 'RSS/ep', 'heap/ep', 'ext/ep', 'fds', 'fds/ep'],
      [
        [
          'base (networks made)',
          base.rss,
          base.heap.toFixed(0),
          base.external.toFixed(0),
          '-',
          '-',
          '-',
          `${base.fds.socket}/${base.fds.netns}/${base.fds.other}`,
          '-',
        ],
        row(`+${EPS} sandboxes (netns)`, afterSandboxes, base),
        row(`+${EPS} global endpoints (+${want} remote)`, afterGlobal, afterSandboxes),
        row(`+${EPS} bridge endpoints`, afterLocal, afterGlobal),
        row('all, per sandbox', afterLocal, base),
      ],
    );
    if (slope)
      process.stdout.write(
        `steady state, ${SLOPE} more sandboxes on h1 (one global + one bridge endpoint each), per sandbox: ` +
          `RSS ${slope.rss.toFixed(1)} KiB, heap ${slope.heap.toFixed(1)} KiB, external ${slope.external.toFixed(1)} KiB, fds ${slope.fds.toFixed(2)} (load ${load()})\n`,
      );
    process.stdout.write(`netlink sockets of weftd h1 in its own namespace: ${nlBase} at base, ${nlAfter} with ${EPS} sandboxes\n`);
    process.stdout.write(
      `re-run on a quiet machine: npm run bench:cluster-attach -- --hosts ${HOSTS} --endpoints ${EPS} --inflight ${INFLIGHT} --slope ${SLOPE}\n`,
    );
  } finally {
    await lab.down();
    if (process.env.WEFT_BENCH_KEEP_SNAPSHOTS) process.stdout.write(`heap snapshots kept in ${snaps}\n`);
    else rmSync(snaps, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
