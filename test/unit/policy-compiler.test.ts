import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import { names } from '../../src/policy/nft-names.js';
import { compilePolicies, compiledSize } from '../../src/policy/policy-compiler.js';
import { validateLabels } from '../../src/policy/policy-model.js';
import { parsePolicyText } from '../../src/policy/policy-file.js';
import { diffTransaction, fullTransaction } from '../../src/policy/policy-transaction.js';
import type { PolicyEndpoint, PolicyInput } from '../../src/policy/policy-types.js';
import { Selector } from '../../src/policy/selector.js';

const POLICIES = parsePolicyText(`
name: web
order: 10
selector: role == 'web'
ingress:
  - action: Allow
    protocol: TCP
    source: { selector: role == 'client' }
    destination: { ports: [80, "8000:8100"] }
  - action: Log
    protocol: ICMP
  - action: Pass
    protocol: ICMPv6
    notICMP: { type: 128, code: 0 }
  - action: Deny
    ipVersion: 6
    source: { notNets: ["fd00::/8"] }
---
name: db
order: 5
selector: role == 'db'
egress:
  - action: Deny
    protocol: UDP
    destination: { notPorts: [53] }
  - action: Allow
    destination: { nets: ["10.0.0.0/8", "10.1.0.0/16"], selector: role == 'client' }
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: { name: scoped, namespace: net1 }
spec:
  selector: has(role)
  ingress: [{ action: Allow, source: { selector: role == 'client' } }]
`).policies;

function endpoints(n: number, opts: { clients?: number } = {}): PolicyEndpoint[] {
  const out: PolicyEndpoint[] = [];
  for (let i = 0; i < n; i++) {
    const role = i < (opts.clients ?? 0) ? 'client' : ['web', 'db'][i % 2]!;
    out.push({
      id: `ep${i}`,
      network: i % 3 === 0 ? 'net2' : 'net1',
      labels: { role },
      addresses: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `fd00::${i.toString(16)}`],
      local: i % 5 !== 4,
    });
  }
  return out;
}

const input = (eps: PolicyEndpoint[], policies = POLICIES): PolicyInput => ({
  policies,
  endpoints: eps,
  networks: [
    { name: 'net1', mode: 'routed' },
    { name: 'net2', mode: 'bridged' },
  ],
});

