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
 *      Where the time goes: each weftd logs, per apply, when the store event arrived and how long
 *      the nft transaction took; the bench matches those lines to each change and prints the
 *      stages (event reached the host → applied → the prober saw it), the probers' own CPU use
 *      (the measurement must not be what loads the machine) and the CLI's start-up steps.
 *      Prober resolution: a new connection attempt every 10 ms (bench/routed-probe.ts).
 * Policy scale (ruleset size and update time from 10 to 1000 endpoints) is bench/policy.ts.
 *   npm run build && node dist/bench/routed.js [--hosts 10] [--runs 18] [--rounds 10] [--seconds 3] [--iperf-runs 3]
 *     [--only convergence,throughput,policy] [--cli-rounds 3] [--lab-prefix rb]
 * WEFT_NFT_EXEC=1 in the environment makes every weftd fork nft per change (the old path) instead
 * of using libnftables in-process: run the bench once with it and once without to compare.
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
import { formatTable, summarize } from './stats.js';
import { loadAverage, numArg } from './args.js';
import { handMadeVethRouting } from './veth-routing.js';

const HOSTS = Math.max(3, Math.min(numArg('hosts', 10), 30));
const RUNS = Math.max(1, numArg('runs', 18));
const ROUNDS = Math.max(1, numArg('rounds', 10));
const SECONDS = Math.max(1, numArg('seconds', 3));
const IPERF_RUNS = Math.max(1, numArg('iperf-runs', 3));
const CLI_ROUNDS = Math.max(0, numArg('cli-rounds', 3));
const sarg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const PARTS = new Set(sarg('only', 'convergence,throughput,policy').split(','));
for (const p of PARTS)
  if (!['convergence', 'throughput', 'policy'].includes(p))
    throw new Error(`--only: unknown part "${p}" (convergence, throughput, policy)`);
