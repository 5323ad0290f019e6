import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NftFirewall } from '../../src/firewall/nft-firewall.js';
import { NoneFirewall } from '../../src/firewall/none-firewall.js';
import { checkLive, liveElements } from '../../src/firewall/nft-check.js';
import {
  CHAINS,
  SET_BY_NAME,
  fullScript,
  networkElements,
  portElements,
  stateElements,
  tableText,
} from '../../src/firewall/nft-ruleset.js';
import { removeElementsScript } from '../../src/firewall/nft-ops.js';
import { findConflicts } from '../../src/firewall/port-conflicts.js';
import type { FirewallState, FwNetwork, FwPortMapping } from '../../src/firewall/types.js';
import type { NftExecutor } from '../../src/kernel/nft.js';
import { ConflictError, FirewallError, InvalidArgumentError, NotFoundError } from '../../src/errors.js';

const A: FwNetwork = {
  id: 'a',
  bridge: 'br-a',
  subnets4: ['10.1.0.0/24'],
  subnets6: ['fd00:1::/64'],
  internal: false,
  icc: true,
  masquerade: true,
};
const B: FwNetwork = { id: 'b', bridge: 'br-b', subnets4: ['10.2.0.0/24'], subnets6: [], internal: true, icc: false, masquerade: true };
const P = (hostPort: number, extra: Partial<FwPortMapping> = {}): FwPortMapping => ({
  networkId: 'a',
  protocol: 'tcp',
  hostPort,
  containerIp: '10.1.0.2',
  containerPort: 80,
  ...extra,
});

/** Records scripts; the kernel's tables are simulated as "present" once a full script ran. */
class FakeNft implements NftExecutor {
  scripts: string[] = [];
  fail?: string;
  async apply(script: string): Promise<void> {
    if (this.fail && script.includes(this.fail)) throw new FirewallError('nft rejected the transaction (nothing applied): boom');
    this.scripts.push(script);
  }
  async listTable(): Promise<unknown> {
    return undefined;
  }
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l.trim() !== '');