describe('policy compiler', () => {
  it('produces base chains on the forward hook, after weft (0) and the user chain (-10)', () => {
    const c = compilePolicies(input(endpoints(4)));
    assert.equal(c.table, 'weft-policy');
    assert.equal(c.chains.get('egress')!.priority, 10);
    assert.equal(c.chains.get('ingress')!.priority, 11);
    assert.deepEqual(
      [...c.chains.values()].filter((x) => x.priority !== undefined).map((x) => x.name),
      ['egress', 'ingress'],
    );
    assert.match(c.chains.get('ingress')!.rules[0]!, /^ct state established,related accept/);
  });

  it('orders policy dispatch by order then name, and only for the direction a policy covers', () => {
    const c = compilePolicies(input(endpoints(4)));
    const jumps = (chain: string): string[] => c.chains.get(chain)!.rules.map((r) => /jump (\S+)/.exec(r)![1]!);
    // web (10) and scoped (no order) are ingress; db (5) is egress only.
    assert.deepEqual(jumps('in-policies'), ['pol.web.in', 'pol.web.in', 'pol.scoped.in', 'pol.scoped.in']);
    assert.deepEqual(jumps('eg-policies'), ['pol.db.eg', 'pol.db.eg']);
    assert.ok(!c.chains.has('pol.db.in'));
  });

  it('compiles rules to set references, port sets, ICMP matches, family variants and verdicts', () => {
    const c = compilePolicies(input(endpoints(4)));
    const web = c.chains.get('pol.web.in')!.rules;
    const client4 = names.selectorSet('role == "client"', 4);
    assert.deepEqual(web, [
      `meta l4proto tcp ip saddr @${client4} th dport { 80, 8000-8100 } accept comment "pol web in[0] v4"`,
      `meta l4proto tcp ip6 saddr @${names.selectorSet('role == "client"', 6)} th dport { 80, 8000-8100 } accept comment "pol web in[0] v6"`,
      'meta l4proto icmp log prefix "weft pol web in[1]: " comment "pol web in[1]"',
      'meta l4proto ipv6-icmp icmpv6 type . icmpv6 code != { 128 . 0 } goto in-pass comment "pol web in[2] v6"',
      'meta nfproto ipv6 ip6 saddr != fd00::/8 drop comment "pol web in[3] v6"',
    ]);
    const db = c.chains.get('pol.db.eg')!.rules;
    assert.equal(db[0], 'meta l4proto udp th dport != 53 drop comment "pol db eg[0]"');
    assert.equal(db[1], `ip daddr { 10.0.0.0/8, 10.1.0.0/16 } ip daddr @${client4} accept comment "pol db eg[1] v4"`);
    assert.equal(db.length, 2, 'an IPv4-only nets rule has no IPv6 variant');
  });

  it('scopes a NetworkPolicy to its network: applies-to set and rule selectors', () => {
    const eps = endpoints(12, { clients: 6 });
    const c = compilePolicies(input(eps));
    const scopedSel = Selector.parse("role == 'client' && weft.network == 'net1'").text;
    assert.match(c.chains.get('pol.scoped.in')!.rules[0]!, new RegExp(`@${names.selectorSet(scopedSel, 4).replace('.', '\\.')} accept`));
    const clientsNet1 = eps.filter((e) => e.labels.role === 'client' && e.network === 'net1').map((e) => e.addresses[0]!);
    assert.deepEqual([...c.elements.get(names.selectorSet(scopedSel, 4))!].sort(), clientsNet1.sort());
    const applies = [...c.elements.get(names.appliesSet('scoped', 4))!].sort();
    assert.deepEqual(
      applies,
      eps
        .filter((e) => e.local && e.network === 'net1')
        .map((e) => e.addresses[0]!)
        .sort(),
    );
  });

  it('puts only local endpoints in dispatch sets, but every endpoint in rule selector sets', () => {
    const eps = endpoints(10, { clients: 10 });
    const c = compilePolicies(input(eps));
    assert.equal(c.elements.get('local4')!.size, eps.filter((e) => e.local).length);
    assert.equal(c.elements.get(names.selectorSet('role == "client"', 4))!.size, 10);
    assert.ok(c.elements.get('in-prof4')!.has('10.0.0.0 : goto prof.net2.in'));
    assert.ok(c.elements.get('eg-prof6')!.has('fd00::1 : goto prof.net1.eg'));
    assert.ok(!c.elements.get('in-prof4')!.has('10.0.0.4 : goto prof.net1.in'), 'remote endpoint');
  });

  it('ruleset size depends on policies, not on endpoints', () => {
    const small = compiledSize(compilePolicies(input(endpoints(10, { clients: 3 }))));
    const big = compiledSize(compilePolicies(input(endpoints(1000, { clients: 300 }))));
    assert.equal(big.rules, small.rules);
    assert.equal(big.chains, small.chains);
    assert.equal(big.sets, small.sets);
    assert.ok(big.elements > 50 * small.elements);
  });

  it('default profiles: same network in (published ports too), anything out; custom profiles replace them', () => {
    const c = compilePolicies(input(endpoints(2)));
    assert.deepEqual(c.chains.get('prof.net1.in')!.rules, [
      'ct status dnat accept comment "published port"',
      `ip saddr @${names.selectorSet('weft.network == "net1"', 4)} accept comment "profile net1 in[0] v4"`,
      `ip6 saddr @${names.selectorSet('weft.network == "net1"', 6)} accept comment "profile net1 in[0] v6"`,
      'drop comment "end of profile"',
    ]);
    assert.deepEqual(c.chains.get('prof.net1.eg')!.rules, ['accept comment "profile net1 eg[0]"', 'drop comment "end of profile"']);
    const closed = parsePolicyText('kind: Profile\nmetadata: {name: net1, annotations: {weft.allow-published: "false"}}\nspec: {}')
      .profiles[0]!;
    const c2 = compilePolicies({
      ...input(endpoints(2)),
      networks: [
        { name: 'net1', mode: 'routed', profile: closed },
        { name: 'net2', mode: 'bridged' },
      ],
    });
    assert.deepEqual(c2.chains.get('prof.net1.in')!.rules, ['drop comment "end of profile"']);
  });

  it('refuses inconsistent input, naming the field', () => {
    const eps = endpoints(2);
    const bad = (mut: (i: PolicyInput) => void, re: RegExp): void => {
      const i = structuredClone(input(eps));
      i.policies = POLICIES;
      mut(i);
      assert.throws(
        () => compilePolicies(i),
        (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message),
      );
    };
    bad((i) => (i.endpoints[0]!.network = 'nope'), /^endpoints\[0\]\.network: unknown network "nope"/);
    bad((i) => (i.endpoints[1]!.addresses = ['10.0.0.0']), /^endpoints\[1\]\.addresses: 10\.0\.0\.0 also belongs to endpoint "ep0"/);
    bad((i) => (i.endpoints[1]!.id = 'ep0'), /listed twice/);
    bad((i) => (i.endpoints[0]!.addresses = ['10.0.0.1/24']), /is a CIDR/);
    bad((i) => (i.endpoints[0]!.labels = { a: 1 as unknown as string }), /^endpoints\[0\]\.labels\.a: label values must be strings/);
    bad((i) => i.networks.push({ name: 'net1', mode: 'routed' }), /listed twice/);
    bad((i) => (i.networks[0]!.mode = 'nat' as 'routed'), /must be "routed" or "bridged"/);
    bad((i) => (i.policies = [...POLICIES, POLICIES[0]!]), /policy "web" is listed twice/);
  });

  it('labels from the store are taken as they are; weft.network cannot be faked', () => {
    const eps = endpoints(2);
    assert.equal(eps[0]!.network, 'net2');
    eps[0]!.labels = { 'com.docker.compose.project': 'x', 'odd key!': 'y', 'weft.network': 'net1', role: 'client' };
    const c = compilePolicies(input(eps));
    assert.ok(!c.elements.get(names.selectorSet('weft.network == "net1"', 4))!.has('10.0.0.0'), 'the label cannot move it to net1');
    assert.ok(c.elements.get(names.selectorSet('role == "client"', 4))!.has('10.0.0.0'));
    assert.throws(() => validateLabels({ 'weft.network': 'x' }, 'label'), /set by weft/);
    assert.throws(() => validateLabels({ 'bad key': 'x' }, 'label'), /label names/);
    assert.deepEqual(validateLabels({ 'app.kubernetes.io/name': 'x' }, 'label'), { 'app.kubernetes.io/name': 'x' });
  });
});

