/**
 * The routed driver's benchmarks (issue 15) on one `lab up --bgp` lab of HOSTS hosts (weftd
 * --bgp --policy per host on a real etcd, each supervising a real BIRD), all in one run:
 *   1. route convergence: a foreground `weft run` on host A whose command (bench/routed-probe)
 *      connects to a server sandbox on h1 — from the CLI's start to the first TCP handshake.
 *      The handshake needs h1's route back to the new address, so it is the BGP convergence
 *      the issue asks for ("first successful connect from host B"). Rows: a host with no block
 *      yet (a new block: BIRD announces it, the others learn it), a host whose block is already
 *      announced (no BGP change), and the same run to a server on A itself (no routing at all:
 *      the floor — the anchor).
 *   2. routed vs plain veth routing throughput (iperf3, one TCP stream, runs interleaved):
 *      weft sandbox on h1 → sandbox on h2, against namespaces behind hand-made veths on the same
 *      two hosts with hand-made routes via the underlay (the same kernel path without weft).
 *   3. policy propagation: one sandbox per host (role=srv); each host's prober (in its sandbox)
 *      connects to the next host's sandbox. `weft policy create` on h1 (closes port 7600 on every
 *      srv endpoint) and `weft policy rm` (opens it) until every one of the HOSTS probers sees
 *      the change; anchor: the same drop rule pushed by hand (`nft` in all HOSTS host
 *      namespaces, in parallel) and removed, measured by the same probers.
 * Policy scale (ruleset size and update time from 10 to 1000 endpoints) is bench/policy.ts.
 *   npm run build && node dist/bench/routed.js [--hosts 10] [--runs 18] [--rounds 10] [--seconds 3] [--iperf-runs 3]
 * Needs root (namespaces), etcd, bird, iperf3. Prints the load average with every figure.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { WeftClient } from '../src/cli/client.js';
import { ClusterLab } from '../src/lab/cluster-lab.js';
import { parsePolicyText, policyToResource } from '../src/policy/index.js';
import { killAndWait } from '../src/lab/etcd-process.js';
import { mustRun, NETTOOL, REPO, run, sleep, waitFor } from '../src/lab/sim-host.js';
import { printTable, summarize } from './stats.js';
import { loadAverage, numArg } from './args.js';
import { handMadeVethRouting } from './veth-routing.js';

const HOSTS = Math.max(3, Math.min(numArg('hosts', 10), 30));
const RUNS = Math.max(1, numArg('runs', 18));
const ROUNDS = Math.max(1, numArg('rounds', 10));
const SECONDS = Math.max(1, numArg('seconds', 3));
const IPERF_RUNS = Math.max(1, numArg('iperf-runs', 3));
const PROBE = path.join(REPO, 'dist/bench/routed-probe.js');
const POOL = '10.73.0.0/16';
const node = process.execPath;
const names = Array.from({ length: HOSTS }, (_, i) => `h${i + 1}`);

interface Sandbox {
  host: string;
  name: string;
  nsPath: string;
  v4: string;
}

const tag = randomBytes(2).toString('hex');
const extraNs: string[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'r2-bench-'));
/** Sandboxes left running (removed at the end, also after a failure). */
const residents: Sandbox[] = [];

async function weft(lab: ClusterLab, h: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await lab.weft(h, args, timeoutMs);
  if (r.code !== 0) throw new Error(`weft ${args.join(' ')} on ${h}: ${r.stderr}`);
  return r.stdout;
}

async function resident(lab: ClusterLab, h: string, name: string): Promise<Sandbox> {
  const out = await weft(lab, h, [
    'run',
    '-d',
    '--format',
    'json',
    '--name',
    name,
    '--network',
    'rbnet',
    '--label',
    'role=srv',
    '--',
    node,
    NETTOOL,
    'echo-server',
    '7500,7600,5201',
  ]);
  const sb = JSON.parse(out) as { netnsPath: string; endpoints: { ipv4?: string }[] };
  return { host: h, name, nsPath: sb.netnsPath, v4: sb.endpoints[0]!.ipv4!.split('/')[0]! };
}

