/**
 * BGP route convergence and session start-up with real BIRD, side by side with GoBGP.
 *   node dist/bench/bgp.js [--runs 20] [--starts 5]
 * Two labs, each built and torn down in this run:
 *   mesh: hosts a and b on one L2 segment (iBGP), GoBGP g on the same segment peering with b;
 *   tor:  a on segment 1, b on segment 2, a BIRD top-of-rack router between them (eBGP), GoBGP
 *         g on segment 1 peering with the router.
 * Figures:
 *   - session start: both BIRDs started at once until every BIRD-to-BIRD session is Established;
 *   - weft convergence: a new borrowed /32 applied on a (render, check, configure) until the
 *     route event arrives in b's kernel (netlink), and its removal until the delete event;
 *   - anchors: the same config change made by hand (file edited, `birdc configure`), and
 *     `gobgp global rib add` on g, each until the route event in b's kernel. The gobgp CLI is a
 *     separate Go process whose start-up dominates; its own run time is shown beside it.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { renderBirdConfig } from '../src/bgp/render.js';
import type { BgpModel } from '../src/bgp/model.js';
import type { BgpSpeaker } from '../src/bgp/bgp-speaker.js';
import type { Rtnl } from '../src/kernel/netlink/rtnl.js';
import type { RtnlEvent } from '../src/kernel/netlink/types.js';
import { mustRun, run } from '../src/lab/sim-host.js';
import { BgpTopology, gobgpConf, RTPROT_BIRD, waitEstablished, type LabNode } from '../test/netns/bgp-topology.js';
import { printTable, summarize } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const RUNS = Math.max(1, Math.min(Number(opt('runs', '20')), 500));
const STARTS = Math.max(1, Math.min(Number(opt('starts', '5')), 50));
const timers = { holdSeconds: 9, keepaliveSeconds: 3 };

/** Resolves when a BIRD route for `dst` appears (or, with `del`, disappears) in `r`'s namespace. */
async function routeEvent(r: Rtnl, dst: string, del = false, ms = 10_000): Promise<number> {
  let resolve!: (t: number) => void;
  const seen = new Promise<number>((res) => (resolve = res));
  const sub = await r.subscribe(
    ['ipv4-route'],
    (e: RtnlEvent) => {
      if (e.type === 'route' && e.dst === dst && e.protocol === RTPROT_BIRD && e.action === (del ? 'del' : 'new'))
        resolve(performance.now());
    },
    { ref: true },
  );
  const timer = setTimeout(() => resolve(NaN), ms);
  const at = await seen;
  clearTimeout(timer);
  sub.close();
  return at;
}

async function waitRoute(r: Rtnl, dst: string, del: boolean, start: () => Promise<unknown>): Promise<number> {
  let subscribed!: () => void;
  const ready = new Promise<void>((res) => (subscribed = res));
  const ev = routeEvent(r, dst, del).finally(() => subscribed());
  await Promise.race([ready, new Promise((res) => setTimeout(res, 20))]); // the subscription is in place first
  const t0 = performance.now();
  await start();
  return (await ev) - t0;
}

async function gobgpEstablished(g: LabNode): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await run('nsenter', [`--net=${g.nsPath}`, 'gobgp', 'neighbor'], { timeoutMs: 3000 });
    if (r.code === 0 && /Establ/.test(r.stdout)) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('GoBGP session did not come up');
}

/** Write `text` over the speaker's config file and run `birdc configure` in its namespace. */
async function birdcConfigure(n: LabNode, s: BgpSpeaker, text: string): Promise<void> {
  writeFileSync(s.configFile, text);
  const r = await run('nsenter', [`--net=${n.nsPath}`, 'birdc', '-s', s.socketPath, 'configure'], { timeoutMs: 10_000 });
  if (r.code !== 0 || !/Reconfigured/.test(r.stdout)) throw new Error(`birdc configure: ${r.stdout}${r.stderr}`);
}

/** `gobgp global rib add|del` on g; resolves the CLI's own run time. */
function gobgpRib(g: LabNode, verb: 'add' | 'del', prefix: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn('nsenter', [`--net=${g.nsPath}`, 'gobgp', 'global', 'rib', verb, '-a', 'ipv4', prefix], { stdio: 'ignore' });
    c.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`gobgp rib ${verb} ${prefix}: exit ${code}`))));
  });
}

