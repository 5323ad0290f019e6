/**
 * Calico-style policy against real packets. One fake host namespace, 12 workloads:
 *   routed  r1..r6  own veth each, 10.65.0.i/32 + fd65::i/128 (Calico's scheme)
 *   bridged b1..b6  on bridge brp, 10.66.0.1i/24 + fd66::1i/64 (Docker's scheme)
 * labelled alike, four policies from a YAML file, and every (source, destination, protocol,
 * port, family) tried with a real TCP connect, UDP echo or ICMP echo. What the kernel lets
 * through must equal what the reference evaluator (policy-evaluator.ts, written apart from the
 * compiler) says.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FirewallError } from '../../src/errors.js';
import { evaluatePacket } from '../../src/policy/policy-evaluator.js';
import { parsePolicyText } from '../../src/policy/policy-file.js';
import { PolicyFirewall } from '../../src/policy/policy-firewall.js';
import type { PolicyEndpoint, PolicyInput } from '../../src/policy/policy-types.js';
import { type ProbeKind, PolicyLab, type Workload } from './policy-lab.js';

const TCP_PORTS = [80, 5432, 8080];
const UDP_PORTS = [53];

const POLICIES = `
# Databases: only prod web servers on 5432, pings (v4) from anything with an env, v6 pings from
# the routed range only; no UDP out.
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: db }
spec:
  order: 10
  selector: role == 'db'
  types: [Ingress, Egress]
  ingress:
    - action: Allow
      protocol: TCP
      source: { selector: "role == 'web' && env == 'prod'" }
      destination: { ports: [5432] }
    - action: Log
      protocol: ICMP
    - action: Allow
      protocol: ICMP
      icmp: { type: 8 }
      source: { selector: has(env) }
    - action: Allow
      protocol: ICMPv6
      icmp: { type: 128, code: 0 }
      source: { nets: ["fd65::/64"] }
  egress:
    - action: Deny
      protocol: UDP
    - action: Allow
---
# Web servers: HTTP ports for everyone but dev clients, DNS over IPv4, any UDP from outside the
# routed range (IPv4 only), and ICMPv6 passed on to the network's profile.
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: web }
spec:
  order: 20
  selector: role == 'web'
  ingress:
    - action: Deny
      protocol: TCP
      source: { selector: "role == 'client' && env == 'dev'" }
      destination: { ports: [80] }
    - action: Allow
      protocol: tcp
      destination: { ports: [80, "8000:8100"] }
    - action: Allow
      protocol: UDP
      ipVersion: 4
      destination: { ports: [53] }
    # IPv4 CIDRs only: this rule does not exist for IPv6 (as Calico renders it).
    - action: Allow
      protocol: UDP
      source: { notNets: ["10.65.0.0/24"] }
    - action: Pass
      protocol: ICMPv6
---
# Clients may only talk to web and db endpoints, over TCP and ICMP.
name: client-egress
order: 30
selector: role == 'client'
types: [Egress]
egress:
  - action: Deny
    destination: { notSelector: "role in {'web', 'db'}" }
  - action: Allow
    protocol: TCP
  - action: Allow
    protocol: ICMP
  - action: Allow
    protocol: ICMPv6
---
# Admin endpoints of the routed network: reachable from that network only, never on 5432.
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: { name: admin, namespace: routed }
spec:
  order: 5
  selector: role == 'admin'
  ingress:
    - action: Allow
      protocol: TCP
      source: { selector: all() }
      destination: { notPorts: [5432] }
    - action: Allow
      source: { selector: all() }
      notProtocol: TCP
`;

const LABELS: Record<string, string>[] = [
  { role: 'web', env: 'prod' },
  { role: 'web', env: 'dev' },
  { role: 'db', env: 'prod' },
  { role: 'client', env: 'prod' },
  { role: 'client', env: 'dev' },
  { role: 'admin' },
];

interface Case {
  from: Workload;
  to: Workload;
  kind: ProbeKind;
  v: 4 | 6;
  port: number;
}

const PROTO: Record<ProbeKind, Record<4 | 6, number>> = { tcp: { 4: 6, 6: 6 }, udp: { 4: 17, 6: 17 }, icmp: { 4: 1, 6: 58 } };

function cases(from: Workload[], to: Workload[]): Case[] {
  const out: Case[] = [];
  for (const a of from) {
    for (const b of to) {
      if (a === b) continue;
      for (const v of [4, 6] as const) {
        for (const port of TCP_PORTS) out.push({ from: a, to: b, kind: 'tcp', v, port });
        for (const port of UDP_PORTS) out.push({ from: a, to: b, kind: 'udp', v, port });
        out.push({ from: a, to: b, kind: 'icmp', v, port: 0 });
      }
    }
  }
  return out;
}

const label = (c: Case): string => `${c.from.name}→${c.to.name} ${c.kind}${c.kind === 'icmp' ? '' : `/${c.port}`} v${c.v}`;
const addr = (w: Workload, v: 4 | 6): string => (v === 4 ? w.v4 : w.v6);

function expected(input: PolicyInput, c: Case): boolean {
  return evaluatePacket(input, {
    src: addr(c.from, c.v),
    dst: addr(c.to, c.v),
    protocol: PROTO[c.kind][c.v],
    ...(c.kind === 'icmp' ? { icmpType: c.v === 4 ? 8 : 128, icmpCode: 0 } : { dstPort: c.port, srcPort: 40000 }),
  }).allowed;
}

async function observe(list: Case[]): Promise<boolean[]> {
  return Promise.all(
    list.map(async (c) => {
      const r = await c.from.agent!.probe(c.kind, addr(c.to, c.v), c.port, 2500);
      if (!r.ok && process.env.WEFT_DEBUG_PROBES) console.log(`# ${label(c)}: ${r.detail}`);
      return r.ok;
    }),
  );
}

/**
 * Probe every case; returns the cases where the kernel disagreed with the evaluator. A connection
 * that failed where the policy allows it is tried again alone with a longer timeout before it
 * counts (a busy 2-core machine can lose a handshake); a connection that got through is never
 * retried — no retry can turn a kernel drop into a success.
 */
