import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyValidationError } from '../../src/policy/policy-errors.js';
import { parsePolicyText, parsePolicyValue } from '../../src/policy/policy-file.js';
import { policyToResource, profileToResource } from '../../src/policy/policy-resource.js';

const CALICO = `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-tcp-6379
  namespace: production
  resourceVersion: "1234"
spec:
  selector: role == 'database'
  types:
  - Ingress
  - Egress
  ingress:
  - action: Allow
    metadata:
      annotations:
        from: frontend
    protocol: TCP
    source:
      selector: role == 'frontend'
    destination:
      ports:
      - 6379
      - "7000:7010"
  egress:
  - action: Allow
`;

/** The issues a bad input produces, as "path: message". */
function issues(text: string): string[] {
  try {
    parsePolicyText(text);
  } catch (e) {
    assert.ok(e instanceof PolicyValidationError, String(e));
    assert.equal(e.code, 'WEFT_INVALID_ARGUMENT');
    assert.equal(e.field, e.issues[0]!.path);
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected a PolicyValidationError');
}

const rule = (r: string): string => `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: p }
spec:
  selector: all()
  ingress:
  - ${r}
`;

describe('policy files', () => {
  it("reads Calico's documented NetworkPolicy sample, namespace = weft network", () => {
    const { policies, profiles } = parsePolicyText(CALICO);
    assert.equal(profiles.length, 0);
    const p = policies[0]!;
    assert.equal(p.kind, 'NetworkPolicy');
    assert.equal(p.name, 'allow-tcp-6379');
    assert.equal(p.network, 'production');
    assert.equal(p.order, undefined);
    assert.equal(p.selector.text, 'role == "database"');
    assert.deepEqual(p.types, ['Ingress', 'Egress']);
    assert.equal(p.ingress[0]!.protocol, 'TCP');
    assert.deepEqual(p.ingress[0]!.destination.ports, [
      { min: 6379, max: 6379 },
      { min: 7000, max: 7010 },
    ]);
    assert.equal(p.ingress[0]!.source.selector!.text, 'role == "frontend"');
    assert.deepEqual(p.ingress[0]!.annotations, { from: 'frontend' });
    assert.deepEqual(p.egress, [{ action: 'Allow', source: {}, destination: {} }]);
  });

  it('reads JSON, the short form, lists, arrays and several YAML documents', () => {
    const json = JSON.stringify({
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'j' },
      spec: { selector: 'has(a)', ingress: [{ action: 'Deny' }] },
    });
    assert.equal(parsePolicyText(json).policies[0]!.name, 'j');
    const short = parsePolicyText('name: s\norder: 5.5\nselector: "has(x)"\negress: [{action: Allow, protocol: udp}]\n').policies[0]!;
    assert.equal(short.kind, 'GlobalNetworkPolicy');
    assert.equal(short.order, 5.5);
    assert.deepEqual(short.types, ['Egress']);
    assert.equal(short.egress[0]!.protocol, 'UDP');
    const scoped = parsePolicyText('name: s\nnamespace: net1\n').policies[0]!;
    assert.equal(scoped.kind, 'NetworkPolicy');
    assert.equal(scoped.network, 'net1');
    const list = parsePolicyText(
      JSON.stringify({
        apiVersion: 'projectcalico.org/v3',
        kind: 'List',
        items: [
          { kind: 'GlobalNetworkPolicy', metadata: { name: 'a' }, spec: {} },
          { kind: 'Profile', metadata: { name: 'net1' }, spec: { ingress: [{ action: 'Allow' }] } },
        ],
      }),
    );
    assert.deepEqual(
      list.policies.map((p) => p.name),
      ['a'],
    );
    assert.equal(list.profiles[0]!.name, 'net1');
    assert.equal(list.profiles[0]!.allowPublished, true);
    const multi = parsePolicyText('name: a\n---\nname: b\n---\n');
    assert.deepEqual(
      multi.policies.map((p) => p.name),
      ['a', 'b'],
    );
    assert.equal(parsePolicyValue([{ name: 'x' }, { name: 'y' }]).policies.length, 2);
  });

  it('defaults like Calico: selector all(), types from the rules present', () => {
    const t = (spec: string): string[] => parsePolicyText(`name: p\n${spec}`).policies[0]!.types;
    assert.equal(parsePolicyText('name: p').policies[0]!.selector.text, 'all()');
    assert.deepEqual(t(''), ['Ingress']);
    assert.deepEqual(t('ingress: [{action: Allow}]'), ['Ingress']);
    assert.deepEqual(t('egress: [{action: Allow}]'), ['Egress']);
    assert.deepEqual(t('ingress: [{action: Allow}]\negress: [{action: Allow}]'), ['Ingress', 'Egress']);
    assert.deepEqual(t('types: [egress, Ingress, Egress]'), ['Ingress', 'Egress']);
  });

  it('normalises protocols, actions, nets, ICMP', () => {
    const r = parsePolicyText(
      rule(`{action: deny, protocol: 6, notProtocol: udplite, source: {nets: ["10.1.2.3/24", "10.9.9.9"], notNets: ["10.1.0.128/25"]}}`),
    ).policies[0]!.ingress[0]!;
    assert.equal(r.action, 'Deny');
    assert.equal(r.protocol, 'TCP');
    assert.equal(r.notProtocol, 'UDPLite');
    assert.deepEqual(r.source.nets, ['10.1.2.0/24', '10.9.9.9/32']);
    const num = parsePolicyText(rule('{action: Allow, protocol: "47"}')).policies[0]!.ingress[0]!;
    assert.equal(num.protocol, 47);
    const icmp = parsePolicyText(rule('{action: Allow, protocol: ICMPv6, icmp: {type: 128, code: 0}, notICMP: {type: 129}}')).policies[0]!
      .ingress[0]!;
    assert.deepEqual(icmp.icmp, { type: 128, code: 0 });
    assert.deepEqual(icmp.notICMP, { type: 129 });
  });

  it('reads profiles, with the published-ports annotation', () => {
    const p = parsePolicyText(`
apiVersion: projectcalico.org/v3
kind: Profile
metadata:
  name: net1
  annotations: { weft.allow-published: "false" }
spec:
  ingress: [{action: Allow, source: {selector: "weft.network == 'net1'"}}]
  egress: [{action: Deny, protocol: UDP}, {action: Allow}]
`).profiles[0]!;
    assert.equal(p.allowPublished, false);
    assert.equal(p.egress.length, 2);
    assert.deepEqual(parsePolicyValue(profileToResource(p)).profiles[0], p);
  });

  it('round-trips through the stored resource form', () => {
    for (const text of [
      CALICO,
      'name: s\norder: 3\nselector: "a in {\'y\',\'x\'}"\negress: [{action: Pass, ipVersion: 6, destination: {notPorts: [22], notSelector: "has(q)"}, protocol: TCP}]',
    ]) {
      const p = parsePolicyText(text).policies[0]!;
      const again = parsePolicyValue(policyToResource(p)).policies[0]!;
      assert.deepEqual(policyToResource(again), policyToResource(p));
      assert.equal(again.selector.text, p.selector.text);
    }
  });
});