/** Kernel routes of a host that BIRD installed and that contain `addr` (IPv4). */
async function birdRoutesCovering(lab: ClusterLab, h: string, addr: string): Promise<string[]> {
  const routes = JSON.parse((await run('ip', ['-j', '-4', '-n', lab.host(h).ns, 'route', 'show', 'proto', 'bird'])).stdout || '[]') as {
    dst: string;
  }[];
  const n = (a: string) => a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  return routes
    .map((r) => r.dst)
    .filter((d) => {
      const [base, len] = d.includes('/') ? d.split('/') : [d, '32'];
      const size = 2 ** (32 - Number(len));
      return Math.floor(n(addr) / size) === Math.floor(n(base!) / size);
    });
}

/** A foreground `weft run` on `h` whose probe connects to target:7500; ms from the CLI start to the handshake. */
async function convergeOnce(lab: ClusterLab, h: string, target: string): Promise<{ ms: number; cliMs: number; local: string }> {
  const t0 = Date.now();
  const r = await lab.weft(h, ['run', '--network', 'rbnet', '--', node, PROBE, 'connect', target, '7500', '15000'], 60_000);
  const cliMs = Date.now() - t0;
  const m = /^ok (\d+) (\S+)/m.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`probe on ${h} → ${target}: ${r.code} ${r.stdout} ${r.stderr}`);
  return { ms: Number(m[1]) - t0, cliMs, local: m[2]! };
}