const PREFIX = sarg('lab-prefix', 'rb');
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
const dir = mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-bench-`));
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

/** A long-running `routed-probe watch` in a sandbox's namespace; ask(want) resolves with the epoch ms it saw, or NaN when it did not see the change within its 60 s (a CLI start alone takes many seconds on a loaded machine). */
function watcher(nsPath: string, target: string): { ask: (want: 'open' | 'closed') => Promise<number>; pid: number | undefined } {
  const child = spawn('nsenter', [`--net=${nsPath}`, node, PROBE, 'watch'], { stdio: 'pipe' });
  children.push(child);
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => waiting.shift()?.(l));
  const ask = (want: 'open' | 'closed'): Promise<number> =>
    new Promise((resolve) => {
      waiting.push((l) => {
        if (/^\d+$/.test(l)) return resolve(Number(l));
        console.error(`prober ${nsPath} → ${target}: ${l}`);
        resolve(NaN);
      });
      child.stdin.write(`${want} ${target} 7600\n`);
    });
  // nsenter execs node: the pid is the prober's own.
  return { ask, pid: child.pid };
}

/** CPU seconds (user + system) a live process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number, hz: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return (Number(f[11]) + Number(f[12])) / hz;
}

/** Busy and total CPU seconds of the whole machine since boot, from /proc/stat. */
function machineCpu(hz: number): { busy: number; total: number } {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - v[3]! - v[4]!) / hz, total: total / hz };
}

/** What a host's weftd logged for one policy apply (src/daemon/policy-service.ts). */
interface ApplyLine {
  /** When the line was written: the change is enforced. */
  at: number;
  changeAt: number;
  waitMs: number;
  nftMs: number;
  via: string;
}

function applyLines(logFile: string): ApplyLine[] {
  const out: ApplyLine[] = [];
  for (const l of readFileSync(logFile, 'utf8').split('\n')) {
    if (!l.includes('"policy applied"')) continue;
    const o = JSON.parse(l) as { time: string; changeAt?: number; waitMs: number; nftMs: number; via: string };
    if (typeof o.changeAt === 'number')
      out.push({ at: Date.parse(o.time), changeAt: o.changeAt, waitMs: o.waitMs, nftMs: o.nftMs, via: o.via });
  }
  return out;
}

/** One measured change: when it started, and per destination host when its prober saw it. */
interface Change {
  kind: string;
  c0: number;
  /** Epoch ms each host's sandbox was seen changed (by the prober of the previous host), by host name. */
  seenAt: Map<string, number>;
  /** CLI step marks (WEFT_TRACE), ms since the CLI process started. */
  trace?: Record<string, number>;
  cliMs: number;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const lab = await ClusterLab.up({ hosts: HOSTS, underlay: 'l2', routing: 'bgp', name: `${PREFIX}${tag}` });
  const say = (s: string): void => console.log(s);
  const out: string[] = [];
  const report = (s: string): void => void out.push(s);
  try {
    say(`lab ${PREFIX}${tag}: ${HOSTS} hosts up in ${Date.now() - t0} ms (load ${loadAverage()})`);
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
    let loadFresh = '';
    if (PARTS.has('convergence')) {
      for (let i = 0; i < RUNS; i++) {
        const h = names[1 + (i % (HOSTS - 1))]!;
        const r = await convergeOnce(lab, h, s1.v4);
        fresh.push(r.ms);
        freshCli.push(r.cliMs);
        // The run's sandbox is gone with its command: wait until h1 no longer routes its block, so the next run starts from nothing.
        await waitFor(`h1 forgets ${r.local}'s block`, async () => (await birdRoutesCovering(lab, 'h1', r.local)).length === 0, 20_000, 50);
      }
      loadFresh = loadAverage();
    }
    // A resident sandbox on every host (holding its block): the other parts need them.
    const sbs = residents; // s1 first
    for (const h of names.slice(1)) sbs.push(await resident(lab, h, `srv${h.slice(1)}`));
    for (const s of sbs.slice(1))
      await waitFor(`h1 routes ${s.v4}`, async () => (await birdRoutesCovering(lab, 'h1', s.v4)).length > 0, 30_000, 100);

    if (PARTS.has('convergence')) {
      // 1b. Announced blocks and the same-host floor.
      const warm: number[] = [];
      const local: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const a = sbs[1 + (i % (HOSTS - 1))]!;
        warm.push((await convergeOnce(lab, a.host, s1.v4)).ms);
        local.push((await convergeOnce(lab, a.host, a.v4)).ms);
      }
      const loadWarm = loadAverage();
      report(
        `## route convergence: \`weft run\` on host A → first TCP handshake with a sandbox (ms, from the CLI's start), ${RUNS} runs each`,
      );
      const f = summarize(fresh);
      const wm = summarize(warm);
      const lo = summarize(local);
      report(
        formatTable(
          ['case', 'n', 'p50', 'p99', 'vs same host p50', 'load avg'],
          [
            ['A has no block: new block over BGP → h1', f.n, f.p50, f.p99, f.p50 / lo.p50, loadFresh],
            ['A block announced → h1', wm.n, wm.p50, wm.p99, wm.p50 / lo.p50, loadWarm],
            ['same host (no routing; floor)', lo.n, lo.p50, lo.p99, 1, loadWarm],
          ],
        ),
      );
      report(`(\`weft run\` CLI wall time in the new-block case, whole command incl. sandbox removal: p50 ${summarize(freshCli).p50} ms)`);
    }

    if (PARTS.has('throughput')) {
      // 2. Throughput: weft routed (h1 → h2 sandboxes) vs hand-made veth routing on the same hosts, interleaved.
      const pods = [`${PREFIX}-pv1-${tag}`, `${PREFIX}-pv2-${tag}`];
      const [h1, h2] = [lab.host('h1'), lab.host('h2')];
      extraNs.push(...pods);
      const undoPlain = await handMadeVethRouting([h1, h2], [pods[0]!, pods[1]!], 'rbpv0', '10.97');
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
      report(
        `## throughput, iperf3 ${SECONDS} s one TCP stream, h1 → h2, ${IPERF_RUNS} interleaved runs (Gbit/s; loads ${loads.join(' | ')})`,
      );
      const rg = summarize(routedG);
      const pg = summarize(plainG);
      report(
        formatTable(
          ['path', 'median', 'runs', 'routed ÷ plain'],
          [
            ['weft routed (sandbox → sandbox)', rg.p50, routedG.map((x) => x.toFixed(2)).join(' '), rg.p50 / pg.p50],
            ['plain veth routing (hand-made)', pg.p50, plainG.map((x) => x.toFixed(2)).join(' '), 1],
          ],
        ),
      );
      report(`goal: routed ≥ 95 % of plain veth routing`);
    }

    if (PARTS.has('policy')) await policyPropagation(lab, sbs, report);
    for (const s of sbs.splice(0)) await weft(lab, s.host, ['sandbox', 'rm', '-f', s.name]);

    console.log('');
    say(`# routed benchmarks, ${HOSTS}-host lab (weftd --bgp --policy + BIRD per host, etcd), ${new Date().toISOString()}`);
    for (const l of out) say(l);
    say(
      `reproduce: npm run build && node dist/bench/routed.js --hosts ${HOSTS} --runs ${RUNS} --rounds ${ROUNDS} --seconds ${SECONDS} --iperf-runs ${IPERF_RUNS} --cli-rounds ${CLI_ROUNDS} --only ${[...PARTS].join(',')}` +
        (process.env.WEFT_NFT_EXEC === '1' ? ' (with WEFT_NFT_EXEC=1)' : ''),
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

/**
 * 3. Policy propagation to every host: one prober per host (in its sandbox) connects to the next
 * host's sandbox; a change counts as enforced on a host when that host's sandbox is seen closed
 * (or open again) by its prober.
 */
async function policyPropagation(lab: ClusterLab, sbs: Sandbox[], report: (s: string) => void): Promise<void> {
  const hz = Number((await mustRun('getconf', ['CLK_TCK'])).trim());
  const probers = sbs.map((s, i) => watcher(s.nsPath, sbs[(i + 1) % sbs.length]!.v4));
  // Prober i watches the sandbox of host i+1: the ingress policy is enforced on that host.
  const watched = sbs.map((_, i) => sbs[(i + 1) % sbs.length]!.host);
  const phaseLoad0 = loadAverage();
  // Every prober running and probing before the first measured change (Node start-up of ten
  // probers at once would otherwise be counted against the first change).
  const warm = await Promise.all(probers.map((p) => p.ask('open')));
  if (warm.some((t) => Number.isNaN(t))) throw new Error('a prober never reached its target before the policy changes');
  const cpu0 = { probers: probers.map((p) => cpuSeconds(p.pid!, hz)), weftd: sbs.map((s) => cpuSeconds(lab.host(s.host).pid!, hz)) };
  const m0 = machineCpu(hz);
  const w0 = Date.now();

  const changes: Change[] = [];
  const measure = async (
    kind: string,
    want: 'open' | 'closed',
    change: () => Promise<Record<string, number> | undefined>,
  ): Promise<void> => {
    const seen = probers.map((p) => p.ask(want));
    await sleep(100); // every prober is probing before the change
    const c0 = Date.now();
    const trace = await change();
    const cliMs = Date.now() - c0;
    const times = await Promise.all(seen);
    // A prober that never saw the change counts as Infinity (shown as "-" and in the timeouts column).
    const seenAt = new Map(times.map((t, i) => [watched[i]!, Number.isNaN(t) ? Infinity : t]));
    changes.push({ kind, c0, seenAt, cliMs, ...(trace ? { trace } : {}) });
  };
  const gate = path.join(dir, 'gate.yaml');
  writeFileSync(
    gate,
    `name: rbgate
selector: role == 'srv'
types: [Ingress]
ingress:
  - { action: Allow, protocol: TCP, destination: { ports: [7500] } }
`,
  );
  const nftAll = (script: (s: Sandbox) => string): Promise<unknown> =>
    Promise.all(sbs.map((s) => mustRun('nsenter', [`--net=/run/netns/${lab.host(s.host).ns}`, 'nft', '-f', '-'], { input: script(s) })));
  // `weft policy …` through the real CLI, with its step marks (src/cli/trace.ts).
  const cli = async (args: string[]): Promise<Record<string, number>> => {
    process.env.WEFT_TRACE = '1';
    let r: Awaited<ReturnType<ClusterLab['weft']>>;
    try {
      r = await lab.weft('h1', args, 60_000);
    } finally {
      delete process.env.WEFT_TRACE;
    }
    if (r.code !== 0) throw new Error(`weft ${args.join(' ')}: ${r.stderr}`);
    const m = /weft-trace: (.*)$/m.exec(r.stderr);
    return Object.fromEntries((m?.[1] ?? '').split(' ').map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
  };
  // Through h1's REST API (what `weft policy create|rm` sends), and through the CLI for the
  // first --cli-rounds rounds.
  const api = new WeftClient(lab.host('h1').socket, 30_000);
  const resources = parsePolicyText(readFileSync(gate, 'utf8')).policies.map(policyToResource);
  for (let i = 0; i < ROUNDS; i++) {
    if (i < CLI_ROUNDS) {
      await measure('weft CLI: policy create (closes)', 'closed', () => cli(['policy', 'create', '-f', gate]));
      await measure('weft CLI: policy rm (opens)', 'open', () => cli(['policy', 'rm', 'rbgate']));
    }
    await measure('weft API: POST policy (closes)', 'closed', async () => void (await api.request('POST', '/v1/policies', { resources })));
    await measure('weft API: DELETE policy (opens)', 'open', async () => void (await api.request('DELETE', '/v1/policies/rbgate')));
    await measure(
      'hand nft on every host (closes)',
      'closed',
      async () =>
        void (await nftAll(
          (s) => `add table inet rbanchor
add chain inet rbanchor rbfwd { type filter hook forward priority -5; }
add rule inet rbanchor rbfwd ip daddr ${s.v4} tcp dport 7600 drop
`,
        )),
    );
    await measure('hand nft on every host (opens)', 'open', async () => void (await nftAll(() => 'delete table inet rbanchor\n')));
  }
  const wall = (Date.now() - w0) / 1000;
  const m1 = machineCpu(hz);
  const cores = (xs: number[], before: number[]): number => xs.reduce((a, x, i) => a + x - before[i]!, 0) / wall;
  const proberCores = cores(
    probers.map((p) => cpuSeconds(p.pid!, hz)),
    cpu0.probers,
  );
  const weftdCores = cores(
    sbs.map((s) => cpuSeconds(lab.host(s.host).pid!, hz)),
    cpu0.weftd,
  );
  const phaseLoad1 = loadAverage();
  for (const c of children.splice(0)) if (c.exitCode === null && c.pid) await killAndWait(c.pid);

  // Per-host stages from the weftds' logs: for each weft change, the first apply on each host
  // whose store event came after the change started (and before the next change).
  const lines = new Map(sbs.map((s) => [s.host, applyLines(lab.host(s.host).log)]));
  const via = new Set([...lines.values()].flat().map((l) => l.via));
  const kinds = [...new Set(changes.map((c) => c.kind))];
  const rows: (string | number)[][] = [];
  const stages = new Map<string, { event: number[]; wait: number[]; nft: number[]; applied: number[]; seen: number[]; lag: number[] }>();
  changes.forEach((c, k) => {
    const st = stages.get(c.kind) ?? { event: [], wait: [], nft: [], applied: [], seen: [], lag: [] };
    stages.set(c.kind, st);
    if (!c.kind.startsWith('hand')) {
      const next = changes[k + 1]?.c0 ?? Infinity;
      for (const [host, seenAt] of c.seenAt) {
        const l = lines.get(host)!.find((x) => x.changeAt >= c.c0 && x.changeAt < next);
        if (!l) continue;
        st.event.push(l.changeAt - c.c0);
        st.wait.push(l.waitMs);
        st.nft.push(l.nftMs);
        st.applied.push(l.at - c.c0);
        st.seen.push(seenAt - c.c0);
        st.lag.push(seenAt - l.at);
      }
    }
  });
  for (const kind of kinds) {
    const cs = changes.filter((c) => c.kind === kind);
    const all = cs.map((c) => Math.max(0, Math.max(...[...c.seenAt.values()]) - c.c0));
    const hosts = cs.flatMap((c) => [...c.seenAt.values()].map((t) => Math.max(0, t - c.c0)));
    const anchor = summarize(
      changes.filter((c) => c.kind.startsWith('hand')).map((c) => Math.max(0, Math.max(...[...c.seenAt.values()]) - c.c0)),
    );
    const s = summarize(all);
    rows.push([
      kind,
      s.n,
      all.filter((x) => !Number.isFinite(x)).length,
      s.p50,
      s.p99,
      summarize(hosts).p99,
      summarize(cs.map((c) => c.cliMs)).p50,
      s.p99 / anchor.p99,
    ]);
  }
  report(
    `## policy propagation: change → seen by the probers of all ${HOSTS} hosts (ms), ${ROUNDS} rounds (CLI ${Math.min(CLI_ROUNDS, ROUNDS)}), ` +
      `load ${phaseLoad0} at the start, ${phaseLoad1} at the end; weftd applies via ${[...via].join(', ')}`,
  );
  report(
    formatTable(
      ['change', 'n', 'timeouts', 'all hosts p50', 'all hosts p99', 'per host p99', 'call returns p50', 'p99 ÷ hand nft p99'],
      rows,
    ),
  );
  report(
    `goal: weft's p99 to all hosts ≤ 500 ms (Cilium publishes < 600 ms); times from the call's start, the API rows exclude the CLI's start-up`,
  );
  report(`### where the time goes, per host and change (ms from the call's start; from the weftd logs; p50 / p99 over hosts × rounds)`);
  const stageRows: (string | number)[][] = [];
  const pp = (xs: number[]): string => (xs.length ? `${summarize(xs).p50.toFixed(0)} / ${summarize(xs).p99.toFixed(0)}` : '-');
  const weftKinds = kinds.filter((k) => !k.startsWith('hand'));
  for (const [label, pick] of [
    ['store event reached the host', 'event'],
    ['waited for an earlier apply', 'wait'],
    ['nft transaction', 'nft'],
    ['applied (enforced)', 'applied'],
    ['its prober saw it', 'seen'],
    ['prober saw it − applied', 'lag'],
  ] as const)
    stageRows.push([label, ...weftKinds.map((k) => pp(stages.get(k)![pick]))]);
  report(formatTable(['stage', ...weftKinds.map((k) => k.replace(/^weft /, '').replace(/ \(.*\)$/, ''))], stageRows));
  report(
    `measurement: each prober starts a connection every 10 ms (resolution ≈ 10 ms + one RTT); the ${HOSTS} probers used ${proberCores.toFixed(2)} cores, ` +
      `the ${HOSTS} weftds ${weftdCores.toFixed(2)} cores, the whole machine ${((m1.busy - m0.busy) / wall).toFixed(2)} of ${((m1.total - m0.total) / wall).toFixed(0)} cores over the phase (${wall.toFixed(0)} s)`,
  );
  const traced = changes.filter((c) => c.trace);
  if (traced.length > 0) {
    const t = (c: Change, k: string): number => c.trace?.[k] ?? NaN;
    const cliRows = [...new Set(traced.map((c) => c.kind))].map((kind) => {
      const cs = traced.filter((c) => c.kind === kind);
      const method = kind.includes('create') ? 'POST' : 'DELETE';
      return [
        kind.replace(/ \(.*\)$/, ''),
        cs.length,
        pp(cs.map((c) => c.cliMs - t(c, 'exit'))),
        pp(cs.map((c) => t(c, 'main'))),
        pp(cs.map((c) => t(c, method) - t(c, 'main'))),
        pp(cs.map((c) => t(c, 'reply') - t(c, method))),
        pp(cs.map((c) => t(c, 'exit') - t(c, 'reply'))),
        pp(cs.map((c) => c.cliMs)),
      ];
    });
    report(`### the CLI's own time (WEFT_TRACE marks; ms, p50 / p99)`);
    report(
      formatTable(
        ['command', 'n', 'spawn+nsenter', 'node start → main', 'main → request', 'request → reply', 'reply → exit', 'whole call'],
        cliRows,
      ),
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
