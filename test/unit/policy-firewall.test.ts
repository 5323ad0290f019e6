/**
 * The apply layer's own logic with a scripted nft and sysctl (the kernel side is covered by
 * test/netns/040-policy-matrix.test.ts): what it sends, when it falls back to a full
 * transaction, and the br_netfilter checks — including a kernel without br_netfilter, which this
 * machine cannot show.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FirewallError, KernelError, KernelUnsupportedError } from '../../src/errors.js';
import type { NftExecutor } from '../../src/kernel/nft.js';
import { checkPolicyTable, liveElements, ruleFingerprints } from '../../src/policy/policy-check.js';
import { compilePolicies } from '../../src/policy/policy-compiler.js';
import { parsePolicyText } from '../../src/policy/policy-file.js';
import { PolicyFirewall } from '../../src/policy/policy-firewall.js';
import type { PolicyInput } from '../../src/policy/policy-types.js';

class ScriptedNft implements NftExecutor {
  scripts: string[] = [];
  failNext = 0;
  live: unknown = { nftables: [] };
  apply(script: string): Promise<void> {
    this.scripts.push(script);
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new FirewallError('nft rejected the transaction (nothing applied): No such file or directory'));
    }
    return Promise.resolve();
  }
  listTable(): Promise<unknown> {
    return Promise.resolve(this.live);
  }
}

const policies = parsePolicyText("name: p\nselector: role == 'db'\ningress: [{action: Allow, protocol: TCP}]").policies;
const input = (mode: 'routed' | 'bridged', role = 'db'): PolicyInput => ({
  policies,
  networks: [{ name: 'n', mode }],
  endpoints: [{ id: 'a', network: 'n', labels: { role }, addresses: ['10.0.0.1'], local: true }],
});

function sysctl(values: Record<string, string | Error>): {
  read(k: string): Promise<string>;
  write(k: string, v: string): Promise<void>;
  writes: string[];
} {
  const writes: string[] = [];
  return {
    writes,
    read: (k) => {
      const v = values[k];
      return v instanceof Error ? Promise.reject(v) : Promise.resolve(v ?? '1');
    },
    write: (k, v) => {
      writes.push(`${k}=${v}`);
      values[k] = v;
      return Promise.resolve();
    },
  };
}

describe('PolicyFirewall', () => {
  it('applies the full table first, then only differences; nothing when nothing changed', async () => {
    const nft = new ScriptedNft();
    const fw = new PolicyFirewall({ nft, sysctl: sysctl({}) });
    assert.equal((await fw.apply(input('routed'))).full, true);
    const again = await fw.apply(input('routed'));
    assert.equal(again.scriptBytes, 0);
    assert.equal(nft.scripts.length, 1);
    const relabel = await fw.apply(input('routed', 'web'));
    assert.equal(relabel.full, false);
    assert.match(nft.scripts[1]!, /^delete element inet weft-policy pa4\.p \{ 10\.0\.0\.1 \}/m);
  });

  it('falls back to the whole table when the incremental transaction is refused', async () => {
    const nft = new ScriptedNft();
    const fw = new PolicyFirewall({ nft, sysctl: sysctl({}) });
    await fw.apply(input('routed'));
    nft.failNext = 1;
    const r = await fw.apply(input('routed', 'web'));
    assert.equal(r.fellBack, true);
    assert.equal(r.full, true);
    assert.match(nft.scripts.at(-1)!, /^add table inet weft-policy\ndelete table inet weft-policy\n/);
  });

  it('a refused full transaction leaves the last good state in place and is reported', async () => {
    const nft = new ScriptedNft();
    const fw = new PolicyFirewall({ nft, sysctl: sysctl({}) });
    await fw.apply(input('routed'));
    nft.failNext = 2;
    await assert.rejects(fw.apply(input('routed', 'web')), (e: unknown) => {
      assert.ok(e instanceof FirewallError && /both refused/.test(e.message));
      assert.equal((e.cause as AggregateError).errors.length, 2, 'both errors kept');
      return true;
    });
    assert.equal(fw.state, undefined, 'unknown kernel state: next apply is a full one');
    assert.equal((await fw.apply(input('routed', 'web'))).full, true);
  });

  it('bridged networks: refuses when the br_netfilter hooks are off, turns them on when allowed', async () => {
    const off = { 'net.bridge.bridge-nf-call-iptables': '1', 'net.bridge.bridge-nf-call-ip6tables': '0' };
    const nft = new ScriptedNft();
    await assert.rejects(new PolicyFirewall({ nft, sysctl: sysctl({ ...off }) }).apply(input('bridged')), /bridge-nf-call-ip6tables is 0/);
    assert.equal(nft.scripts.length, 0, 'nothing applied');
    assert.equal(
      (await new PolicyFirewall({ nft, sysctl: sysctl({ ...off }) }).apply(input('routed'))).full,
      true,
      'routed needs no hooks',
    );
    const s = sysctl({ ...off });
    await new PolicyFirewall({ nft, sysctl: s, enableBridgeHooks: true }).apply(input('bridged'));
    assert.deepEqual(s.writes, ['net.bridge.bridge-nf-call-ip6tables=1']);
  });

  it('a kernel without br_netfilter is a clear KernelUnsupportedError', async () => {
    const enoent = new KernelError('sysctl read /proc/sys/net/bridge/bridge-nf-call-iptables', 'ENOENT', { errno: 2 });
    const fw = new PolicyFirewall({ nft: new ScriptedNft(), sysctl: sysctl({ 'net.bridge.bridge-nf-call-iptables': enoent }) });
    await assert.rejects(
      fw.apply(input('bridged')),
      (e: unknown) => e instanceof KernelUnsupportedError && /load br_netfilter/.test(e.message),
    );
  });

  it('serialises calls: each gets its own result even after a failure', async () => {
    const nft = new ScriptedNft();
    const fw = new PolicyFirewall({ nft, sysctl: sysctl({}) });
    nft.failNext = 1;
    const [a, b] = await Promise.allSettled([fw.apply(input('routed')), fw.apply(input('routed', 'web'))]);
    assert.equal(a.status, 'rejected');
    assert.equal(b.status, 'fulfilled');
  });
});

describe('policy drift check', () => {
  const compiled = compilePolicies(input('routed'));
  const chainObj = (name: string, extra: Record<string, unknown> = {}): unknown => ({
    chain: { family: 'inet', table: 'weft-policy', name, ...extra },
  });
  const ruleObj = (chain: string, comment: string, expr: unknown = [{ accept: null }]): unknown => ({ rule: { chain, comment, expr } });

  function liveFor(mutate?: (items: unknown[]) => void): unknown {
    const items: unknown[] = [];
    for (const s of compiled.sets.values()) {
      const elem = [...compiled.elements.get(s.name)!].map((e) => {
        const [k, v] = e.split(' : ');
        return v === undefined ? k : [k, { goto: { target: v.replace('goto ', '') } }];
      });
      items.push({ [s.verdictMap ? 'map' : 'set']: { name: s.name, type: s.type, ...(s.verdictMap ? { map: 'verdict' } : {}), elem } });
    }
    for (const c of compiled.chains.values()) {
      items.push(chainObj(c.name, c.priority === undefined ? {} : { type: 'filter', hook: 'forward', prio: c.priority, policy: 'accept' }));
      for (const r of c.rules) items.push(ruleObj(c.name, /comment "([^"]*)"$/.exec(r)![1]!));
    }
    mutate?.(items);
    return { nftables: items };
  }

  it('a faithful table has no problems', () => {
    assert.deepEqual(checkPolicyTable(liveFor(), compiled), []);
  });

  it('reads verdict map elements as the compiler writes them', () => {
    assert.deepEqual(liveElements({ elem: [['FD00:0::1', { goto: { target: 'prof.n.in' } }], '10.0.0.1'] }), [
      'fd00::1 : goto prof.n.in',
      '10.0.0.1',
    ]);
  });

  it('finds a missing table, element, chain, hook change, extra rule, modified rule and foreign set', () => {
    assert.deepEqual(checkPolicyTable(undefined, compiled), ['table inet weft-policy is missing']);
    const probs = checkPolicyTable(
      liveFor((items) => {
        const local4 = items.find((i) => (i as { set?: { name: string } }).set?.name === 'local4') as { set: { elem: unknown[] } };
        local4.set.elem = ['10.9.9.9'];
        const at = items.findIndex((i) => (i as { chain?: { name: string } }).chain?.name === 'in-pass');
        items.splice(at, 1);
        (items.find((i) => (i as { chain?: { name: string } }).chain?.name === 'egress') as { chain: { prio: number } }).chain.prio = 0;
        items.push(ruleObj('pol.p.in', 'sneaky'));
        items.push({ set: { name: 'mine', type: 'ipv4_addr' } });
      }),
      compiled,
    );
    for (const want of [
      'set local4: element 10.0.0.1 is missing',
      'set local4: unexpected element 10.9.9.9',
      'chain inet weft-policy in-pass is missing',
      'chain inet weft-policy egress is hooked as filter/forward/0/accept',
      'unexpected set inet weft-policy mine',
    ]) {
      assert.ok(probs.includes(want), `${want} not in\n${probs.join('\n')}`);
    }
    assert.ok(probs.some((p) => p.startsWith('chain inet weft-policy pol.p.in: rules differ')));
    const live = liveFor();
    const ref = ruleFingerprints(live);
    const edited = liveFor((items) => {
      const r = items.find((i) => (i as { rule?: { chain: string } }).rule?.chain === 'pol.p.in') as { rule: { expr: unknown } };
      r.rule.expr = [{ drop: null }];
    });
    assert.deepEqual(checkPolicyTable(edited, compiled, ref), ['chain inet weft-policy pol.p.in: rule "pol p in[0]" was modified']);
  });
});
