/**
 * The policy service's scheduling, with a fake store mirror and a scripted nft: store events that
 * arrive while a transaction runs are taken together by the next one (never one transaction per
 * event queued behind each other), and what is applied is always the latest view. Work counts,
 * no timings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterAgent, PrefixMirror } from '../../src/cluster/cluster-agent.js';
import { PolicyService } from '../../src/daemon/policy-service.js';
import type { NftExecutor } from '../../src/kernel/nft.js';
import type { Logger } from '../../src/logger.js';
import { PolicyFirewall } from '../../src/policy/policy-firewall.js';

/** nft whose transactions finish only when the test says so. */
class GatedNft implements NftExecutor {
  scripts: string[] = [];
  private gates: (() => void)[] = [];
  hold = false;
  apply(script: string): Promise<void> {
    this.scripts.push(script);
    if (!this.hold) return Promise.resolve();
    return new Promise((resolve) => this.gates.push(resolve));
  }
  release(): void {
    for (const g of this.gates.splice(0)) g();
  }
  get waiting(): number {
    return this.gates.length;
  }
  listTable(): Promise<unknown> {
    return Promise.resolve({ nftables: [] });
  }
}

/** A store of prefixes: snapshot at mirror() time, then events pushed by the test. */
function fakeAgent(initial: Record<string, string>): {
  agent: ClusterAgent;
  put(key: string, value: string): void;
  del(key: string): void;
} {
  const mirrors: { prefix: string; m: PrefixMirror }[] = [];
  let rev = 1;
  const agent = {
    hostId: 'h1',
    mirror(prefix: string, m: PrefixMirror): () => void {
      mirrors.push({ prefix, m });
      const entries = Object.entries(initial)
        .filter(([k]) => k.startsWith(prefix))
        .map(([key, value]) => ({ key, value, version: 1 }));
      queueMicrotask(() => m.onSnapshot({ entries, revision: rev }));
      return () => undefined;
    },
  } as unknown as ClusterAgent;
  const emit = (key: string, e: { type: 'put' | 'delete'; key: string; value?: string }): void => {
    rev++;
    for (const x of mirrors) if (key.startsWith(x.prefix)) x.m.onEvent(e, rev);
  };
  return {
    agent,
    put: (key, value) => emit(key, { type: 'put', key, value }),
    del: (key) => emit(key, { type: 'delete', key }),
  };
}

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const ep = (id: string, role: string): string =>
  JSON.stringify({ id, hostId: 'h1', network: 'net', driver: 'routed', ipv4: `10.43.0.${id.slice(1)}`, labels: { role } });
const policy = (port: number): string =>
  JSON.stringify({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: 'db' },
    spec: { selector: "role == 'db'", types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [port] } }] },
  });

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

describe('policy service', () => {
  it('events during a transaction are applied together by one next transaction, from the latest view', async () => {
    const store = fakeAgent({ 'endpoints/net/e1': ep('e1', 'db') });
    const nft = new GatedNft();
    const svc = await PolicyService.start(store.agent, { log: quiet, firewall: new PolicyFirewall({ nft }) });
    assert.equal(svc.applies, 1); // the first full table

    nft.hold = true;
    store.put('policies/db', policy(5432));
    for (let i = 0; i < 400 && nft.waiting === 0; i++) await tick(); // the policy's transaction is running
    assert.equal(nft.waiting, 1);
    for (let port = 1; port <= 5; port++) store.put('policies/db', policy(6000 + port));
    store.put('endpoints/net/e2', ep('e2', 'db'));
    await tick();
    assert.equal(nft.scripts.length, 2, 'nothing else starts while a transaction runs');
    nft.hold = false;
    nft.release();
    await svc.idle();
    // One transaction for the policy, one for the six events behind it (not six).
    assert.equal(svc.applies, 3);
    assert.equal(nft.scripts.length, 3);
    assert.match(nft.scripts[2]!, /\b6005\b/);
    assert.doesNotMatch(nft.scripts[2]!, /\b600[1-4]\b/);
    assert.match(nft.scripts[2]!, /10\.43\.0\.2/);
    await svc.stop();
  });

  it('a change with nothing running is applied at once, one transaction per change', async () => {
    const store = fakeAgent({});
    const nft = new GatedNft();
    const svc = await PolicyService.start(store.agent, { log: quiet, firewall: new PolicyFirewall({ nft }) });
    const before = nft.scripts.length;
    store.put('endpoints/net/e1', ep('e1', 'db'));
    await svc.idle();
    store.put('policies/db', policy(5432));
    await svc.idle();
    store.del('policies/db');
    await svc.idle();
    assert.equal(nft.scripts.length - before, 3);
    assert.match(nft.scripts.at(-1)!, /delete chain inet weft-policy \S*db/);
    await svc.stop();
  });
});