async function mismatches(input: PolicyInput, list: Case[]): Promise<string[]> {
  const seen = await observe(list);
  const out: string[] = [];
  let retried = 0;
  for (const [i, c] of list.entries()) {
    const want = expected(input, c);
    let got = seen[i]!;
    if (!got && want) {
      retried++;
      got = (await c.from.agent!.probe(c.kind, addr(c.to, c.v), c.port, 5000)).ok;
    }
    if (got !== want) out.push(`${label(c)}: kernel ${got ? 'allowed' : 'denied'}, policy says ${want ? 'allow' : 'deny'}`);
  }
  if (retried > 0) console.log(`# ${retried} of ${list.length} probes retried alone after a failed connection the policy allows`);
  return out;
}

describe('policy enforcement with real packets (routed + bridged)', { timeout: 600_000 }, () => {
  const lab = new PolicyLab(`wpol-${randomBytes(3).toString('hex')}`);
  const fw = new PolicyFirewall({ netnsPath: lab.hostPath });
  const doc = parsePolicyText(POLICIES);
  let input: PolicyInput;
  const routed: Workload[] = [];
  const bridged: Workload[] = [];

  before(async () => {
    await lab.createHost();
    for (let i = 1; i <= 6; i++) routed.push(await lab.addRouted(`r${i}`, i, `10.65.0.${i}`, `fd65::${i}`));
    await lab.addBridge('brp', '10.66.0.1/24', 'fd66::1/64');
    for (let i = 1; i <= 6; i++)
      bridged.push(await lab.addBridged(`b${i}`, 'brp', `10.66.0.1${i}/24`, `fd66::1${i}/64`, '10.66.0.1', 'fd66::1'));
    await lab.startAgents(TCP_PORTS, UDP_PORTS);
    // Someone else's table in the same namespace: weft must never touch it.
    await lab.nft(
      ['-f', '-'],
      'table inet other {\n chain theirs { type filter hook forward priority 50; policy accept;\n  counter comment "theirs"\n }\n}\n',
    );
    const endpoints: PolicyEndpoint[] = [...routed, ...bridged].map((w, i) => ({
      id: w.name,
      network: w.name.startsWith('r') ? 'routed' : 'bridged',
      labels: { ...LABELS[i % 6]! },
      addresses: [w.v4, w.v6],
      local: true,
    }));
    input = {
      policies: doc.policies,
      networks: [
        { name: 'routed', mode: 'routed' },
        { name: 'bridged', mode: 'bridged' },
      ],
      endpoints,
    };
  });

  after(async () => {
    await lab.destroy();
  });

  it('is the nftables policy backend on br_netfilter-enabled forwarding, and the file parsed into 4 policies', async () => {
    assert.deepEqual(doc.policies.map((p) => p.name).sort(), ['admin', 'client-egress', 'db', 'web']);
    const r = await fw.apply(input);
    assert.equal(r.full, true);
    const tables = await lab.nft(['list', 'tables']);
    assert.match(tables, /table inet weft-policy\n/);
    assert.match(await lab.nft(['list', 'table', 'inet', 'other']), /comment "theirs"/);
    assert.deepEqual(await fw.check(), { ok: true, problems: [] });
  });

  it('before any policy is applied, every workload reaches every other in its network (sanity of the lab)', async () => {
    const lab0 = new PolicyFirewall({ netnsPath: lab.hostPath });
    await lab0.remove();
    try {
      const sample = cases([routed[0]!, bridged[0]!], [routed[1]!, bridged[1]!]).filter((c) => c.from.name[0] === c.to.name[0]);
      const seen = await observe(sample);
      assert.deepEqual(sample.filter((_, i) => !seen[i]).map(label), [], 'the lab itself must pass traffic');
    } finally {
      await fw.restore();
    }
  });

  it('the matrix over all 132 ordered pairs × {tcp/80,5432,8080, udp/53, icmp} × {v4, v6} equals the reference evaluator', async () => {
    const all = cases([...routed, ...bridged], [...routed, ...bridged]);
    const want = all.map((c) => expected(input, c));
    // The matrix must be able to fail: both outcomes occur, for every kind and family.
    for (const kind of ['tcp', 'udp', 'icmp'] as const) {
      for (const v of [4, 6] as const) {
        const sub = all.map((c, i) => [c, want[i]] as const).filter(([c]) => c.kind === kind && c.v === v);
        assert.ok(sub.some(([, w]) => w) && sub.some(([, w]) => !w), `${kind} v${v}: both allowed and denied cases`);
      }
    }
    const t0 = Date.now();
    const bad = await mismatches(input, all);
    const allowed = want.filter(Boolean).length;
    console.log(
      `# matrix: ${all.length} probes, ${allowed} allowed / ${all.length - allowed} denied, ${Date.now() - t0} ms, ${bad.length} mismatches`,
    );
    assert.deepEqual(bad, []);
  });

  it('relabelling moves an endpoint in and out with set-element changes only, enforced as soon as nft returns', async () => {
    const r5 = routed[4]!; // client, env=dev: denied port 80 on web servers
    const r1 = routed[0]!;
    const idx = input.endpoints.findIndex((e) => e.id === 'r5');
    assert.equal((await r5.agent!.probe('tcp', r1.v4, 80)).ok, false);
    const applied: number[] = [];
    const enforced: number[] = [];
    for (const env of ['prod', 'dev'] as const) {
      input.endpoints[idx]!.labels = { role: 'client', env };
      const t0 = performance.now();
      const rep = await fw.apply(input);
      applied.push(rep.applyMs);
      assert.equal(rep.stats.rulesWritten, 0, 'no rule rewritten');
      assert.equal(rep.stats.chainsAdded + rep.stats.chainsRemoved + rep.stats.setsAdded + rep.stats.setsRemoved, 0);
      assert.ok(rep.stats.elementsAdded + rep.stats.elementsRemoved > 0);
      // The very next new connection must see the new labels: nft has committed when apply() returns.
      const got = await r5.agent!.probe('tcp', r1.v4, 80, env === 'prod' ? 5000 : 2500);
      if (env === 'prod') enforced.push(performance.now() - t0);
      assert.equal(got.ok, env === 'prod', `r5 (env=${env}) → r1:80`);
    }
    console.log(
      `# relabel: nft transaction ${applied.map((t) => t.toFixed(1)).join(' / ')} ms; change → first allowed connection ${enforced.map((t) => t.toFixed(1)).join(', ')} ms`,
    );
    // Everything that involves r5 follows the evaluator with the new labels.
    const sub = [...cases([r5], [...routed, ...bridged]), ...cases([...routed, ...bridged], [r5])];
    assert.deepEqual(await mismatches(input, sub), []);
  });

  it('a policy change rewrites only that policy chain and is enforced at once', async () => {
    const web = doc.policies.find((p) => p.name === 'web')!;
    const changed = parsePolicyText(POLICIES.replace('destination: { ports: [80, "8000:8100"] }', 'destination: { ports: [80] }')).policies;
    const next: PolicyInput = { ...input, policies: changed };
    const rep = await fw.apply(next);
    assert.equal(rep.stats.chainsRewritten, 1);
    assert.equal(rep.stats.elementsAdded + rep.stats.elementsRemoved + rep.stats.setsAdded + rep.stats.setsRemoved, 0);
    const r4 = routed[3]!;
    assert.equal((await r4.agent!.probe('tcp', routed[0]!.v4, 8080)).ok, false, 'port 8080 closed on web');
    assert.deepEqual(await mismatches(next, cases([r4, bridged[3]!], [...routed, ...bridged])), []);
    await fw.apply(input);
    assert.equal((await r4.agent!.probe('tcp', routed[0]!.v4, 8080)).ok, true, 'and open again');
    assert.equal(web.ingress.length, 5);
  });

  it('applying the same input twice changes nothing', async () => {
    const rep = await fw.apply(input);
    assert.equal(rep.full, false);
    assert.equal(rep.scriptBytes, 0);
  });

  it('detects drift, restores after `nft flush ruleset`, and falls back to a full apply', async () => {
    await lab.nft(['delete', 'element', 'inet', 'weft-policy', 'local4', '{ 10.65.0.3 }']);
    const drift = await fw.check();
    assert.equal(drift.ok, false);
    assert.ok(
      drift.problems.some((p) => p.includes('local4: element 10.65.0.3 is missing')),
      drift.problems.join('\n'),
    );
    await lab.nft(['insert', 'rule', 'inet', 'weft-policy', 'pol.web.in', 'accept']);
    const edited = await fw.check();
    assert.ok(
      edited.problems.some((p) => p.startsWith('chain inet weft-policy pol.web.in: rules differ')),
      edited.problems.join('\n'),
    );
    await lab.nft(['flush', 'ruleset']);
    const gone = await fw.check();
    assert.deepEqual(gone.problems, ['table inet weft-policy is missing']);
    // Unprotected now: a dev web server reaches the database's port 5432.
    const [r2, r3] = [routed[1]!, routed[2]!];
    assert.equal((await r2.agent!.probe('tcp', r3.v4, 5432, 5000)).ok, true);
    await fw.restore();
    assert.deepEqual(await fw.check(), { ok: true, problems: [] });
    assert.equal((await r2.agent!.probe('tcp', r3.v4, 5432)).ok, false);
    // A rule edited in place (same comment, other verdict) is caught by its fingerprint.
    const listing = JSON.parse(await lab.nft(['-a', '-j', 'list', 'chain', 'inet', 'weft-policy', 'pol.db.in'])) as {
      nftables: { rule?: { handle: number; comment: string } }[];
    };
    const first = listing.nftables.find((o) => o.rule)!.rule!;
    await lab.nft([
      'replace',
      'rule',
      'inet',
      'weft-policy',
      'pol.db.in',
      'handle',
      String(first.handle),
      'accept',
      'comment',
      `"${first.comment}"`,
    ]);
    const replaced = await fw.check();
    assert.deepEqual(replaced.problems, [`chain inet weft-policy pol.db.in: rule "${first.comment}" was modified`]);
    await fw.restore();
    assert.deepEqual(await fw.check(), { ok: true, problems: [] });
    // An incremental change on a flushed table fails inside nft and is redone whole.
    await lab.nft(['flush', 'ruleset']);
    input.endpoints[5]!.labels = { role: 'admin', env: 'prod' }; // joins has(env): set elements change
    const rep = await fw.apply(input);
    assert.equal(rep.fellBack, true);
    assert.deepEqual(await fw.check(), { ok: true, problems: [] });
  });

  it('refuses bridged networks when br_netfilter hooks are off, changing nothing; turns them on when allowed', async () => {
    await lab.sysctl(lab.host, 'net.bridge.bridge-nf-call-iptables', '0');
    try {
      const before = await lab.nft(['list', 'table', 'inet', 'weft-policy']);
      input.endpoints[0]!.labels = { role: 'web', env: 'test' };
      await assert.rejects(fw.apply(input), (e: unknown) => e instanceof FirewallError && /bridge-nf-call-iptables is 0/.test(e.message));
      assert.equal(await lab.nft(['list', 'table', 'inet', 'weft-policy']), before);
      const eager = new PolicyFirewall({ netnsPath: lab.hostPath, enableBridgeHooks: true });
      await eager.apply(input);
      assert.equal((await lab.nft(['list', 'table', 'inet', 'weft-policy'])).includes('10.65.0.1'), true);
      assert.deepEqual(await eager.check(), { ok: true, problems: [] });
    } finally {
      await lab.sysctl(lab.host, 'net.bridge.bridge-nf-call-iptables', '1');
    }
  });
});
