/**
 * The cluster agent on a real etcd (its own namespace, reached over a unix socket): several
 * agents (in this process with their own clients, and in separate processes for the races)
 * register, see each other up, detect a dead host and reclaim it after the grace, refuse a
 * duplicate host id, never hand out one address twice — concurrently across processes, when
 * blocks run out (borrowing), after a host's death — and ride out an etcd outage keeping
 * their leases and blocks. WEFT_LONG=1 makes the outage 20 s (default 7 s, > the lease TTL).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdStore } from '../../src/store/etcd-store.js';
import { parseEtcdUrl } from '../../src/store/etcd-url.js';
import { EtcdClusterAgent, type ClusterAgentOptions } from '../../src/cluster/cluster-agent.js';
import type { BlockRecord } from '../../src/ipam/cluster-blocks.js';
import { WeftError } from '../../src/errors.js';
import { EtcdHarness } from './etcd-harness.js';

const etcd = new EtcdHarness();
const dir = mkdtempSync('/tmp/weft-agent-test-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const code = (c: string) => (err: unknown) => err instanceof WeftError && err.code === c;
const outageMs = process.env.WEFT_LONG === '1' ? 20_000 : 7000;

async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
  return Date.now() - t0;
}

interface ChildResult {
  host: string;
  got: { address: string; borrowed: boolean; handle: string }[];
  exhausted: boolean;
  requests: number;
}

interface Cluster {
  prefix: string;
  agents: EtcdClusterAgent[];
  stores: EtcdStore[];
  add(id: string, o?: Partial<ClusterAgentOptions>): Promise<EtcdClusterAgent>;
  close(): Promise<void>;
}

async function cluster(): Promise<Cluster> {
  const prefix = `/weft-test/${randomBytes(4).toString('hex')}/`;
  const c: Cluster = {
    prefix,
    agents: [],
    stores: [],
    async add(id, o = {}) {
      const store = await EtcdStore.open({ target: parseEtcdUrl(etcd.url), prefix });
      c.stores.push(store);
      const agent = new EtcdClusterAgent(store, {
        identity: { id, token: `token-${id}-0123456789abcdef` },
        name: id,
        address: `198.18.0.${c.agents.length + 2}`,
        ttlMs: 2000,
        graceMs: 3000,
        ipamJournal: path.join(dir, `${prefix.replace(/\//g, '_')}${id}.json`),
        ...o,
      });
      await agent.start();
      c.agents.push(agent);
      return agent;
    },
    async close() {
      // eslint-disable-next-line no-restricted-syntax -- some agents were crashed on purpose; stopping them again may fail
      for (const a of c.agents) await a.stop().catch(() => undefined);
      for (const s of c.stores) await s.close();
    },
  };
  return c;
}

before(async () => etcd.start());
after(async () => {
  await etcd.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('cluster agent on a real etcd', { timeout: 180_000 }, () => {
  it('three hosts see each other up; a duplicate host id is refused and changes nothing', async () => {
    const c = await cluster();
    try {
      const [a, b] = [await c.add('h1'), await c.add('h2')];
      await c.add('h3');
      for (const ag of c.agents) await waitUntil(`${ag.hostId} sees 3 up`, () => ag.view().filter((v) => v.state === 'up').length === 3);
      const hosts = await a.hosts();
      assert.deepEqual(
        hosts.map((h) => [h.name, h.state, h.self]),
        [
          ['h1', 'up', true],
          ['h2', 'up', false],
          ['h3', 'up', false],
        ],
      );
      assert.ok(
        hosts.every((h) => Date.now() - h.lastSeen < 3000),
        'last seen within a lease period',
      );
      assert.equal((await b.host('h1')).address, '198.18.0.2');
      const before = await c.stores[0]!.snapshot('');
      const dupStore = await EtcdStore.open({ target: parseEtcdUrl(etcd.url), prefix: c.prefix });
      const dup = new EtcdClusterAgent(dupStore, {
        identity: { id: 'h2', token: 'another-machine-token-xyz' },
        name: 'h2',
        address: '198.18.0.99',
      });
      await assert.rejects(
        dup.start(),
        (e: unknown) => code('WEFT_CONFLICT')(e) && /already registered by a live host at 198\.18\.0\.3/.test((e as Error).message),
      );
      await dupStore.close();
      const afterSnap = await c.stores[0]!.snapshot('');
      assert.deepEqual(
        afterSnap.entries.map((e) => [e.key, e.version]),
        before.entries.map((e) => [e.key, e.version]),
        'nothing changed',
      );
      // The same host restarting (same token, same address) takes its own registration over.
      const again = await EtcdStore.open({ target: parseEtcdUrl(etcd.url), prefix: c.prefix });
      c.stores.push(again);
      const h2b = new EtcdClusterAgent(again, {
        identity: { id: 'h2', token: 'token-h2-0123456789abcdef' },
        name: 'h2',
        address: '198.18.0.3',
      });
      await h2b.start();
      c.agents.push(h2b);
      await sleep(300);
      assert.equal(a.view().find((v) => v.id === 'h2')?.state, 'up');
    } finally {
      await c.close();
    }
  });

  it('a dead host is marked down, then gone after the grace: blocks, addresses and endpoints reclaimed', async () => {
    const c = await cluster();
    try {
      const [a, b, dead] = [await c.add('h1'), await c.add('h2'), await c.add('h3')];
      await a.ipam.definePool({ id: 'pool1', cidr: '10.30.0.0/24' });
      const mineA = await a.allocate('pool1', 'ep-a');
      const mineDead = [await dead.allocate('pool1', 'ep-d1'), await dead.allocate('pool1', 'ep-d2')];
      await c.stores[2]!.commit({
        puts: [{ key: 'endpoints/net1/ep-d1', value: JSON.stringify({ host: 'h3', address: mineDead[0]!.address }) }],
      });
      const events: string[] = [];
      for (const ag of [a, b]) {
        ag.on('hostDown', (h) => events.push(`${ag.hostId}:down:${h.id}`));
        ag.on('hostGone', (h) => events.push(`${ag.hostId}:gone:${h.id}`));
      }
      const t0 = Date.now();
      dead.crash();
      const down = await waitUntil('both see h3 down', () => events.includes('h1:down:h3') && events.includes('h2:down:h3'));
      assert.ok(!events.some((e) => e.includes('gone')), 'not gone before the grace');
      assert.equal((await a.host('h3')).state, 'down');
      await waitUntil('both see h3 gone', () => events.includes('h1:gone:h3') && events.includes('h2:gone:h3'));
      const gone = Date.now() - t0;
      console.log(`host death: down after ${down} ms (TTL 2 s), gone after ${gone} ms (grace 3 s)`);
      assert.ok(gone >= 3000, `gone after ${gone} ms, before the grace`);
      await waitUntil('record and endpoints removed', async () => (await c.stores[0]!.get('hosts/h3')) === undefined);
      assert.deepEqual(await c.stores[0]!.list('endpoints/'), []);
      const blocks = await a.ipam.blocks('pool1');
      assert.ok(!blocks.some((b) => b.owner === 'h3'), JSON.stringify(blocks));
      assert.deepEqual(
        (await a.hosts()).map((h) => h.name),
        ['h1', 'h2'],
      );
      // h1's own address survived; h3's are free again and may be handed out, never twice.
      const more = await Promise.all(Array.from({ length: 70 }, (_, i) => (i % 2 ? a : b).allocate('pool1', `after-${i}`)));
      const all = [mineA.address, ...more.map((m) => m.address)];
      assert.equal(new Set(all).size, all.length, 'no duplicate after reclaim');
    } finally {
      await c.close();
    }
  });

  it('concurrent allocation from 3 processes: every address distinct, every one recorded in its block', async () => {
    const prefix = `/weft-test/${randomBytes(4).toString('hex')}/`;
    const store = await EtcdStore.open({ target: parseEtcdUrl(etcd.url), prefix });
    try {
      const setup = new EtcdClusterAgent(store, {
        identity: { id: 'setup', token: 'setup-token-0123456789' },
        name: 'setup',
        address: '198.18.0.1',
      });
      await setup.ipam.definePool({ id: 'big', cidr: '10.40.0.0/22' });
      await setup.ipam.definePool({ id: 'small', cidr: '10.41.0.0/26', blockPrefix: 28 });
      const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cluster-agent-child.js');
      const runAll = async (pool: string, count: number) => {
        const startAt = Date.now() + 1500;
        const outs = await Promise.all(
          ['p1', 'p2', 'p3'].map(
            (h) =>
              new Promise<{
                host: string;
                got: { address: string; borrowed: boolean; handle: string }[];
                exhausted: boolean;
                requests: number;
              }>((resolve, reject) => {
                const env: NodeJS.ProcessEnv = { ...process.env, WEFT_AGENT_CHILD: '1' };
                delete env.NODE_TEST_CONTEXT;
                const p = spawn(process.execPath, [child, 'alloc', etcd.url, prefix, h, String(count), String(startAt), pool], { env });
                let out = '';
                let err = '';
                p.stdout.on('data', (d: Buffer) => (out += d.toString()));
                p.stderr.on('data', (d: Buffer) => (err += d.toString()));
                const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
                p.on('exit', (code) => {
                  clearTimeout(timer);
                  if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
                  else reject(new Error(`child ${h} exited ${code}: ${err}`));
                });
              }),
          ),
        );
        return outs;
      };
      const big = await runAll('big', 200);
      const addrs = big.flatMap((o) => o.got.map((g) => g.address));
      assert.equal(addrs.length, 600);
      assert.equal(new Set(addrs).size, 600, 'no duplicate address across 3 processes');
      const perAlloc = big.map((o) => (o.requests / o.got.length).toFixed(2));
      console.log(`3 processes x 200 allocations: distinct; etcd requests per allocation (incl. start): ${perAlloc.join(', ')}`);
      // Every address is in its block record under the handle that got it.
      const recorded = new Map<string, string>();
      for (const e of await store.list('ipam/big/blocks/')) {
        const rec = JSON.parse(e.value) as BlockRecord;
        const base = rec.cidr.split('/')[0]!.split('.').map(Number);
        for (const [off, a] of Object.entries(rec.allocations))
          recorded.set(`10.40.${base[2]! + Math.floor((base[3]! + Number(off)) / 256)}.${(base[3]! + Number(off)) % 256}`, a.handle);
      }
      for (const o of big) for (const g of o.got) assert.equal(recorded.get(g.address), g.handle, g.address);
      // A small pool (4 blocks of 16) runs out: hosts borrow, and every usable address goes exactly once.
      const small = await runAll('small', 40);
      const sAddrs = small.flatMap((o) => o.got.map((g) => g.address));
      assert.equal(new Set(sAddrs).size, sAddrs.length, 'no duplicate in the exhausted pool');
      assert.equal(sAddrs.length, 62, 'the whole /26 but network and broadcast');
      // Each process stops at its 40 or when the pool runs out; 62 < 2 × 40, so at least two of the
      // three met the exhaustion (one may have got its 40 first when the others started late).
      assert.ok(
        small.every((o) => o.exhausted || o.got.length === 40),
        JSON.stringify(small.map((o) => [o.got.length, o.exhausted])),
      );
      assert.ok(small.filter((o) => o.exhausted).length >= 2, JSON.stringify(small.map((o) => [o.got.length, o.exhausted])));
      const borrowed = small.flatMap((o) => o.got).filter((g) => g.borrowed).length;
      console.log(`exhausted /26 in /28 blocks: ${sAddrs.length} distinct addresses, ${borrowed} borrowed`);
    } finally {
      await store.close();
    }
  });

  it(`etcd down for ${outageMs / 1000} s: ops fail fast, nothing half-done, leases and blocks kept, all reconverge`, async () => {
    const c = await cluster();
    try {
      const agents = [
        await c.add('h1', { graceMs: 60_000 }),
        await c.add('h2', { graceMs: 60_000 }),
        await c.add('h3', { graceMs: 60_000 }),
      ];
      await agents[0]!.ipam.definePool({ id: 'p', cidr: '10.50.0.0/24' });
      const before = await Promise.all(agents.map((a, i) => a.allocate('p', `pre-${i}`)));
      const blocksBefore = (await agents[0]!.ipam.blocks('p')).map((b) => `${b.cidr}:${b.owner}`).sort();
      const leasesBefore = (await agents[0]!.hosts()).map((h) => h.lease);
      const downs: string[] = [];
      for (const a of agents) a.on('hostDown', (h) => downs.push(`${a.hostId}:${h.id}`));
      await etcd.kill();
      const t0 = Date.now();
      await assert.rejects(agents[0]!.allocate('p', 'during-0'), code('WEFT_STORE_UNAVAILABLE'));
      assert.ok(Date.now() - t0 <= 5500, `first failure after ${Date.now() - t0} ms`);
      await waitUntil('every agent notices the outage', () => agents.every((a) => a.storeState() === 'unavailable'), 8000);
      const t1 = Date.now();
      await assert.rejects(agents[1]!.allocate('p', 'during-1'), code('WEFT_STORE_UNAVAILABLE'));
      assert.ok(Date.now() - t1 < 100, 'fails fast once the agent knows');
      await sleep(Math.max(0, outageMs - (Date.now() - t0)));
      await etcd.resume();
      const back = await waitUntil('every agent reconnected', () => agents.every((a) => a.storeState() === 'connected'), 20_000);
      console.log(`etcd outage ${outageMs} ms: all agents reconnected ${back} ms after etcd was ready`);
      assert.deepEqual(downs, [], 'no host was marked down by an outage of the store');
      assert.deepEqual(
        (await agents[0]!.hosts()).map((h) => h.lease),
        leasesBefore,
        'every host kept its lease',
      );
      assert.deepEqual(
        (await agents[0]!.ipam.blocks('p')).map((b) => `${b.cidr}:${b.owner}`).sort(),
        blocksBefore,
        'every host kept its blocks',
      );
      // Nothing half-done: the refused allocations left no trace.
      const handles = (await c.stores[0]!.list('ipam/p/blocks/')).flatMap((e) =>
        Object.values((JSON.parse(e.value) as BlockRecord).allocations).map((a) => a.handle),
      );
      assert.deepEqual(handles.sort(), ['pre-0', 'pre-1', 'pre-2']);
      const afterAllocs = await Promise.all(
        agents.flatMap((a, i) => Array.from({ length: 10 }, (_, j) => a.allocate('p', `post-${i}-${j}`))),
      );
      const all = [...before, ...afterAllocs].map((x) => x.address);
      assert.equal(new Set(all).size, all.length, 'no duplicate after the outage');
    } finally {
      await c.close();
    }
  });

  it('a host away longer than its grace re-claims its block on return, and reports addresses lost meanwhile', async () => {
    const c = await cluster();
    try {
      const a = await c.add('h1');
      const journal = path.join(dir, `partition-${randomBytes(3).toString('hex')}.json`);
      const h2 = await c.add('h2', { ipamJournal: journal });
      await a.ipam.definePool({ id: 'q', cidr: '10.60.0.0/28', blockPrefix: 29 });
      const kept = await h2.allocate('q', 'ep-kept');
      const taken = await h2.allocate('q', 'ep-taken');
      h2.crash();
      await waitUntil('h2 gone and reclaimed', async () => (await c.stores[0]!.get('hosts/h2')) === undefined);
      // Meanwhile h1 fills h2's old block, taking one address h2 still thinks it has.
      const grabbed: string[] = [];
      for (let i = 0; i < 20 && !grabbed.includes(taken.address); i++) grabbed.push((await a.allocate('q', `h1-${i}`)).address);
      assert.ok(grabbed.includes(taken.address));
      const i = grabbed.indexOf(kept.address);
      if (i >= 0) assert.equal(await a.release('q', kept.address, `h1-${i}`), true); // leave that one free
      const lost: string[] = [];
      const back = await EtcdStore.open({ target: parseEtcdUrl(etcd.url), prefix: c.prefix });
      c.stores.push(back);
      const h2b = new EtcdClusterAgent(back, {
        identity: { id: 'h2', token: 'token-h2-0123456789abcdef' },
        name: 'h2',
        address: '198.18.0.3',
        ipamJournal: journal,
      });
      h2b.on('allocationLost', (l: { address: string }[]) => lost.push(...l.map((x) => x.address)));
      await h2b.start();
      c.agents.push(h2b);
      assert.deepEqual(lost, [taken.address]);
      assert.deepEqual(
        h2b.ipam.held().map((x) => x.address),
        [kept.address],
      );
      const rec = (await back.list('ipam/q/blocks/')).map((e) => JSON.parse(e.value) as BlockRecord).find((b) => b.cidr === kept.block)!;
      const off = Number(kept.address.split('.')[3]) - Number(kept.block.split('/')[0]!.split('.')[3]);
      assert.deepEqual(rec.allocations[String(off)], { handle: 'ep-kept', host: 'h2' });
    } finally {
      await c.close();
    }
  });
});
