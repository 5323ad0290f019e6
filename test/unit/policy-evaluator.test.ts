import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ProbePacket, evaluatePacket } from '../../src/policy/policy-evaluator.js';
import { parsePolicyText } from '../../src/policy/policy-file.js';
import type { PolicyEndpoint, PolicyInput, PolicyNetwork } from '../../src/policy/policy-types.js';

const EPS: PolicyEndpoint[] = [
  { id: 'web', network: 'n1', labels: { role: 'web' }, addresses: ['10.0.0.1', 'fd00::1'], local: true },
  { id: 'db', network: 'n1', labels: { role: 'db' }, addresses: ['10.0.0.2', 'fd00::2'], local: true },
  { id: 'cli', network: 'n2', labels: { role: 'client' }, addresses: ['10.0.1.1', 'fd00:1::1'], local: true },
  { id: 'far', network: 'n1', labels: { role: 'client' }, addresses: ['10.0.2.1'], local: false },
];
const NETS: PolicyNetwork[] = [
  { name: 'n1', mode: 'routed' },
  { name: 'n2', mode: 'bridged' },
];

function world(yaml: string, networks: PolicyNetwork[] = NETS): PolicyInput {
  const doc = parsePolicyText(yaml);
  const nets = networks.map((n) => {
    const profile = doc.profiles.find((p) => p.name === n.name);
    return profile ? { ...n, profile } : n;
  });
  return { policies: doc.policies, endpoints: EPS, networks: nets };
}

const tcp = (src: string, dst: string, dstPort: number): ProbePacket => ({ src, dst, protocol: 6, srcPort: 40000, dstPort });
const ping = (src: string, dst: string): ProbePacket => ({
  src,
  dst,
  protocol: src.includes(':') ? 58 : 1,
  icmpType: src.includes(':') ? 128 : 8,
  icmpCode: 0,
});

