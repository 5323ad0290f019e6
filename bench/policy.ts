/**
 * Policy scale: update time and ruleset size as the endpoints a policy selects grow (10 → 100 →
 * 1000 by default). At each size, one rule change (a port in one policy) and one membership
 * change (one endpoint relabelled in and out of a selector) are applied many times through
 * PolicyFirewall into a real nftables table. Goal: flat update time — rules never mention
 * endpoints, so a rule change rewrites one short chain and a relabel changes a few set elements.
 * Runs in its own namespaces (one per size). By default each size's PolicyFirewall lives in a
 * child process inside its namespace and applies through libnftables, as weftd does; with
 * `--nsenter` the bench process applies from outside through `nsenter … nft -f -` (the old way:
 * a process start per change).
 *   node dist/bench/policy.js [--sizes 10,100,1000] [--reps 30] [--nsenter]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Nft } from '../src/kernel/nft.js';
import { mustRun, run } from '../src/lab/sim-host.js';
import { compilePolicies, compiledSize } from '../src/policy/policy-compiler.js';
import { parsePolicyText } from '../src/policy/policy-file.js';
import { PolicyFirewall, type PolicyApplyReport } from '../src/policy/policy-firewall.js';
import type { PolicyEndpoint, PolicyInput } from '../src/policy/policy-types.js';
import { printTable, summarize } from './stats.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const SIZES = arg('--sizes', '10,100,1000').split(',').map(Number);
const REPS = Number(arg('--reps', '30'));
const NSENTER = process.argv.includes('--nsenter');
const CHILD = process.argv.includes('--child');
const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const policiesWithPort = (port: number): PolicyInput['policies'] =>
  parsePolicyText(`
name: web
order: 10
selector: role == 'web'
ingress:
  - { action: Allow, protocol: TCP, source: { selector: role == 'client' }, destination: { ports: [${port}, "8000:8100"] } }
  - { action: Allow, protocol: ICMP }
---
name: db
order: 20
selector: role == 'db'
ingress: [{ action: Allow, protocol: TCP, source: { selector: "role == 'web' && env == 'prod'" }, destination: { ports: [5432] } }]
egress: [{ action: Deny, protocol: UDP }, { action: Allow }]
---
name: client-egress
order: 30
selector: role == 'client'
egress: [{ action: Deny, destination: { notSelector: "role in {'web', 'db'}" } }, { action: Allow }]
---
name: quarantine
order: 1
selector: has(quarantine)
types: [Ingress, Egress]
`).policies;

/** n endpoints selected by the `web` policy, plus a few of every other kind. */
function endpoints(n: number): PolicyEndpoint[] {
  const out: PolicyEndpoint[] = [];
  const total = n + 10;
  for (let i = 0; i < total; i++) {
    const role = i < n ? 'web' : ['client', 'db'][i % 2]!;
    out.push({
      id: `ep${i}`,
      network: 'net',
      labels: { role, env: i % 3 === 0 ? 'dev' : 'prod' },
      addresses: [`10.${128 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, `fd00:b::${i.toString(16)}`],
      local: true,
    });
  }
  return out;
}

async function liveSize(nsPath: string): Promise<{ rules: number; bytes: number }> {
  const nft = new Nft({ netnsPath: nsPath });
  const live = (await nft.listTable('inet', 'weft-policy')) as { nftables: Record<string, unknown>[] };
  const rules = live.nftables.filter((o) => 'rule' in o).length;
  const text = await mustRun('nsenter', [`--net=${nsPath}`, 'nft', 'list', 'table', 'inet', 'weft-policy']);
  return { rules, bytes: text.length };
}

interface Row {
  n: number;
  full: PolicyApplyReport;
  rule: PolicyApplyReport[];
  member: PolicyApplyReport[];
  size: ReturnType<typeof compiledSize>;
  live: { rules: number; bytes: number };
}

/** One size's firewall and input, in this process (the child, or --nsenter mode). */
interface Local {
  n: number;
  fw: PolicyFirewall;
  input: PolicyInput;
}

async function localSetUp(n: number, netnsPath?: string): Promise<{ local: Local; full: PolicyApplyReport }> {
  const fw = new PolicyFirewall(netnsPath === undefined ? {} : { netnsPath });
  const input: PolicyInput = { policies: policiesWithPort(80), endpoints: endpoints(n), networks: [{ name: 'net', mode: 'routed' }] };
  return { local: { n, fw, input }, full: await fw.apply(input) };
}

/** One rule change and one membership change (k-th of each). */
async function localStep(w: Local, k: number): Promise<{ rule: PolicyApplyReport; member: PolicyApplyReport }> {
  w.input.policies = policiesWithPort(k % 2 === 0 ? 81 : 80);
  const r = await w.fw.apply(w.input);
  if (r.stats.chainsRewritten !== 1 || r.stats.elementsAdded + r.stats.elementsRemoved !== 0) {
    throw new Error(`rule change was not one chain: ${JSON.stringify(r.stats)}`);
  }
  const mover = w.input.endpoints[Math.floor(w.n / 2)]!;
  mover.labels = k % 2 === 0 ? { role: 'client', env: 'prod' } : { role: 'web', env: 'prod' };
  const m = await w.fw.apply(w.input);
  if (m.stats.rulesWritten !== 0) throw new Error(`membership change wrote rules: ${JSON.stringify(m.stats)}`);
  return { rule: r, member: m };
}

async function localCheck(w: Local): Promise<void> {
  const check = await w.fw.check();
  if (!check.ok) throw new Error(`live table differs from the compiled one: ${check.problems.slice(0, 5).join('; ')}`);
}

/** A size's firewall as the bench drives it: here (--nsenter) or in a child inside the namespace. */
interface Driver {
  setUp(): Promise<PolicyApplyReport>;
  step(k: number): Promise<{ rule: PolicyApplyReport; member: PolicyApplyReport }>;
  check(): Promise<void>;
  transport: string;
  close(): void;
}

function nsenterDriver(n: number, ns: string): Driver {
  let w: Local | undefined;
  return {
    transport: 'nsenter + nft',
    setUp: async () => {
      const r = await localSetUp(n, `/run/netns/${ns}`);
      w = r.local;
      return r.full;
    },
    step: (k) => localStep(w!, k),
    check: () => localCheck(w!),
    close: () => undefined,
  };
}

/** A child (this file with --child N) in the namespace; one JSON line answers each request line. */
function childDriver(n: number, ns: string): Driver {
  const child = spawn('nsenter', [`--net=/run/netns/${ns}`, process.execPath, fileURLToPath(import.meta.url), '--child', String(n)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting: ((v: { ok: boolean; value?: unknown; error?: string }) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => waiting.shift()?.(JSON.parse(l) as { ok: boolean; value?: unknown }));
  child.on('exit', (code) => {
    for (const w of waiting.splice(0)) w({ ok: false, error: `child for ${n} exited (${code})` });
  });
  const ask = <T>(line: string): Promise<T> =>
    new Promise((resolve, reject) => {
      waiting.push((r) => (r.ok ? resolve(r.value as T) : reject(new Error(r.error))));
      child.stdin.write(`${line}\n`);
    });
  const d: Driver = {
    transport: 'libnftables in a child in the namespace',
    setUp: async () => {
      const r = await ask<{ full: PolicyApplyReport; transport: string }>('setup');
      d.transport = r.transport;
      return r.full;
    },
    step: (k) => ask(`step ${k}`),
    check: () => ask('check'),
    close: () => void child.stdin.end(),
  };
  return d;
}

/** --child N: serve one size's firewall in this process's namespace (libnftables). */
async function serveChild(n: number): Promise<void> {
  let w: Local | undefined;
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, k] = line.trim().split(' ');
    try {
      let value: unknown;
      if (cmd === 'setup') {
        const r = await localSetUp(n);
        w = r.local;
        value = { full: r.full, transport: w.fw.transport };
      } else if (cmd === 'step') value = await localStep(w!, Number(k));
      else if (cmd === 'check') value = await localCheck(w!);
      else throw new Error(`unknown request ${line}`);
      process.stdout.write(JSON.stringify({ ok: true, value }) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ ok: false, error: String(err) }) + '\n');
    }
  }
}

interface World {
  n: number;
  ns: string;
  driver: Driver;
  row: Row;
}

async function setUp(n: number): Promise<World> {
  const ns = `weft-bench-policy-${randomBytes(3).toString('hex')}`;
  await mustRun('ip', ['netns', 'add', ns]);
  const driver = NSENTER ? nsenterDriver(n, ns) : childDriver(n, ns);
  const w: World = {
    n,
    ns,
    driver,
    row: {
      n,
      full: undefined as unknown as PolicyApplyReport,
      rule: [],
      member: [],
      size: compiledSize(
        compilePolicies({ policies: policiesWithPort(80), endpoints: endpoints(n), networks: [{ name: 'net', mode: 'routed' }] }),
      ),
      live: { rules: 0, bytes: 0 },
    },
  };
  worlds.push(w);
  w.row.full = await driver.setUp();
  return w;
}

if (CHILD) {
  await serveChild(Number(arg('--child', '0')));
  process.exit(0);
}

// All sizes side by side, changes interleaved, so a busy machine slows every size alike.
const worlds: World[] = [];
const load0 = load();
try {
  for (const n of SIZES) await setUp(n);
  for (let k = 0; k < REPS; k++)
    for (const w of worlds) {
      const r = await w.driver.step(k);
      w.row.rule.push(r.rule);
      w.row.member.push(r.member);
    }
  for (const w of worlds) {
    await w.driver.check();
    w.row.live = await liveSize(`/run/netns/${w.ns}`);
  }
} finally {
  for (const w of worlds) w.driver.close();
  for (const w of worlds) await run('ip', ['netns', 'del', w.ns]);
}
const load1 = load();
const rows = worlds.map((w) => w.row);

const p50 = (xs: number[]): number => summarize(xs).p50;
const p99 = (xs: number[]): number => summarize(xs).p99;
console.log(
  `\nPolicy scale, ${REPS} changes of each kind per size (ms; apply = the nft transaction, total = whole PolicyFirewall.apply()); ` +
    `via ${worlds[0]?.driver.transport}; load ${load0} at the start, ${load1} at the end\n`,
);
printTable(
  [
    'selected',
    'rules',
    'sets',
    'elements',
    'list bytes',
    'full apply',
    'compile p50',
    'rule apply p50',
    'rule total p50',
    'rule total p99',
    'member apply p50',
    'member total p50',
    'member total p99',
    'member elems',
  ],
  rows.map((r) => [
    String(r.n),
    String(r.live.rules),
    String(r.size.sets),
    String(r.size.elements),
    String(r.live.bytes),
    r.full.totalMs,
    p50(r.member.map((x) => x.compileMs)),
    p50(r.rule.map((x) => x.applyMs)),
    p50(r.rule.map((x) => x.totalMs)),
    p99(r.rule.map((x) => x.totalMs)),
    p50(r.member.map((x) => x.applyMs)),
    p50(r.member.map((x) => x.totalMs)),
    p99(r.member.map((x) => x.totalMs)),
    String(p50(r.member.map((x) => x.stats.elementsAdded + x.stats.elementsRemoved))),
  ]),
);
const first = rows[0]!;
const last = rows.at(-1)!;
console.log(
  `\nratio ${last.n}/${first.n} selected: rule change total p50 ${(p50(last.rule.map((x) => x.totalMs)) / p50(first.rule.map((x) => x.totalMs))).toFixed(2)}×, ` +
    `membership change total p50 ${(p50(last.member.map((x) => x.totalMs)) / p50(first.member.map((x) => x.totalMs))).toFixed(2)}×, ` +
    `rules ${(last.live.rules / first.live.rules).toFixed(2)}×`,
);
console.log(
  `reproduce: npm run build && node dist/bench/policy.js --sizes ${SIZES.join(',')} --reps ${REPS}${NSENTER ? ' --nsenter' : ''}`,
);
