/**
 * Overlay convergence through the product: `weft run -d` of a TCP server on host A (h1) until
 * the first successful TCP connect from a sandbox on host B (the last host), over a real lab
 * (`weft lab up`: a weftd per host on etcd, cluster agent watches programming FDB/neighbour
 * entries). Docker's gossip (memberlist) needs seconds; the goal is p99 ≤ 100 ms.
 *
 * The clock starts when a shell already waiting in A's namespace is told to exec the CLI (see
 * armCli), as a user's shell starts it; the CLI's own exec and start-up are in the figure.
 * Every sample's server gets the same address (and MAC), so a sample starts only once B has
 * removed the previous server's entries (its `peer.removed` mark): no path is ever pre-made.
 *
 * Each sample has two clients already waiting (each one process, bench/connect-wait.c, trying
 * to connect every 2 ms, started before the clock): one in a sandbox on B (the figure) and one in a sandbox on A on
 * the same network (the anchor: the same `weft run`, no cross-host convergence), so the
 * cross-host part is the difference. The phases in between come from weftd's own phase marks
 * (src/phase-trace.ts; the lab's weftds run with WEFT_TRACE_PHASES=1): request received, sandbox
 * namespace made, endpoint recorded in etcd, endpoint joined on A, reply sent, the command's pid
 * handed over (PATCH, i.e. the server process started), B's watch event, B's FDB/neighbour
 * entries programmed.
 *
 * Rows: the CLI (`launcher` = the compiled dist/bin/weft, what users run; `node` = node
 * bin/weft.js) × the server (`busybox` = `busybox nc -ll -p PORT -e /bin/true`, a server that
 * starts in about a millisecond, as a user's real server would be measured; `node` = the lab's
 * Node tcp-server, whose own start costs tens of ms). Samples of the rows are interleaved.
 *
 * Usage: npm run build && node dist/bench/overlay-convergence.js [--hosts 10] [--samples 30]
 *        [--cli launcher,node] [--server busybox,node] [--quiet-samples] [--marks N]
 * Not a test: it prints figures and the load average. Needs root and etcd.
 */
import { randomBytes } from 'node:crypto';
import { ClusterLab } from '../src/lab/cluster-lab.js';
import { NETTOOL, WEFT } from '../src/lab/sim-host.js';
import { armCommand, BUSYBOX, busyboxServer, LAUNCHER, load, MarkReader, startWaiter, type Mark } from './overlay-common.js';
import { printTable, summarize } from './stats.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const hosts = Number(arg('--hosts', '10'));
const samples = Number(arg('--samples', '30'));
const clis = arg('--cli', 'launcher,node').split(',') as ('launcher' | 'node')[];
const servers = arg('--server', 'busybox,node').split(',') as ('busybox' | 'node')[];
const perSample = !process.argv.includes('--quiet-samples');
/** Print every phase mark of A and B for this many samples of each row (where a column's time goes). */
const dumpMarks = Number(arg('--marks', '0'));
const node = process.execPath;
const PORT = 7700;

/** Columns of the phase table: name → ms (from the sample's marks). */
const COLUMNS = [
  'cli>req',
  'req>netns',
  'netns>addr',
  'addr>join',
  'join>reply',
  'reply>spawn',
  'addr>rec',
  'rec>B.ev',
  'B.ev>prog',
  'B.prog',
  'local',
  'cross',
  'cross-local',
  'cross-max',
] as const;
type Column = (typeof COLUMNS)[number];

const LEGEND = `columns (ms; "X>Y" is from mark X to mark Y, others from the moment the CLI was started):
  cli>req      CLI started → weftd on A received POST /v1/sandboxes
  req>netns    → the sandbox's namespace made (engine lock, input checks)
  netns>addr   → the endpoint's address (local index, cluster IPAM block update in etcd)
  addr>join    → the driver's join done on A (veth, addresses, gateway leg)
  join>reply   → weftd replied (endpointUp hooks, sandbox files, the view)
  reply>spawn  → weftd received the CLI's PATCH (pid hand-over: the server process was started)
  addr>rec     address → endpoint record committed in etcd (alongside the join)
  rec>B.ev     endpoint recorded → B's watch event (etcd watch delivery; < 0: B heard first)
  B.ev>prog    → B's FDB and neighbour entries programmed (netlink acked)
  B.prog       CLI started → B programmed
  local        CLI started → first connect from a sandbox on A (the anchor: no cross-host part)
  cross        CLI started → first connect from the sandbox on B (the figure)
  cross-local  the cross-host part
  cross-max    cross − max(local, B.prog): what B's client waited beyond both (its own retries)`;