interface LabResult {
  name: string;
  up: number[];
  add: number[];
  birdc: number[];
  del: number[];
  gobgpAdd: number[];
  gobgpCli: number[];
}

async function measure(
  name: string,
  lab: BgpTopology,
  a: LabNode,
  b: LabNode,
  g: LabNode,
  models: { a: (borrowed: string[]) => BgpModel; b: BgpModel },
  extra: BgpSpeaker[],
): Promise<LabResult> {
  const res: LabResult = { name, up: [], add: [], birdc: [], del: [], gobgpAdd: [], gobgpCli: [] };
  let sa = await lab.speaker(a, models.a([]));
  let sb = await lab.speaker(b, models.b);
  await Promise.all([sa, sb, ...extra].map((s) => waitEstablished(s)));
  // Session start-up: stop both, start both, until every session is up again.
  for (let i = 0; i < STARTS; i++) {
    await Promise.all([sa.stop(), sb.stop()]);
    const t0 = performance.now();
    [sa, sb] = await Promise.all([lab.speaker(a, models.a([])), lab.speaker(b, models.b)]);
    // BIRD-to-BIRD sessions only: GoBGP's own reconnect timer (5 s) is not what this measures.
    await Promise.all([sa, sb].map((s) => waitEstablished(s, 30_000, (p) => p.peer !== 'g')));
    res.up.push(performance.now() - t0);
  }
  await Promise.all(extra.map((s) => waitEstablished(s, 30_000)));
  const rb = await lab.rtnl(b);
  for (let i = 0; i < RUNS; i++) {
    const addr = `10.50.1.${100 + (i % 100)}`; // borrowed from b's block: announced as a /32
    res.add.push(await waitRoute(rb, `${addr}/32`, false, () => sa.apply(models.a([addr]))));
    res.del.push(await waitRoute(rb, `${addr}/32`, true, () => sa.apply(models.a([]))));
  }
  // Anchor: the same change made by hand — the config file edited, then `birdc configure`.
  const original = readFileSync(sa.configFile, 'utf8');
  for (let i = 0; i < RUNS; i++) {
    const addr = `10.50.1.${100 + (i % 100)}`;
    const edited = renderBirdConfig(models.a([addr]));
    res.birdc.push(await waitRoute(rb, `${addr}/32`, false, () => birdcConfigure(a, sa, edited)));
    await waitRoute(rb, `${addr}/32`, true, () => birdcConfigure(a, sa, original));
  }
  await gobgpEstablished(g);
  for (let i = 0; i < RUNS; i++) {
    const prefix = `10.50.9.${i % 250}/32`;
    let cli = 0;
    res.gobgpAdd.push(
      await waitRoute(rb, prefix, false, async () => {
        cli = await gobgpRib(g, 'add', prefix);
      }),
    );
    res.gobgpCli.push(cli);
    await waitRoute(rb, prefix, true, () => gobgpRib(g, 'del', prefix));
  }
  return res;
}

async function meshLab(): Promise<LabResult> {
  const lab = new BgpTopology();
  try {
    await lab.segment('l2');
    const a = await lab.router('a');
    const b = await lab.router('b');
    const g = await lab.node('g');
    await lab.attach(a, 'l2', 'eth0', ['198.18.50.1/24']);
    await lab.attach(b, 'l2', 'eth0', ['198.18.50.2/24']);
    await lab.attach(g, 'l2', 'eth0', ['198.18.50.9/24']);
    const hosts = [
      { name: 'a', asNumber: 64512, address4: '198.18.50.1' },
      { name: 'b', asNumber: 64512, address4: '198.18.50.2' },
    ];
    const common = { asNumber: 64512, pools: ['10.50.0.0/16'], hosts, timers };
    const models = {
      a: (borrowed: string[]): BgpModel => ({
        ...common,
        hostName: 'a',
        routerId: '198.18.50.1',
        address4: '198.18.50.1',
        blocks: ['10.50.0.0/26'],
        borrowed,
      }),
      b: {
        ...common,
        hostName: 'b',
        routerId: '198.18.50.2',
        address4: '198.18.50.2',
        blocks: ['10.50.2.0/26'],
        externalPeers: [{ name: 'g', asNumber: 65009, address: '198.18.50.9' }],
      },
    };
    await lab.gobgpd(g, gobgpConf(65009, '198.18.50.9', [{ address: '198.18.50.2', as: 64512 }]));
    return await measure('mesh (a → b)', lab, a, b, g, models, []);
  } finally {
    await lab.cleanup();
  }
}

