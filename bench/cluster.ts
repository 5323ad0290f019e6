/**
 * Cluster IPAM and host liveness on a real etcd 3.4 (in its own network namespace, reached over
 * a unix socket), side by side with weft's local SQLite allocation in the same run:
 *   - allocation latency p50/p99: one agent sequentially; three agents at once (separate
 *     clients); the local SQLite path (the controller's reserveAddress)
 *   - etcd requests per allocation
 *   - lease/heartbeat traffic per host at rest (requests per minute, from the client's counter)
 * Usage: npm run build && node dist/bench/cluster.js [--allocs 600] [--rest-s 20]
 * Not a test: it prints figures. Needs root (namespaces) and /usr/bin/etcd.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { EtcdStore } from '../src/store/etcd-store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { Records } from '../src/store/records.js';
import { parseEtcdUrl } from '../src/store/etcd-url.js';
import { EtcdClusterAgent } from '../src/cluster/cluster-agent.js';
import { reserveAddress } from '../src/controller/ipam-ops.js';
import type { ControllerContext } from '../src/controller/context.js';
import type { NetworkRecord } from '../src/model/types.js';
import { startEtcdMember, killAndWait } from '../src/lab/etcd-process.js';
import { deleteNetnsWithProcesses, mustRun } from '../src/lab/sim-host.js';
import { printTable, summarize } from './stats.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const ALLOCS = arg('--allocs', 600);
const REST_S = arg('--rest-s', 20);

async function main(): Promise<void> {
  const ns = `weft-b-etcd-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync('/tmp/weft-bench-etcd-');
  await mustRun('ip', ['netns', 'add', ns]);
  let pid: number | undefined;
  try {
    await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const m = await startEtcdMember({
      name: 'e1',
      nsPath: `/run/netns/${ns}`,
      dir,
      ip: '127.0.0.1',
      initialCluster: 'e1=http://127.0.0.1:2380',
      unixSocket: true,
    });
    pid = m.pid;
    const prefix = `/weft-bench/${randomBytes(4).toString('hex')}/`;
    const open = () => EtcdStore.open({ target: parseEtcdUrl(m.unixUrl!), prefix });
    const agentOn = async (store: EtcdStore, id: string) => {
      const a = new EtcdClusterAgent(store, {
        identity: { id, token: `bench-token-${id}-0123456789` },
        name: id,
        address: '198.18.0.1',
        ttlMs: 5000,
      });
      await a.start();
      return a;
    };
    const rows: (string | number)[][] = [];

    // One agent, sequential.
    const s1 = await open();
    const a1 = await agentOn(s1, 'b1');
    await a1.ipam.definePool({ id: 'bench', cidr: '10.80.0.0/16' });
    const lat: number[] = [];
    const r0 = s1.requests;
    for (let i = 0; i < ALLOCS; i++) {
      const t0 = performance.now();
      await a1.allocate('bench', `ep-${i}`);
      lat.push(performance.now() - t0);
    }
    const one = summarize(lat);
    rows.push(['etcd blocks, 1 agent, sequential', one.n, one.p50, one.p99, (s1.requests - r0) / ALLOCS]);

    // Three agents at once, each with its own client.
    const stores = [await open(), await open(), await open()];
    const agents = await Promise.all(stores.map((s, i) => agentOn(s, `c${i}`)));
    const before = stores.map((s) => s.requests);
    const conc: number[] = [];
    await Promise.all(
      agents.map(async (a, k) => {
        for (let i = 0; i < ALLOCS / 3; i++) {
          const t0 = performance.now();
          await a.allocate('bench', `c${k}-${i}`);
          conc.push(performance.now() - t0);
        }
      }),
    );
    const three = summarize(conc);
    const reqs = stores.reduce((n, s, i) => n + s.requests - before[i]!, 0);
    rows.push(['etcd blocks, 3 agents at once', three.n, three.p50, three.p99, reqs / three.n]);

    // The local path: SQLite, the controller's reserveAddress (read allocations, pick, create-only commit).
    const sqliteDir = mkdtempSync(path.join(tmpdir(), 'weft-bench-sqlite-'));
    const sq = SqliteStore.open(path.join(sqliteDir, 'weft.db'));
    const ctx = { records: new Records(sq) } as unknown as ControllerContext;
    const net = {
      id: 'n1',
      name: 'bench',
      ipam: { driver: 'default', options: {}, config: [{ subnet: '10.90.0.0/16', gateway: '10.90.0.1', auxAddresses: {} }] },
    } as unknown as NetworkRecord;
    const local: number[] = [];
    for (let i = 0; i < ALLOCS; i++) {
      const t0 = performance.now();
      await reserveAddress(ctx, net, 4, `ext:ep-${i}`);
      local.push(performance.now() - t0);
    }
    const loc = summarize(local);
    rows.push(['local SQLite (reserveAddress)', loc.n, loc.p50, loc.p99, NaN]);
    await sq.close();
    rmSync(sqliteDir, { recursive: true, force: true });

    process.stdout.write(`\ncluster IPAM allocation latency (ms), etcd 3.4 over a unix socket, ${ALLOCS} allocations\n`);
    printTable(['path', 'n', 'p50', 'p99', 'etcd req/alloc'], rows);
    process.stdout.write(`ratio p50 etcd(1 agent)/SQLite: ${(one.p50 / loc.p50).toFixed(2)}x; p99: ${(one.p99 / loc.p99).toFixed(2)}x\n`);

    // Heartbeat traffic at rest: only lease keepalives should flow.
    const restStore = await open();
    const rest = await agentOn(restStore, 'idle');
    const q0 = restStore.requests;
    await new Promise((r) => setTimeout(r, REST_S * 1000));
    const perMin = ((restStore.requests - q0) / REST_S) * 60;
    process.stdout.write(
      `\nat rest (TTL 5 s): ${perMin.toFixed(1)} etcd requests per minute per host (lease keepalives, one every TTL/3)\n`,
    );
    await rest.stop();
    await restStore.close();
    for (const a of [a1, ...agents]) await a.stop();
    for (const s of [s1, ...stores]) await s.close();
  } finally {
    if (pid) await killAndWait(pid);
    await deleteNetnsWithProcesses([ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