async function main(): Promise<void> {
  console.log(`load average at start: ${load()}`);
  process.env.WEFT_TRACE_PHASES = '1'; // the lab's weftds inherit it and log their phase marks
  const name = `cv${randomBytes(2).toString('hex')}`;
  const lab = await ClusterLab.up({ hosts, underlay: 'l2', name });
  const a = 'h1';
  const b = `h${hosts}`;
  const must = async (h: string, args: string[]): Promise<string> => {
    const r = await lab.weft(h, args, 60_000);
    if (r.code !== 0) throw new Error(`weft ${args.join(' ')} on ${h}: ${r.stderr}`);
    return r.stdout;
  };
  type Ep = { netnsPath: string; endpoints: { ipv4?: string }[] };
  const inspect = async (h: string, sb: string): Promise<Ep> => (JSON.parse(await must(h, ['sandbox', 'inspect', sb])) as Ep[])[0]!;
  const idle = [BUSYBOX, 'sleep', '100000'];
  try {
    await must(a, ['network', 'create', '-d', 'overlay', '--subnet', '10.93.0.0/16', 'conv']);
    await must(b, ['run', '-d', '--name', 'client', '--network', 'conv', '--', ...idle]);
    await must(a, ['run', '-d', '--name', 'probe', '--network', 'conv', '--', ...idle]);
    const onB = (await inspect(b, 'client')).netnsPath;
    const onA = (await inspect(a, 'probe')).netnsPath;
    // Global networks take no --ip; cluster IPAM hands out the lowest free address of A's block,
    // so every sample's server gets the address a first one got (checked per sample below).
    await must(a, ['run', '-d', '--name', 'warm', '--network', 'conv', '--', ...idle]);
    const ip = (await inspect(a, 'warm')).endpoints[0]!.ipv4!.split('/')[0]!;
    await must(a, ['sandbox', 'rm', '-f', 'warm']);
    const logA = new MarkReader(lab.host(a).log);
    const logB = new MarkReader(lab.host(b).log);

    const rows = clis.flatMap((cli) => servers.map((server) => ({ cli, server, data: [] as Record<Column, number>[] })));
    console.log(`${hosts} hosts, ${samples} samples per row; server address ${ip}:${PORT} on ${a}, client on ${b}`);
    const endpointOf = new Map<string, string>();
    const seenMarks: Mark[] = [];
    const seen = (fresh: Mark[], phase: string, endpoint: string): boolean => {
      seenMarks.push(...fresh);
      return seenMarks.some((m) => m.phase === phase && m.endpoint === endpoint);
    };
    let n = 0;
    for (let i = 0; i < samples; i++) {
      for (const row of rows) {
        const sb = `s${n++}`;
        const cmd = row.server === 'busybox' ? busyboxServer(PORT) : [node, NETTOOL, 'tcp-server', String(PORT)];
        const args = ['run', '-d', '--name', sb, '--network', 'conv', '--', ...cmd];
        const cross = startWaiter(onB, ip, PORT);
        const local = startWaiter(onA, ip, PORT);
        const cli = armCommand(lab, a, row.cli === 'launcher' ? [LAUNCHER, ...args] : [node, WEFT, ...args]);
        try {
          await Promise.all([cross.ready, local.ready]);
          logA.read();
          logB.read();
          const t0 = cli.start();
          const r = await cli.result;
          if (r.code !== 0) throw new Error(`weft ${args.join(' ')}: ${r.stderr}`);
          const [tCross, tLocal] = await Promise.all([cross.connected, local.connected]);
          // The daemons' logs may lag their work by a few ms: read until B's last mark is there.
          const ma = logA.read();
          const mb = logB.read();
          for (let waited = 0; waited < 2000 && !mb.some((m) => m.phase === 'peer.programmed'); waited += 20) {
            await new Promise((res) => setTimeout(res, 20));
            ma.push(...logA.read());
            mb.push(...logB.read());
          }
          const at = (ms: Mark[], phase: string, match: (m: Mark) => boolean = () => true): number => {
            const m = ms.find((x) => x.phase === phase && match(x));
            if (!m) throw new Error(`sample ${sb}: no "${phase}" mark (is WEFT_TRACE_PHASES reaching weftd?)`);
            return m.t;
          };
          const rec = ma.find((m) => m.phase === 'endpoint.recorded' && m.sandbox === sb);
          if (!rec) throw new Error(`sample ${sb}: no endpoint.recorded mark`);
          endpointOf.set(sb, String(rec.endpoint));
          if (String(rec.ip).split('/')[0] !== ip)
            throw new Error(`sample ${sb} got ${String(rec.ip)}, not ${ip}: the clients waited on the wrong address`);
          const req = at(ma, 'rest.request', (m) => m.method === 'POST' && m.path === '/v1/sandboxes' && m.name === sb);
          const netns = at(ma, 'sandbox.netns', (m) => m.sandbox === sb);
          const addr = at(ma, 'endpoint.addressed', (m) => m.sandbox === sb);
          const join = at(ma, 'endpoint.joined', (m) => m.sandbox === sb);
          const reply = at(ma, 'rest.reply', (m) => m.method === 'POST' && m.path === '/v1/sandboxes' && m.t > join);
          const spawned = at(ma, 'rest.request', (m) => m.method === 'PATCH' && m.t > reply);
          const bEv = at(mb, 'peer.event', (m) => m.endpoint === rec.endpoint);
          const bProg = at(mb, 'peer.programmed', (m) => m.endpoint === rec.endpoint);
          const d: Record<Column, number> = {
            'cli>req': req - t0,
            'req>netns': netns - req,
            'netns>addr': addr - netns,
            'addr>join': join - addr,
            'join>reply': reply - join,
            'reply>spawn': spawned - reply,
            'addr>rec': rec.t - addr,
            'rec>B.ev': bEv - rec.t,
            'B.ev>prog': bProg - bEv,
            'B.prog': bProg - t0,
            local: tLocal - t0,
            cross: tCross - t0,
            'cross-local': tCross - tLocal,
            'cross-max': tCross - Math.max(tLocal, bProg),
          };
          row.data.push(d);
          if (row.data.length <= dumpMarks) {
            const all = [...ma.map((m) => ({ ...m, host: a })), ...mb.map((m) => ({ ...m, host: b }))].sort((x, y) => x.t - y.t);
            for (const m of all) {
              const { phase, t, host, ...rest } = m as Mark & { host: string };
              for (const k of ['level', 'time', 'msg']) delete rest[k];
              process.stdout.write(`  ${(t - t0).toFixed(1).padStart(8)} ${String(host).padEnd(4)} ${phase} ${JSON.stringify(rest)}\n`);
            }
            process.stdout.write(
              `  ${(tLocal - t0).toFixed(1).padStart(8)} ${a}   connect (local)\n  ${(tCross - t0).toFixed(1).padStart(8)} ${b}  connect (cross)\n`,
            );
          }
          process.stdout.write(`${sb} ${row.cli}/${row.server}: cross ${d.cross.toFixed(1)} ms, local ${d.local.toFixed(1)} ms\n`);
        } finally {
          cli.kill();
          cross.kill();
          local.kill();
        }
        await must(a, ['sandbox', 'rm', '-f', sb]);
        // The next server gets the same address and MAC: start it only once B has dropped this
        // one's entries, so that no sample finds its path already programmed.
        const gone = endpointOf.get(sb);
        for (let waited = 0; gone !== undefined && !seen(logB.read(), 'peer.removed', gone); waited += 20) {
          if (waited > 5000) throw new Error(`sample ${sb}: ${b} did not remove endpoint ${gone} within 5 s`);
          await new Promise((res) => setTimeout(res, 20));
        }
      }
    }
    if (perSample)
      for (const row of rows) {
        console.log(`\nper sample, cli ${row.cli}, server ${row.server}:`);
        printTable(
          ['#', ...COLUMNS],
          row.data.map((d, k) => [k, ...COLUMNS.map((c) => d[c])]),
        );
      }
    console.log(`\noverlay convergence, ${hosts} hosts (weft run -d on ${a} → first TCP connect from ${b}), load average now ${load()}`);
    console.log(LEGEND);
    const table: (string | number)[][] = [];
    for (const row of rows) {
      for (const q of ['p50', 'p99'] as const)
        table.push([row.cli, row.server, q, row.data.length, ...COLUMNS.map((c) => summarize(row.data.map((d) => d[c]))[q])]);
      table.push([row.cli, row.server, 'min', row.data.length, ...COLUMNS.map((c) => Math.min(...row.data.map((d) => d[c])))]);
    }
    printTable(['cli', 'server', 'stat', 'n', ...COLUMNS], table);
  } finally {
    await lab.down();
    console.log(`load average at end: ${load()}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