describe('reference evaluator: Calico semantics', () => {
  it('without policy the default profile allows the same network and refuses others', () => {
    const w = world('name: unrelated\nselector: role == "nobody"');
    assert.equal(evaluatePacket(w, tcp('10.0.0.1', '10.0.0.2', 80)).allowed, true);
    const cross = evaluatePacket(w, tcp('10.0.1.1', '10.0.0.2', 80));
    assert.equal(cross.allowed, false);
    assert.equal(cross.ingress.by, 'default profile n1');
    assert.equal(cross.egress.verdict, 'allow');
    // Published ports pass the default profile from anywhere.
    assert.equal(evaluatePacket(w, { ...tcp('198.18.0.9', '10.0.0.2', 80), dnat: true }).allowed, true);
    assert.equal(evaluatePacket(w, tcp('198.18.0.9', '10.0.0.2', 80)).allowed, false);
  });

  it('a selected endpoint is default-deny for the covered direction only', () => {
    const w = world("name: p\nselector: role == 'db'\ntypes: [Ingress]");
    const r = evaluatePacket(w, tcp('10.0.0.1', '10.0.0.2', 80));
    assert.equal(r.allowed, false);
    assert.match(r.ingress.by, /default deny \(selected by p\)/);
    assert.equal(evaluatePacket(w, tcp('10.0.0.2', '10.0.0.1', 80)).allowed, true, 'egress of db is not covered');
  });

  it('policies go in order, then by name; the first Allow or Deny wins', () => {
    const w = world(`
name: b-allow
order: 10
selector: role == 'db'
ingress: [{action: Allow}]
---
name: a-deny
order: 10
selector: role == 'db'
ingress: [{action: Deny, protocol: TCP, destination: {ports: [22]}}]
---
name: first
order: 1
selector: role == 'db'
ingress: [{action: Allow, protocol: TCP, destination: {ports: [22]}, source: {selector: role == 'web'}}]
`);
    assert.equal(evaluatePacket(w, tcp('10.0.0.1', '10.0.0.2', 22)).ingress.by, 'first rule 0');
    assert.equal(evaluatePacket(w, tcp('10.0.1.1', '10.0.0.2', 22)).ingress.by, 'a-deny rule 0');
    assert.equal(evaluatePacket(w, tcp('10.0.1.1', '10.0.0.2', 80)).ingress.by, 'b-allow rule 0');
  });

  it('a policy without order comes after every ordered one', () => {
    const w = world(`
name: aaa
selector: all()
ingress: [{action: Deny}]
---
name: zzz
order: 1000
selector: all()
ingress: [{action: Allow}]
`);
    assert.equal(evaluatePacket(w, tcp('10.0.0.1', '10.0.0.2', 1)).ingress.by, 'zzz rule 0');
  });

  it('Log goes on; Pass skips the rest and lands on the profile', () => {
    const w = world(`
name: p
order: 1
selector: role == 'db'
ingress:
  - {action: Log}
  - {action: Pass, protocol: TCP}
  - {action: Allow}
---
name: q
order: 2
selector: role == 'db'
ingress: [{action: Allow}]
`);
    assert.equal(evaluatePacket(w, ping('10.0.0.1', '10.0.0.2')).ingress.by, 'p rule 2');
    // TCP passes: the same-network web is allowed by the default profile, the other network is not.
    assert.equal(evaluatePacket(w, tcp('10.0.0.1', '10.0.0.2', 5)).ingress.by, 'default profile n1');
    assert.equal(evaluatePacket(w, tcp('10.0.0.1', '10.0.0.2', 5)).allowed, true);
    assert.equal(evaluatePacket(w, tcp('10.0.1.1', '10.0.0.2', 5)).allowed, false);
  });

  it('custom profiles decide for unselected endpoints; no match means deny', () => {
    const w = world(`
kind: Profile
metadata: {name: n1, annotations: {weft.allow-published: "false"}}
spec:
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]
  egress: [{action: Deny, protocol: UDP}, {action: Allow}]
`);
    assert.equal(evaluatePacket(w, tcp('10.0.1.1', '10.0.0.2', 80)).allowed, true, 'from another network, port 80');
    assert.equal(evaluatePacket(w, tcp('10.0.0.1', '10.0.0.2', 81)).ingress.by, 'profile n1: no rule matched');
    assert.equal(evaluatePacket(w, { ...tcp('198.18.0.9', '10.0.0.2', 81), dnat: true }).allowed, false, 'published ports closed');
    assert.equal(evaluatePacket(w, { src: '10.0.0.2', dst: '10.0.1.1', protocol: 17, dstPort: 53 }).egress.by, 'profile n1 rule 0');
  });

  it('selectors match endpoints on any host; policy is only enforced for local ones', () => {
    const w = world("name: p\nselector: role == 'db'\ningress: [{action: Allow, source: {selector: role == 'client'}}]");
    assert.equal(evaluatePacket(w, tcp('10.0.2.1', '10.0.0.2', 1)).allowed, true, 'remote client matches the selector');
    assert.equal(evaluatePacket(w, tcp('10.0.9.9', '10.0.0.2', 1)).allowed, false, 'an unknown address matches no selector');
    const toRemote = evaluatePacket(w, tcp('10.0.0.2', '10.0.2.1', 1));
    assert.equal(toRemote.ingress.verdict, 'n/a');
  });

  it('notSelector matches everything but the selected endpoints, including outsiders', () => {
    const w = world("name: p\nselector: role == 'db'\ningress: [{action: Allow, source: {notSelector: role == 'web'}}]");
    assert.equal(evaluatePacket(w, tcp('10.0.9.9', '10.0.0.2', 1)).allowed, true);
    assert.equal(evaluatePacket(w, tcp('10.0.0.1', '10.0.0.2', 1)).allowed, false);
  });

  it('a NetworkPolicy applies to and selects within its network only', () => {
    const w = world(`
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p, namespace: n1}
spec:
  selector: all()
  ingress: [{action: Allow, source: {selector: role == 'client'}}]
`);
    assert.equal(evaluatePacket(w, tcp('10.0.2.1', '10.0.0.2', 1)).allowed, true, 'client of n1');
    assert.equal(evaluatePacket(w, tcp('10.0.1.1', '10.0.0.2', 1)).allowed, false, 'client of n2 is out of scope');
    assert.equal(evaluatePacket(w, tcp('10.0.0.1', '10.0.1.1', 1)).ingress.by, 'default profile n2', 'n2 endpoints are not selected');
  });

  it('matches protocol, notProtocol, ipVersion, nets, notNets, ports, notPorts and ICMP fields', () => {
    const ok = (r: string, pkt: ProbePacket): boolean =>
      evaluatePacket(world(`name: p\nselector: role == 'db'\ningress: [{action: Allow, ${r}}]`), pkt).allowed;
    const p = tcp('10.0.0.1', '10.0.0.2', 8080);
    assert.equal(ok('protocol: TCP', p), true);
    assert.equal(ok('protocol: UDP', p), false);
    assert.equal(ok('notProtocol: TCP', p), false);
    assert.equal(ok('ipVersion: 6', p), false);
    assert.equal(ok('ipVersion: 4', p), true);
    assert.equal(ok('source: {nets: ["10.0.0.0/30"]}', p), true);
    assert.equal(ok('source: {nets: ["10.0.0.4/30"]}', p), false);
    assert.equal(ok('source: {notNets: ["10.0.0.0/24"]}', p), false);
    assert.equal(ok('destination: {nets: ["fd00::/8"]}', p), false);
    // A rule with IPv4 CIDRs only exists for IPv4, even when they are negated.
    assert.equal(ok('source: {notNets: ["192.168.0.0/16"]}', tcp('fd00::1', 'fd00::2', 1)), false);
    assert.equal(ok('source: {notNets: ["192.168.0.0/16"]}', p), true);
    assert.equal(ok('protocol: TCP, destination: {ports: [80, "8000:8100"]}', p), true);
    assert.equal(ok('protocol: TCP, destination: {notPorts: ["8000:8100"]}', p), false);
    assert.equal(ok('protocol: TCP, source: {ports: [40000]}', p), true);
    const echo = ping('10.0.0.1', '10.0.0.2');
    assert.equal(ok('protocol: ICMP, icmp: {type: 8}', echo), true);
    assert.equal(ok('protocol: ICMP, icmp: {type: 8, code: 1}', echo), false);
    assert.equal(ok('protocol: ICMP, notICMP: {type: 8, code: 0}', echo), false);
    assert.equal(ok('protocol: ICMP, notICMP: {type: 8, code: 3}', echo), true);
    assert.equal(ok('protocol: ICMPv6', echo), false);
  });
});