async function iperf(serverNs: string, ip: string, clientNs: string): Promise<number> {
  const srv = spawn('nsenter', [`--net=${serverNs}`, 'iperf3', '-s', '-1', '-B', ip, '-p', '5301'], { stdio: 'pipe' });
  children.push(srv);
  try {
    await sleep(400);
    const r = await run('nsenter', [`--net=${clientNs}`, 'iperf3', '-c', ip, '-p', '5301', '-t', String(SECONDS), '-J'], {
      timeoutMs: (SECONDS + 20) * 1000,
    });
    if (r.code !== 0) throw new Error(`iperf3 → ${ip}: ${r.stdout.slice(-300)} ${r.stderr}`);
    return (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9;
  } finally {
    if (srv.exitCode === null && srv.pid) await killAndWait(srv.pid);
  }
}

/** A long-running `routed-probe watch` in a sandbox's namespace; ask(want) resolves with the epoch ms it saw, or NaN when it did not see the change within its 20 s. */
function watcher(nsPath: string, target: string): (want: 'open' | 'closed') => Promise<number> {
  const child = spawn('nsenter', [`--net=${nsPath}`, node, PROBE, 'watch'], { stdio: 'pipe' });
  children.push(child);
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => waiting.shift()?.(l));
  return (want) =>
    new Promise((resolve) => {
      waiting.push((l) => {
        if (/^\d+$/.test(l)) return resolve(Number(l));
        console.error(`prober ${nsPath} → ${target}: ${l}`);
        resolve(NaN);
      });
      child.stdin.write(`${want} ${target} 7600\n`);
    });
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const lab = await ClusterLab.up({ hosts: HOSTS, underlay: 'l2', routing: 'bgp', name: `r2b${tag}` });
  const say = (s: string): void => console.log(s);
  try {
    say(`lab r2b${tag}: ${HOSTS} hosts up in ${Date.now() - t0} ms (load ${loadAverage()})`);
    await Promise.all(
      names.map((h) =>
        waitFor(
          `BGP sessions on ${h}`,
          async () => {
            const r = await lab.weft(h, ['bgp', 'peers', '--format', 'json']);
            const p = r.code === 0 ? r.stdout.split('\n').filter(Boolean) : [];
            // One session per other host and family (lab hosts with --bgp are dual-stack).
            return p.length === 2 * (HOSTS - 1) && p.every((l) => /Established/i.test(l));
          },
          180_000,
          1000,
        ),
      ),
    );
    say(`every BIRD session Established ${Date.now() - t0} ms after the start (load ${loadAverage()})`);
    await weft(lab, 'h1', ['network', 'create', '-d', 'routed', '--subnet', POOL, 'rbnet']);
    for (const h of names)
      await waitFor(`rbnet on ${h}`, async () => (await lab.weft(h, ['network', 'inspect', 'rbnet'])).code === 0, 30_000, 200);
    const s1 = await resident(lab, 'h1', 'srv1');
    residents.push(s1);

    // 1a. New blocks: hosts h2… have no sandbox, so each run's address comes from a fresh block.
    const fresh: number[] = [];
    const freshCli: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const h = names[1 + (i % (HOSTS - 1))]!;
      const r = await convergeOnce(lab, h, s1.v4);
      fresh.push(r.ms);
      freshCli.push(r.cliMs);
      // The run's sandbox is gone with its command: wait until h1 no longer routes its block, so the next run starts from nothing.
      await waitFor(`h1 forgets ${r.local}'s block`, async () => (await birdRoutesCovering(lab, 'h1', r.local)).length === 0, 20_000, 50);
    }
    const loadFresh = loadAverage();
    // 1b. Announced blocks and the same-host floor: a resident sandbox on every host holds its block.
    const sbs = residents; // s1 first
    for (const h of names.slice(1)) sbs.push(await resident(lab, h, `srv${h.slice(1)}`));
    for (const s of sbs.slice(1))
      await waitFor(`h1 routes ${s.v4}`, async () => (await birdRoutesCovering(lab, 'h1', s.v4)).length > 0, 30_000, 100);
    const warm: number[] = [];
    const local: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const a = sbs[1 + (i % (HOSTS - 1))]!;
      warm.push((await convergeOnce(lab, a.host, s1.v4)).ms);
      local.push((await convergeOnce(lab, a.host, a.v4)).ms);
    }
    const loadWarm = loadAverage();

    // 2. Throughput: weft routed (h1 → h2 sandboxes) vs hand-made veth routing on the same hosts, interleaved.
    const pods = [`r2-pv1-${tag}`, `r2-pv2-${tag}`];
    const [h1, h2] = [lab.host('h1'), lab.host('h2')];
    extraNs.push(...pods);
    const undoPlain = await handMadeVethRouting([h1, h2], [pods[0]!, pods[1]!], 'r2pv0', '10.97');
    const s2 = sbs[1]!;
    const routedG: number[] = [];
    const plainG: number[] = [];
    const loads: string[] = [];
    for (let i = 0; i < IPERF_RUNS; i++) {
      routedG.push(await iperf(s2.nsPath, s2.v4, s1.nsPath));
      plainG.push(await iperf(`/run/netns/${pods[1]!}`, '10.97.2.2', `/run/netns/${pods[0]!}`));
      loads.push(loadAverage());
    }
    await undoPlain();

    // 3. Policy propagation to every host.
    const asks = sbs.map((s, i) => watcher(s.nsPath, sbs[(i + 1) % sbs.length]!.v4));
    const all = async (want: 'open' | 'closed', change: () => Promise<unknown>): Promise<{ all: number; hosts: number[]; cli: number }> => {
      const seen = asks.map((ask) => ask(want));
      await sleep(100); // every prober is probing before the change
      const c0 = Date.now();
      await change();
      const cli = Date.now() - c0;
      // A prober that never saw the change counts as Infinity (shown as "-" and in the timeouts column).
      const hosts = (await Promise.all(seen)).map((t) => (Number.isNaN(t) ? Infinity : Math.max(0, t - c0)));
      return { all: Math.max(...hosts), hosts, cli };
    };
    const gate = path.join(dir, 'gate.yaml');
    writeFileSync(
      gate,
      `name: r2gate
selector: role == 'srv'
types: [Ingress]
ingress:
  - { action: Allow, protocol: TCP, destination: { ports: [7500] } }
`,
    );
    const nftAll = (script: (s: Sandbox) => string): Promise<unknown> =>
      Promise.all(sbs.map((s) => mustRun('nsenter', [`--net=/run/netns/${lab.host(s.host).ns}`, 'nft', '-f', '-'], { input: script(s) })));
    const res: Record<string, { all: number[]; hosts: number[]; cli: number[] }> = {};
    const add = (k: string, r: { all: number; hosts: number[]; cli: number }): void => {
      const e = (res[k] ??= { all: [], hosts: [], cli: [] });
      e.all.push(r.all);
      e.hosts.push(...r.hosts);
      e.cli.push(r.cli);
    };
    // Through h1's REST API (what `weft policy create|rm` sends): under load a CLI's Node start-up
    // alone takes seconds, which is not propagation. One CLI round is shown beside it.
    const api = new WeftClient(lab.host('h1').socket, 30_000);
    const resources = parsePolicyText(readFileSync(gate, 'utf8')).policies.map(policyToResource);
    add('weft CLI: policy create (closes)', await all('closed', () => weft(lab, 'h1', ['policy', 'create', '-f', gate])));
    add('weft CLI: policy rm (opens)', await all('open', () => weft(lab, 'h1', ['policy', 'rm', 'r2gate'])));
    for (let i = 0; i < ROUNDS; i++) {
      add('weft API: POST policy (closes)', await all('closed', () => api.request('POST', '/v1/policies', { resources })));
      add('weft API: DELETE policy (opens)', await all('open', () => api.request('DELETE', '/v1/policies/r2gate')));
      add(
        'hand nft on every host (closes)',
        await all('closed', () =>
          nftAll(
            (s) => `add table inet r2anchor
add chain inet r2anchor r2fwd { type filter hook forward priority -5; }
add rule inet r2anchor r2fwd ip daddr ${s.v4} tcp dport 7600 drop
`,
          ),
        ),
      );
      add('hand nft on every host (opens)', await all('open', () => nftAll(() => 'delete table inet r2anchor\n')));
    }
    const loadPolicy = loadAverage();
    for (const c of children.splice(0)) if (c.exitCode === null && c.pid) await killAndWait(c.pid);
    for (const s of sbs.splice(0)) await weft(lab, s.host, ['sandbox', 'rm', '-f', s.name]);

    console.log('');
    say(`# routed benchmarks, ${HOSTS}-host lab (weftd --bgp --policy + BIRD per host, etcd), ${new Date().toISOString()}`);
    say(`## route convergence: \`weft run\` on host A → first TCP handshake with a sandbox (ms, from the CLI's start), ${RUNS} runs each`);
    const f = summarize(fresh);
    const wm = summarize(warm);
    const lo = summarize(local);
    printTable(
      ['case', 'n', 'p50', 'p99', 'vs same host p50', 'load avg'],
      [
        ['A has no block: new block over BGP → h1', f.n, f.p50, f.p99, f.p50 / lo.p50, loadFresh],
        ['A block announced → h1', wm.n, wm.p50, wm.p99, wm.p50 / lo.p50, loadWarm],
        ['same host (no routing; floor)', lo.n, lo.p50, lo.p99, 1, loadWarm],
      ],
    );
    say(`(\`weft run\` CLI wall time in the new-block case, whole command incl. sandbox removal: p50 ${summarize(freshCli).p50} ms)`);
    say(`## throughput, iperf3 ${SECONDS} s one TCP stream, h1 → h2, ${IPERF_RUNS} interleaved runs (Gbit/s; loads ${loads.join(' | ')})`);
    const rg = summarize(routedG);
    const pg = summarize(plainG);
    printTable(
      ['path', 'median', 'runs', 'routed ÷ plain'],
      [
        ['weft routed (sandbox → sandbox)', rg.p50, routedG.map((x) => x.toFixed(2)).join(' '), rg.p50 / pg.p50],
        ['plain veth routing (hand-made)', pg.p50, plainG.map((x) => x.toFixed(2)).join(' '), 1],
      ],
    );
    say(`goal: routed ≥ 95 % of plain veth routing`);
    say(`## policy propagation: change → seen by the probers of all ${HOSTS} hosts (ms), ${ROUNDS} rounds, load ${loadPolicy}`);
    const anchor = summarize([...res['hand nft on every host (closes)']!.all, ...res['hand nft on every host (opens)']!.all]);
    printTable(
      ['change', 'n', 'timeouts', 'all hosts p50', 'all hosts p99', 'per host p99', 'call returns p50', 'p99 ÷ hand nft p99'],
      Object.entries(res).map(([k, v]) => {
        const a = summarize(v.all);
        return [
          k,
          a.n,
          v.all.filter((x) => !Number.isFinite(x)).length,
          a.p50,
          a.p99,
          summarize(v.hosts).p99,
          summarize(v.cli).p50,
          a.p99 / anchor.p99,
        ];
      }),
    );
    say(
      `goal: weft's p99 to all hosts ≤ 500 ms (Cilium publishes < 600 ms); times from the call's start, the API rows exclude the CLI's start-up`,
    );
    say(
      `reproduce: npm run build && node dist/bench/routed.js --hosts ${HOSTS} --runs ${RUNS} --rounds ${ROUNDS} --seconds ${SECONDS} --iperf-runs ${IPERF_RUNS}`,
    );
  } finally {
    for (const c of children) if (c.exitCode === null && c.pid) await killAndWait(c.pid);
    // lab down kills what runs in the lab's namespaces; the sandboxes' commands run in their own.
    for (const s of residents) {
      const r = await lab.weft(s.host, ['sandbox', 'rm', '-f', s.name]);
      if (r.code !== 0) console.error(`sandbox rm ${s.name}: ${r.stderr}`);
    }
    for (const ns of extraNs) await run('ip', ['netns', 'del', ns]);
    await lab.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