describe('bad policy files name the field', () => {
  const cases: [string, string, RegExp][] = [
    ['malformed selector', 'name: p\nselector: "role = \'web\'"', /^selector: malformed selector .* column 6/],
    [
      'malformed rule selector',
      rule("{action: Allow, source: {selector: 'has(x'}}"),
      /^spec\.ingress\[0\]\.source\.selector: malformed selector/,
    ],
    ['unknown protocol', rule('{action: Allow, protocol: TPC}'), /^spec\.ingress\[0\]\.protocol: unknown protocol "TPC"/],
    [
      'protocol number out of range',
      rule('{action: Allow, protocol: 256}'),
      /^spec\.ingress\[0\]\.protocol: protocol number 256 is out of range/,
    ],
    [
      'reversed port range',
      rule('{action: Allow, protocol: TCP, destination: {ports: [80, "2000:1000"]}}'),
      /^spec\.ingress\[0\]\.destination\.ports\[1\]: port range "2000:1000" is reversed/,
    ],
    [
      'port out of range',
      rule('{action: Allow, protocol: UDP, source: {notPorts: [70000]}}'),
      /^spec\.ingress\[0\]\.source\.notPorts\[0\]: port 70000 is out of range/,
    ],
    ['named port', rule('{action: Allow, protocol: TCP, destination: {ports: [http]}}'), /named port "http" is not supported/],
    ['garbage port', rule('{action: Allow, protocol: TCP, destination: {ports: ["1-2"]}}'), /"1-2" is not a port or a range/],
    [
      'ports without a port protocol',
      rule('{action: Allow, destination: {ports: [80]}}'),
      /^spec\.ingress\[0\]\.destination\.ports: ports need protocol TCP, UDP, SCTP or UDPLite \(protocol is not set\)/,
    ],
    [
      'ports with ICMP',
      rule('{action: Allow, protocol: ICMP, source: {ports: [80]}}'),
      /source\.ports: ports need protocol .* \(protocol is ICMP\)/,
    ],
    [
      'bad CIDR',
      rule('{action: Allow, source: {nets: ["10.0.0.0/8", "10.0.0.300/8"]}}'),
      /^spec\.ingress\[0\]\.source\.nets\[1\]: .*not a valid CIDR/,
    ],
    [
      'CIDR prefix too long',
      rule('{action: Allow, destination: {notNets: ["10.0.0.0/33"]}}'),
      /^spec\.ingress\[0\]\.destination\.notNets\[0\]: .*prefix length/,
    ],
    [
      'mixed families',
      rule('{action: Allow, source: {nets: ["10.0.0.0/8"]}, destination: {nets: ["fd00::/8"]}}'),
      /^spec\.ingress\[0\]: mixes IPv4 and IPv6/,
    ],
    ['ICMP with ipVersion 6', rule('{action: Allow, protocol: ICMP, ipVersion: 6}'), /mixes IPv4 and IPv6/],
    ['ipVersion 5', rule('{action: Allow, ipVersion: 5}'), /^spec\.ingress\[0\]\.ipVersion: must be 4 or 6/],
    [
      'icmp without ICMP protocol',
      rule('{action: Allow, protocol: TCP, icmp: {type: 8}}'),
      /^spec\.ingress\[0\]\.icmp: icmp needs protocol ICMP or ICMPv6/,
    ],
    [
      'icmp code without type',
      rule('{action: Allow, protocol: ICMP, icmp: {code: 0}}'),
      /^spec\.ingress\[0\]\.icmp\.code: code needs a type/,
    ],
    ['icmp type 255', rule('{action: Allow, protocol: ICMP, icmp: {type: 255}}'), /icmp\.type: ICMP type 255 is out of range/],
    ['unknown action', rule('{action: Accept}'), /^spec\.ingress\[0\]\.action: unknown action "Accept"/],
    ['missing action', rule('{protocol: TCP}'), /^spec\.ingress\[0\]\.action: Required/],
    ['misspelt field', rule('{action: Allow, destinaton: {ports: [80]}}'), /^spec\.ingress\[0\]: unknown field "destinaton"/],
    ['misspelt spec field', 'kind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec: {selecter: all()}', /^spec: unknown field "selecter"/],
    ['wrong type', rule('{action: Allow, source: {nets: "10.0.0.0/8"}}'), /^spec\.ingress\[0\]\.source\.nets: Expected array/],
    ['unknown type', 'name: p\ntypes: [Inbound]', /^types\[0\]: unknown type "Inbound"/],
    [
      'rules without their type',
      'name: p\ntypes: [Egress]\ningress: [{action: Allow}]',
      /^ingress: ingress rules are present but types does not include Ingress/,
    ],
    ['bad policy name', 'name: "-bad name"', /^name: "-bad name" is not a valid policy name/],
    [
      'GNP with a namespace',
      'kind: GlobalNetworkPolicy\nmetadata: {name: p, namespace: n}',
      /^metadata\.namespace: a GlobalNetworkPolicy has no namespace/,
    ],
    ['unknown kind', 'kind: HostEndpoint\nmetadata: {name: h}', /^kind: unsupported kind "HostEndpoint"/],
    ['wrong apiVersion', 'apiVersion: v1\nkind: GlobalNetworkPolicy\nmetadata: {name: p}', /^apiVersion: must be projectcalico\.org\/v3/],
    [
      'Kubernetes NetworkPolicy',
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}',
      /Kubernetes NetworkPolicy is not supported/,
    ],
    [
      'namespaceSelector',
      rule("{action: Allow, source: {namespaceSelector: 'all()'}}"),
      /source\.namespaceSelector: not supported: weft has no namespaces/,
    ],
    ['http match', rule('{action: Allow, http: {methods: [GET]}}'), /\.http: not supported/],
    ['preDNAT', 'kind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec: {preDNAT: true}', /^spec\.preDNAT: not supported/],
    ['tier', 'name: p\ntier: security', /^tier: only the "default" tier exists/],
    [
      'Pass in a profile',
      'kind: Profile\nmetadata: {name: n}\nspec: {ingress: [{action: Pass}]}',
      /^spec\.ingress\[0\]\.action: Pass is not allowed in a profile/,
    ],
    [
      'bad published annotation',
      'kind: Profile\nmetadata: {name: n, annotations: {weft.allow-published: "no"}}\nspec: {}',
      /allow-published: must be "true" or "false"/,
    ],
    ['duplicate names', 'name: a\n---\nname: a', /policy "a" is defined twice/],
    ['YAML syntax', 'name: [unclosed', /^\(document\) line 1 column \d+: not valid YAML\/JSON/],
    ['duplicate YAML keys', 'name: a\nname: b', /not valid YAML\/JSON/],
    ['empty file', '', /the file holds no policy/],
    ['a scalar', '42', /expected a policy or profile object/],
    ['list without items', 'kind: List', /^items: a List needs an items array/],
  ];
  for (const [what, text, re] of cases) {
    it(what, () => {
      const got = issues(text);
      assert.ok(
        got.some((i) => re.test(i)),
        `${re} not in:\n${got.join('\n')}`,
      );
    });
  }

  it('reports every problem of a file at once', () => {
    const got = issues(rule('{action: Nope, protocol: TPC, destination: {ports: ["9:1"], nets: ["x"]}}'));
    assert.ok(got.length >= 3, got.join('\n'));
  });
});