describe('policy transactions', () => {
  const base = endpoints(50, { clients: 10 });

  it('the full transaction replaces the table atomically and declares before use', () => {
    const t = fullTransaction(compilePolicies(input(base)));
    const lines = t.script.trim().split('\n');
    assert.deepEqual(lines.slice(0, 3), ['add table inet weft-policy', 'delete table inet weft-policy', 'add table inet weft-policy']);
    const firstRule = lines.findIndex((l) => l.startsWith('add rule'));
    const lastDecl = lines.map((l, i) => (/^add (set|map|chain) /.test(l) ? i : -1)).reduce((a, b) => Math.max(a, b));
    assert.ok(lastDecl < firstRule);
    assert.ok(
      lines.every((l) => / inet weft-policy /.test(l) || l.endsWith('inet weft-policy')),
      'never another table',
    );
    assert.equal(t.full, true);
  });

  it('a membership change (relabel, add, remove an endpoint) is element changes only', () => {
    const prev = compilePolicies(input(base));
    const relabelled = structuredClone(base);
    relabelled[20]!.labels = { role: 'client' };
    relabelled.push({ id: 'new', network: 'net1', labels: { role: 'web' }, addresses: ['10.99.0.1'], local: true });
    relabelled.splice(3, 1);
    const tx = diffTransaction(prev, compilePolicies(input(relabelled)));
    assert.equal(tx.full, false);
    const verbs = new Set(
      tx.script
        .trim()
        .split('\n')
        .map((l) => l.split(' ').slice(0, 2).join(' ')),
    );
    assert.deepEqual([...verbs].sort(), ['add element', 'delete element']);
    assert.equal(tx.stats.rulesWritten, 0);
    assert.ok(tx.stats.elementsAdded > 0 && tx.stats.elementsRemoved > 0);
    assert.match(tx.script, /delete element inet weft-policy in-prof4 \{ [^}]*10\.0\.0\.3[ ,}]/, 'map elements are deleted by key');
  });

  it('a rule change rewrites that policy chain only; equal inputs give an empty script', () => {
    const prev = compilePolicies(input(base));
    assert.equal(diffTransaction(prev, compilePolicies(input(base))).script, '');
    const changed = parsePolicyText(
      "name: web\norder: 10\nselector: role == 'web'\ningress: [{action: Allow, protocol: TCP, source: {selector: role == 'client'}, destination: {ports: [443]}}]",
    ).policies;
    const tx = diffTransaction(prev, compilePolicies(input(base, [changed[0]!, POLICIES[1]!, POLICIES[2]!])));
    assert.deepEqual(tx.stats, {
      setsAdded: 0,
      setsRemoved: 0,
      chainsAdded: 0,
      chainsRemoved: 0,
      chainsRewritten: 1,
      rulesWritten: 2,
      elementsAdded: 0,
      elementsRemoved: 0,
    });
    const lines = tx.script.trim().split('\n');
    assert.equal(lines[0], 'flush chain inet weft-policy pol.web.in');
    assert.match(
      lines[1]!,
      /^add rule inet weft-policy pol\.web\.in meta l4proto tcp ip saddr @sel4\.\w+ th dport 443 accept comment "pol web in\[0\] v4"$/,
    );
    assert.equal(lines.length, 3);
  });

  it("a selector change moves members of the policy's own set; no rule is written", () => {
    const prev = compilePolicies(input(base));
    const withRules = { ...POLICIES[0]!, selector: Selector.parse("role == 'db'") };
    const tx = diffTransaction(prev, compilePolicies(input(base, [withRules, POLICIES[1]!, POLICIES[2]!])));
    assert.equal(tx.stats.rulesWritten, 0);
    assert.match(tx.script, /add element inet weft-policy pa4\.web/);
  });

  it('adding and removing a policy declares and drops its chains and sets in the right order', () => {
    const prev = compilePolicies(input(base, [POLICIES[0]!]));
    const next = compilePolicies(input(base, POLICIES));
    const add = diffTransaction(prev, next);
    assert.ok(add.stats.chainsAdded >= 2 && add.stats.setsAdded >= 2);
    const back = diffTransaction(next, prev).script.trim().split('\n');
    const flushAt = back.indexOf('flush chain inet weft-policy pol.db.eg');
    const delAt = back.indexOf('delete chain inet weft-policy pol.db.eg');
    const setAt = back.findIndex((l) => l.startsWith('delete set inet weft-policy pa4.db'));
    const dispatchAt = back.indexOf('flush chain inet weft-policy eg-policies');
    assert.ok(flushAt >= 0 && dispatchAt >= 0 && delAt > dispatchAt && setAt > delAt, back.join('\n'));
  });

  it('an endpoint moving network changes its map verdict by delete then add', () => {
    const prev = compilePolicies(input(base));
    const moved = structuredClone(base);
    moved[1]!.network = 'net2';
    const lines = diffTransaction(prev, compilePolicies(input(moved)))
      .script.trim()
      .split('\n');
    const del = lines.findIndex((l) => l.startsWith('delete element inet weft-policy in-prof4') && l.includes('10.0.0.1'));
    const add = lines.findIndex((l) => l.startsWith('add element inet weft-policy in-prof4') && l.includes('10.0.0.1 : goto prof.net2.in'));
    assert.ok(del >= 0 && add > del, lines.join('\n'));
  });
});