async function torLab(): Promise<LabResult> {
  const lab = new BgpTopology();
  try {
    await lab.segment('s1');
    await lab.segment('s2');
    const r = await lab.router('tor');
    const a = await lab.router('a');
    const b = await lab.router('b');
    const g = await lab.node('g');
    await lab.attach(r, 's1', 'eth1', ['198.18.51.254/24']);
    await lab.attach(r, 's2', 'eth2', ['198.18.52.254/24']);
    await lab.attach(a, 's1', 'eth0', ['198.18.51.1/24']);
    await lab.attach(g, 's1', 'eth0', ['198.18.51.9/24']);
    await lab.attach(b, 's2', 'eth0', ['198.18.52.1/24']);
    await mustRun('ip', ['-n', a.ns, 'route', 'add', 'default', 'via', '198.18.51.254']);
    await mustRun('ip', ['-n', b.ns, 'route', 'add', 'default', 'via', '198.18.52.254']);
    const pools = ['10.50.0.0/16'];
    const host = (name: string, as: number, addr: string, tor: string, blocks: string[], borrowed: string[]): BgpModel => ({
      hostName: name,
      routerId: addr,
      asNumber: as,
      address4: addr,
      pools,
      blocks,
      borrowed,
      mesh: 'none',
      externalPeers: [{ name: 'tor', asNumber: 65000, address: tor }],
      timers,
    });
    const sr = await lab.speaker(r, {
      role: 'router',
      hostName: 'tor',
      routerId: '198.18.51.254',
      asNumber: 65000,
      address4: '198.18.51.254',
      pools,
      mesh: 'none',
      externalPeers: [
        { name: 'a', asNumber: 64601, address: '198.18.51.1' },
        { name: 'g', asNumber: 65009, address: '198.18.51.9' },
        { name: 'b', asNumber: 64602, address: '198.18.52.1', localAddress: '198.18.52.254' },
      ],
      timers,
    });
    const models = {
      a: (borrowed: string[]): BgpModel => host('a', 64601, '198.18.51.1', '198.18.51.254', ['10.50.0.0/26'], borrowed),
      b: host('b', 64602, '198.18.52.1', '198.18.52.254', ['10.50.2.0/26'], []),
    };
    await lab.gobgpd(g, gobgpConf(65009, '198.18.51.9', [{ address: '198.18.51.254', as: 65000 }]));
    return await measure('tor (a → router → b)', lab, a, b, g, models, [sr]);
  } finally {
    await lab.cleanup();
  }
}

async function main(): Promise<void> {
  process.stdout.write(
    `BGP convergence with BIRD ${(await run('bird', ['--version'])).stderr.trim()} and GoBGP; runs=${RUNS}, starts=${STARTS}\n\n`,
  );
  const results = [await meshLab(), await torLab()];
  const rows: (string | number)[][] = [];
  for (const r of results) {
    const up = summarize(r.up);
    const add = summarize(r.add);
    const del = summarize(r.del);
    const gadd = summarize(r.gobgpAdd);
    const cli = summarize(r.gobgpCli);
    rows.push([r.name, 'BIRD start → all Established', up.n, up.p50, up.p99]);
    rows.push([r.name, 'weft apply /32 → b kernel', add.n, add.p50, add.p99]);
    rows.push([r.name, 'weft remove /32 → gone in b', del.n, del.p50, del.p99]);
    const bc = summarize(r.birdc);
    rows.push([r.name, 'by hand: edit + birdc configure → b kernel', bc.n, bc.p50, bc.p99]);
    rows.push([r.name, 'ratio weft / by hand (p50)', '', add.p50 / bc.p50, '']);
    rows.push([r.name, 'gobgp rib add → b kernel', gadd.n, gadd.p50, gadd.p99]);
    rows.push([r.name, '  (gobgp CLI run time)', cli.n, cli.p50, cli.p99]);
    rows.push([r.name, 'ratio weft / gobgp (p50)', '', add.p50 / gadd.p50, '']);
  }
  printTable(['lab', 'measure', 'n', 'p50 ms', 'p99 ms'], rows);
}

await main();