describe('ruleset builders', () => {
  it('define every set a rule refers to, in the right table', () => {
    for (const c of CHAINS) {
      for (const r of c.rules) {
        for (const [, name] of r.text.matchAll(/@(\w+)/g)) {
          assert.equal(SET_BY_NAME.get(name!)?.family, c.family, `${c.family}/${c.name}: ${r.text}`);
        }
      }
    }
    assert.match(tableText('inet'), /chain forward \{\n\t\ttype filter hook forward priority 0; policy accept;/);
    assert.match(tableText('bridge'), /set noicc4 \{ type ipv4_addr; flags interval; \}/);
    assert.doesNotMatch(tableText('bridge'), /ports4/);
  });

  it('full script replaces both tables atomically and creates the user table only when asked', () => {
    const s = lines(fullScript({ networks: [A], ports: [P(8080)] }, { createUserTable: false }));
    assert.deepEqual(s.slice(0, 3), ['add table inet weft', 'delete table inet weft', 'table inet weft {']);
    assert.ok(s.includes('add table bridge weft') && s.includes('delete table bridge weft'));
    assert.ok(!s.some((l) => l.includes('weft-user')));
    assert.ok(s.includes('add element inet weft ports4_any { tcp . 8080 : 10.1.0.2 . 80 }'));
    const withUser = fullScript({ networks: [], ports: [] }, { createUserTable: true });
    assert.match(withUser, /table inet weft-user \{\n\tchain weft-user \{\n\t\ttype filter hook forward priority -10; policy accept;/);
    assert.doesNotMatch(withUser, /delete table inet weft-user|flush/);
  });

  it('network elements follow internal/icc/masquerade', () => {
    const a = networkElements(A).map((e) => `${e.set}: ${e.key.join(' . ')}${e.value ? ' : ' + e.value.join(' . ') : ''}`);
    assert.deepEqual(a.sort(), [
      'bridges: br-a',
      'hairpin4: br-a . 10.1.0.0/24',
      'hairpin6: br-a . fd00:1::/64',
      'intra: br-a . br-a : accept',
      'masq4: 10.1.0.0/24',
      'masq6: fd00:1::/64',
    ]);
    const b = networkElements(B).map((e) => `${e.set}: ${e.key.join(' . ')}${e.value ? ' : ' + e.value.join(' . ') : ''}`);
    assert.deepEqual(b.sort(), ['bridges: br-b', 'internal: br-b', 'intra: br-b . br-b : drop', 'noicc4: 10.2.0.0/24']);
    assert.equal(networkElements({ ...A, masquerade: false }).filter((e) => e.set.startsWith('masq')).length, 0);
  });

  it('port elements pick the map by family and binding', () => {
    assert.deepEqual(portElements(P(8080), A), [{ set: 'ports4_any', key: ['tcp', '8080'], value: ['10.1.0.2', '80'] }]);
    assert.deepEqual(portElements(P(8080, { hostIp: '0.0.0.0' }), A)[0]!.set, 'ports4_any');
    assert.deepEqual(portElements(P(53, { protocol: 'udp', hostIp: '192.0.2.1' }), A), [
      { set: 'ports4_bound', key: ['192.0.2.1', 'udp', '53'], value: ['10.1.0.2', '80'] },
    ]);
    assert.deepEqual(portElements(P(8080, { containerIp: 'fd00:1::2' }), A)[0]!.set, 'ports6_any');
    assert.deepEqual(portElements(P(8080, { containerIp: 'fd00:1::2', hostIp: '::1' }), A)[0]!.set, 'ports6_bound');
    // Default host address of the network; IPv6 is then not published (Docker's behaviour).
    const H = { ...A, hostBindingIpv4: '192.0.2.7' };
    assert.deepEqual(portElements(P(8080), H)[0]!.key, ['192.0.2.7', 'tcp', '8080']);
    assert.deepEqual(portElements(P(8080, { containerIp: 'fd00:1::2' }), H), []);
    assert.deepEqual(portElements(P(8080, { networkId: 'b', containerIp: '10.2.0.2' }), B), [], 'internal: not published');
  });

  it('element deletion is idempotent: add then delete in one script', () => {
    assert.deepEqual(lines(removeElementsScript(portElements(P(8080), A))), [
      'add element inet weft ports4_any { tcp . 8080 : 10.1.0.2 . 80 }',
      'delete element inet weft ports4_any { tcp . 8080 : 10.1.0.2 . 80 }',
    ]);
  });
});

describe('NftFirewall with a recording nft', () => {
  it('incremental operations only touch elements', async () => {
    const nft = new FakeNft();
    const fw = new NftFirewall({ nft });
    await fw.init({ networks: [A], ports: [] });
    assert.equal(nft.scripts.length, 1);
    await fw.addNetwork(B);
    await fw.addPorts([P(8080), P(8081, { protocol: 'udp' })]);
    await fw.removePorts([P(8080)]);
    await fw.removeNetwork('b');
    const incremental = nft.scripts.slice(1);
    assert.equal(incremental.length, 4, 'one transaction per change');
    for (const s of incremental) for (const l of lines(s)) assert.match(l, /^(add|delete) element (inet|bridge) weft \w+ \{ .+ \}$/);
    assert.match(incremental[1]!, /ports4_any \{ tcp \. 8080 : 10\.1\.0\.2 \. 80, udp \. 8081 : 10\.1\.0\.2 \. 80 \}/);
    assert.deepEqual(fw.state, { networks: [A], ports: [P(8081, { protocol: 'udp' })] });
  });

  it('the 1000th port costs one element, like the 1st', async () => {
    const nft = new FakeNft();
    const fw = new NftFirewall({ nft });
    await fw.init({ networks: [A], ports: Array.from({ length: 999 }, (_, i) => P(10000 + i)) });
    await fw.addPorts([P(20000)]);
    assert.deepEqual(lines(nft.scripts.at(-1)!), ['add element inet weft ports4_any { tcp . 20000 : 10.1.0.2 . 80 }']);
  });

  it('is idempotent: add twice, remove what was never added', async () => {
    const nft = new FakeNft();
    const fw = new NftFirewall({ nft });
    await fw.init({ networks: [A], ports: [P(8080)] });
    const n = nft.scripts.length;
    await fw.addNetwork(A);
    await fw.addPorts([P(8080)]);
    await fw.removePorts([P(9999)]);
    await fw.removeNetwork('nope');
    assert.equal(nft.scripts.length, n, 'no transaction for no-ops');
  });

  it('bad input changes nothing', async () => {
    const nft = new FakeNft();
    const fw = new NftFirewall({ nft });
    await fw.init({ networks: [A], ports: [P(8080)] });
    const before = fw.state;
    const n = nft.scripts.length;
    await assert.rejects(fw.addPorts([P(8081), P(8080, { containerPort: 81 })]), ConflictError);
    await assert.rejects(
      fw.addPorts([P(8082), P(0)]),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'ports[1].hostPort',
    );
    await assert.rejects(fw.addPorts([P(8083, { networkId: 'zzz' })]), NotFoundError);
    await assert.rejects(fw.addPorts([P(8084, { hostIp: '::1' })]), /different families/);
    await assert.rejects(fw.addPorts([P(8085, { protocol: 'icmp' as 'tcp' })]), /protocol/);
    await assert.rejects(fw.addNetwork({ ...A, bridge: 'br"; flush ruleset' }), /interface name/);
    await assert.rejects(fw.addNetwork({ ...A, id: 'c', bridge: 'br-c', subnets4: ['10.1.0.128/25'] }), ConflictError);
    await assert.rejects(fw.addNetwork({ ...A, id: 'c' }), /already belongs/);
    await assert.rejects(fw.addNetwork({ ...A, icc: false }), /different settings/);
    await assert.rejects(fw.init({ networks: [A], ports: [P(8080), P(8080, { containerIp: '10.1.0.3' })] }), ConflictError);
    assert.equal(nft.scripts.length, n);
    assert.deepEqual(fw.state, before);
  });

  it('an nft failure leaves the model unchanged and surfaces FirewallError', async () => {
    const nft = new FakeNft();
    const fw = new NftFirewall({ nft });
    await fw.init({ networks: [A], ports: [] });
    nft.fail = '8080';
    await assert.rejects(fw.addPorts([P(8080)]), FirewallError);
    assert.deepEqual(fw.state.ports, []);
  });

  it('a failed removal falls back to re-applying the whole model', async () => {
    const nft = new FakeNft();
    const fw = new NftFirewall({ nft });
    await fw.init({ networks: [A], ports: [P(8080), P(8081)] });
    nft.fail = 'delete element';
    await fw.removePorts([P(8080)]);
    assert.match(nft.scripts.at(-1)!, /^add table inet weft\ndelete table inet weft/);
    assert.doesNotMatch(nft.scripts.at(-1)!, /tcp \. 8080/);
    assert.deepEqual(fw.state.ports, [P(8081)]);
  });

  it('check() reports missing tables when nothing is there', async () => {
    const fw = new NftFirewall({ nft: new FakeNft() });
    const c = await fw.check();
    assert.equal(c.ok, false);
    assert.deepEqual(c.problems, ['table inet weft is missing', 'table bridge weft is missing', 'table inet weft-user is missing']);
  });
});

describe('checkLive', () => {
  const state: FirewallState = { networks: [A], ports: [P(8080), P(53, { protocol: 'udp', containerIp: 'fd00:1::2', hostIp: 'fd00::1' })] };
  // What `nft -j list table` prints, reduced to the parts check() reads.
  const liveFor = (drop?: string): { inet: unknown; bridge: unknown; user: unknown } => {
    const elems: Record<string, unknown[]> = {
      bridges: ['br-a'],
      intra: [[{ concat: ['br-a', 'br-a'] }, { accept: null }]],
      hairpin4: [{ concat: ['br-a', { prefix: { addr: '10.1.0.0', len: 24 } }] }],
      hairpin6: [{ concat: ['br-a', { prefix: { addr: 'fd00:1::', len: 64 } }] }],
      masq4: [{ prefix: { addr: '10.1.0.0', len: 24 } }],
      masq6: [{ prefix: { addr: 'fd00:1::', len: 64 } }],
      ports4_any: drop === 'port' ? [] : [[{ concat: ['tcp', 8080] }, { concat: ['10.1.0.2', 80] }]],
      ports6_bound: [[{ concat: ['fd00::1', 'udp', 53] }, { concat: ['fd00:1::2', 80] }]],
    };
    const table = (family: 'inet' | 'bridge') => ({
      nftables: [
        ...CHAINS.filter((c) => c.family === family && !(drop === 'chain' && c.name === 'forward')).map((c) => ({
          chain: {
            family,
            table: 'weft',
            name: c.name,
            ...(c.base ? { type: c.base.type, hook: c.base.hook, prio: c.base.prio, policy: 'accept' } : {}),
          },
        })),
        ...CHAINS.filter((c) => c.family === family).flatMap((c) =>
          c.rules.map((r) => ({ rule: { family, table: 'weft', chain: c.name, comment: r.comment, expr: [] } })),
        ),
        ...[...SET_BY_NAME.values()]
          .filter((s) => s.family === family)
          .map((s) => ({ [s.value ? 'map' : 'set']: { name: s.name, ...(elems[s.name] ? { elem: elems[s.name] } : {}) } })),
      ],
    });
    return { inet: table('inet'), bridge: table('bridge'), user: { nftables: [{ chain: { name: 'weft-user' } }] } };
  };

  it('accepts a live ruleset that matches', () => {
    assert.deepEqual(checkLive(liveFor(), stateElements(state)), []);
  });

  it('reports missing elements, chains and unexpected elements', () => {
    assert.deepEqual(checkLive(liveFor('port'), stateElements(state)), ['set ports4_any: element tcp . 8080 : 10.1.0.2 . 80 is missing']);
    const p = checkLive(liveFor('chain'), stateElements(state));
    assert.ok(p.includes('chain inet weft forward is missing'), p.join('\n'));
    const fewer = checkLive(liveFor(), stateElements({ networks: [A], ports: [] }));
    assert.ok(fewer.includes('set ports4_any: unexpected element tcp . 8080 : 10.1.0.2 . 80'), fewer.join('\n'));
  });

  it('normalises nft JSON elements (numbers for protocols, plain addresses in interval sets)', () => {
    assert.deepEqual(liveElements(SET_BY_NAME.get('ports4_any')!, { elem: [[{ concat: [6, 80] }, { concat: ['10.0.0.2', 80] }]] }), [
      'tcp . 80 : 10.0.0.2 . 80',
    ]);
    assert.deepEqual(liveElements(SET_BY_NAME.get('masq4')!, { elem: ['10.0.0.5'] }), ['10.0.0.5/32']);
    assert.deepEqual(liveElements(SET_BY_NAME.get('bridges')!, { elem: [{ elem: { val: 'br0', comment: 'x' } }] }), ['br0']);
  });
});

describe('findConflicts', () => {
  it('finds same protocol + port on overlapping host addresses', () => {
    assert.equal(findConflicts([P(80)], [P(80, { containerIp: '10.1.0.3' })]).length, 1);
    assert.equal(findConflicts([P(80, { hostIp: '192.0.2.1' })], [P(80)]).length, 1, 'all addresses cover one');
    assert.equal(findConflicts([P(80, { hostIp: '0.0.0.0' })], [P(80, { hostIp: '192.0.2.1', containerIp: '10.1.0.3' })]).length, 1);
    assert.equal(findConflicts([P(80, { hostIp: '192.0.2.1' })], [P(80, { hostIp: '192.0.2.2' })]).length, 0);
    assert.equal(findConflicts([P(80)], [P(80, { protocol: 'udp' })]).length, 0);
    assert.equal(findConflicts([P(80)], [P(80, { containerIp: 'fd00:1::2' })]).length, 0, 'v4 and v6 twins coexist');
    assert.equal(findConflicts([P(80)], [P(80)]).length, 0, 'identical is not a conflict');
    assert.equal(findConflicts([], [P(81), P(81, { containerIp: '10.1.0.9' })]).length, 1, 'within the wanted list');
    assert.equal(findConflicts([P(0)], [P(0, { containerIp: '10.1.0.9' })]).length, 0, 'unchosen ports never conflict');
    assert.match(findConflicts([P(80)], [P(80, { containerPort: 81 })])[0]!.message, /host port 80\/tcp is already published/);
  });
});

describe('NoneFirewall', () => {
  it('keeps the model and touches nothing', async () => {
    const fw = new NoneFirewall();
    assert.equal(fw.name, 'none');
    await fw.init({ networks: [A], ports: [] });
    await fw.addPorts([P(8080), P(8080)]);
    assert.equal(fw.state.ports.length, 1);
    await fw.removeNetwork('a');
    assert.deepEqual(fw.state, { networks: [], ports: [] });
    assert.deepEqual(await fw.check(), { ok: true, problems: [] });
  });
});
