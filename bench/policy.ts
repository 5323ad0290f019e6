/**
 * Policy scale: update time and ruleset size as the endpoints a policy selects grow (10 → 100 →
 * 1000 by default). At each size, one rule change (a port in one policy) and one membership
 * change (one endpoint relabelled in and out of a selector) are applied many times through
 * PolicyFirewall into a real nftables table. Goal: flat update time — rules never mention
 * endpoints, so a rule change rewrites one short chain and a relabel changes a few set elements.
 * Runs in its own namespace.
 *   node dist/bench/policy.js [--sizes 10,100,1000] [--reps 30]
 */
import { randomBytes } from 'node:crypto';
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

interface World {
  n: number;
  ns: string;
  fw: PolicyFirewall;
  input: PolicyInput;
  row: Row;
}

async function setUp(n: number): Promise<World> {
  const ns = `weft-bench-policy-${randomBytes(3).toString('hex')}`;
  await mustRun('ip', ['netns', 'add', ns]);
  const fw = new PolicyFirewall({ netnsPath: `/run/netns/${ns}` });
  const input: PolicyInput = { policies: policiesWithPort(80), endpoints: endpoints(n), networks: [{ name: 'net', mode: 'routed' }] };
  const full = await fw.apply(input);
  return {
    n,
    ns,
    fw,
    input,
    row: { n, full, rule: [], member: [], size: compiledSize(compilePolicies(input)), live: { rules: 0, bytes: 0 } },
  };
}

/** One rule change and one membership change (k-th of each). */
async function step(w: World, k: number): Promise<void> {
  w.input.policies = policiesWithPort(k % 2 === 0 ? 81 : 80);
  const r = await w.fw.apply(w.input);
  if (r.stats.chainsRewritten !== 1 || r.stats.elementsAdded + r.stats.elementsRemoved !== 0) {
    throw new Error(`rule change was not one chain: ${JSON.stringify(r.stats)}`);
  }
  w.row.rule.push(r);
  const mover = w.input.endpoints[Math.floor(w.n / 2)]!;
  mover.labels = k % 2 === 0 ? { role: 'client', env: 'prod' } : { role: 'web', env: 'prod' };
  const m = await w.fw.apply(w.input);
  if (m.stats.rulesWritten !== 0) throw new Error(`membership change wrote rules: ${JSON.stringify(m.stats)}`);
  w.row.member.push(m);
}

// All sizes side by side, changes interleaved, so a busy machine slows every size alike.
const worlds: World[] = [];
try {
  for (const n of SIZES) worlds.push(await setUp(n));
  for (let k = 0; k < REPS; k++) for (const w of worlds) await step(w, k);
  for (const w of worlds) {
    const check = await w.fw.check();
    if (!check.ok) throw new Error(`live table differs from the compiled one: ${check.problems.slice(0, 5).join('; ')}`);
    w.row.live = await liveSize(`/run/netns/${w.ns}`);
  }
} finally {
  for (const w of worlds) await run('ip', ['netns', 'del', w.ns]);
}
const rows = worlds.map((w) => w.row);

const p50 = (xs: number[]): number => summarize(xs).p50;
const p99 = (xs: number[]): number => summarize(xs).p99;
console.log(`\nPolicy scale, ${REPS} changes of each kind per size (ms; apply = inside nft -f, total = whole PolicyFirewall.apply())\n`);
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
