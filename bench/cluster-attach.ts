/**
 * Attach on a cluster: a lab of N simulated hosts (default 10), one weftd each, one etcd. Per
 * host, M sandboxes (default 100) are made first; then, in the same run, each is attached to a
 * global network (cluster-null driver: the cluster control plane alone — cluster IPAM blocks,
 * the endpoint record in etcd, every other host told) and to a local bridge network (veth,
 * addresses, bridge; SQLite). Figures:
 *   - attach latency p50/p99 (POST /v1/networks/:net/connect), global vs local bridge
 *   - weftd resident memory and open fds per endpoint beyond its base (host h1's weftd)
 *   - etcd requests per global attach (from weftd's own store-request counter on /metrics)
 * Usage: npm run build && node dist/bench/cluster-attach.js [--hosts 10] [--endpoints 100] [--inflight 4]
 * Not a test: it prints figures. Needs root (namespaces) and /usr/bin/etcd.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ClusterLab } from '../src/lab/cluster-lab.js';
import { WeftClient } from '../src/cli/client.js';
import type { SandboxView } from '../src/controller/inspect.js';
import { printTable, summarize } from './stats.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const HOSTS = arg('--hosts', 10);
const EPS = arg('--endpoints', 100);
const INFLIGHT = arg('--inflight', 4);

async function pool<T>(n: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
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
  const t0 = performance.now();
  const lab = await ClusterLab.up({
    hosts: HOSTS,
    underlay: 'l2',
    name: `cb${randomBytes(2).toString('hex')}`,
    weftdArgs: ['--metrics-addr', '127.0.0.1:9329', '--full-resync-ms', '600000'],
  });
  try {
    const names = lab.state.hosts.map((h) => h.name);
    const c = (h: string) => new WeftClient(lab.host(h).socket, 120_000);
    process.stdout.write(`lab of ${HOSTS} hosts up in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    await c('h1').request('POST', '/v1/networks', {
      name: 'gbench',
      driver: 'cluster-null',
      ipam: { config: [{ subnet: '10.96.0.0/16' }] },
    });
    for (const h of names) await c(h).request('POST', '/v1/networks', { name: 'lbench', driver: 'bridge' });
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
    const base = { rss: rssKiB(pid), fds: fds(pid), nl: netlinkFds(pid) };
    const sandboxes = await Promise.all(
      names.map((h) =>
        pool(
          INFLIGHT,
          Array.from({ length: EPS }, (_, i) => () => c(h).request<SandboxView>('POST', '/v1/sandboxes', { name: `b-${h}-${i}` })),
        ),
      ),
    );
    const afterSandboxes = { rss: rssKiB(pid), fds: fds(pid) };
    const reqBefore = await storeRequests(lab, 'h1');
    const timed = async (h: string, net: string, sb: string): Promise<number> => {
      const t = performance.now();
      await c(h).request('POST', `/v1/networks/${net}/connect`, { sandbox: sb });
      return performance.now() - t;
    };
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
    const globalWall = performance.now() - tg;
    const reqAfter = await storeRequests(lab, 'h1');
    const afterGlobal = { rss: rssKiB(pid), fds: fds(pid) };
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
    // Let background work (peer events from the other hosts, sandbox files) settle before reading memory.
    await new Promise((r) => setTimeout(r, 5000));
    const afterLocal = { rss: rssKiB(pid), fds: fds(pid), nl: netlinkFds(pid) };
    const peers = await c('h1').request<{ Peers?: { Endpoints: unknown[] }[] }[]>('GET', '/v1/networks/gbench');
    const peerCount = (Array.isArray(peers) ? peers[0] : peers)?.Peers?.reduce((n, p) => n + p.Endpoints.length, 0) ?? 0;
    const g = summarize(global);
    const l = summarize(local);
    process.stdout.write(
      `\n${HOSTS} hosts × ${EPS} endpoints, ${INFLIGHT} attaches in flight per host (load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})\n`,
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
    process.stdout.write(`h1 told about ${peerCount} remote endpoints (want ${(HOSTS - 1) * EPS})\n`);
    const per = (a: number, b: number) => ((a - b) / EPS).toFixed(2);
    printTable(
      ['weftd h1', 'RSS KiB', 'fds', 'RSS/endpoint KiB', 'fds/endpoint'],
      [
        ['base (networks made)', base.rss, base.fds, '-', '-'],
        [
          `+${EPS} sandboxes (netns)`,
          afterSandboxes.rss,
          afterSandboxes.fds,
          per(afterSandboxes.rss, base.rss),
          per(afterSandboxes.fds, base.fds),
        ],
        [
          `+${EPS} global endpoints`,
          afterGlobal.rss,
          afterGlobal.fds,
          per(afterGlobal.rss, afterSandboxes.rss),
          per(afterGlobal.fds, afterSandboxes.fds),
        ],
        [
          `+${EPS} bridge endpoints`,
          afterLocal.rss,
          afterLocal.fds,
          per(afterLocal.rss, afterGlobal.rss),
          per(afterLocal.fds, afterGlobal.fds),
        ],
        ['all, per sandbox', afterLocal.rss, afterLocal.fds, per(afterLocal.rss, base.rss), per(afterLocal.fds, base.fds)],
      ],
    );
    process.stdout.write(`netlink sockets of weftd h1: ${base.nl} at base, ${afterLocal.nl} with ${EPS} sandboxes\n`);
  } finally {
    await lab.down();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
