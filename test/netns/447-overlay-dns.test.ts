/**
 * Names across hosts on an overlay network, through the real CLI on a two-host lab (etcd,
 * weftd on each host): a sandbox on h1 asks the nameserver its resolv.conf names (the
 * embedded DNS, listening on the gateway inside the network's namespace) with real DNS
 * packets, and gets the address of a sandbox on h2 for its name and its alias; the
 * answer is served from memory (etcd stopped, it still answers); once the sandbox on h2 is
 * removed, h1 no longer answers the name, within a bounded time. Two overlay networks with the
 * same subnet keep their names apart (each namespace has its own listener).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { QueryResult } from '../../src/lab/dns-lab-tool.js';
import { NETTOOL, REPO, run, waitFor } from '../../src/lab/sim-host.js';
import { addrOf as addr, node, overlayCliLab, type SandboxInfo } from './overlay-cli-lab.js';

const DNS_TOOL = path.join(REPO, 'dist/src/lab/dns-lab-tool.js');

describe('overlay: names of sandboxes on other hosts in the embedded DNS (lab, 2 hosts, real CLI)', { timeout: 300_000 }, () => {
  const L = overlayCliLab({ prefix: 'o2' });
  const { onHost, ok, inspect } = L;
  /** The embedded DNS the sandbox's resolv.conf names (the overlay's gateway). */
  const nameserver = (s: SandboxInfo): string => {
    const m = /^nameserver\s+(\S+)/m.exec(readFileSync(s.resolvPath, 'utf8'));
    assert.ok(m, `a nameserver in ${s.resolvPath}`);
    return m[1]!;
  };
  /** Real DNS queries over UDP from inside the sandbox's namespace. */
  const ask = async (s: SandboxInfo, names: string[], timeoutMs = 1500): Promise<QueryResult[]> => {
    const cfg = { server: nameserver(s), port: 53, timeoutMs, queries: names.map((n) => ({ name: n, type: 'A' })) };
    const r = await run('nsenter', [`--net=${s.netnsPath}`, node, DNS_TOOL, 'query', JSON.stringify(cfg)], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as QueryResult[];
  };
  const aOf = (q: QueryResult): string[] => (q.answers ?? []).filter((a) => a.type === 'A').map((a) => String(a.data));
  /**
   * Not a name of the network: the embedded DNS does not answer it itself (no address, not
   * authoritative) but forwards it upstream as Docker's does, where the lab has no resolver.
   */
  const unknown = (q: QueryResult): boolean => aOf(q).length === 0 && q.aa !== true;

  it('h1 resolves the name and alias of a sandbox on h2 (and h2 those of h1), from memory; gone once removed', async () => {
    assert.equal(await L.upHosts(), 2, 'both hosts are up in the cluster store');
    await ok('h1', ['network', 'create', '-d', 'overlay', '--subnet', '10.93.0.0/24', 'o2-names']);
    await L.waitNetwork('h2', 'o2-names');
    await ok('h1', ['run', '-d', '--name', 'alpha', '--network', 'o2-names,alias=web', '--', node, NETTOOL, 'tcp-server', '7700']);
    await ok('h2', [
      'run',
      '-d',
      '--name',
      'bravo',
      '--network',
      'o2-names,alias=db,alias=store',
      '--',
      node,
      NETTOOL,
      'tcp-server',
      '7700',
    ]);
    const [a, b] = [await inspect('h1', 'alpha'), await inspect('h2', 'bravo')];
    assert.equal(nameserver(a), '10.93.0.1', "alpha's resolver is the overlay's gateway");

    const t0 = Date.now();
    const first = await waitFor(
      'bravo (on h2) resolvable from alpha (on h1)',
      async () => {
        const [q] = await ask(a, ['bravo']);
        return q && aOf(q).length > 0 ? q : undefined;
      },
      10_000,
      100,
    );
    console.log(`overlay DNS: a remote name resolvable ${Date.now() - t0} ms after both runs returned`);
    assert.equal(first.aa, true, 'authoritative: answered from the network table, not forwarded');
    const fromA = await ask(a, ['bravo', 'db', 'store', 'BRAVO.', 'alpha', 'web']);
    assert.deepEqual(fromA.map(aOf), [[addr(b)], [addr(b)], [addr(b)], [addr(b)], [addr(a)], [addr(a)]]);
    const fromB = await ask(b, ['alpha', 'web', 'bravo']);
    assert.deepEqual(fromB.map(aOf), [[addr(a)], [addr(a)], [addr(b)]]);
    // The answer is usable: TCP to the resolved address crosses the overlay.
    const reply = await run('nsenter', [`--net=${a.netnsPath}`, node, NETTOOL, 'tcp-client', aOf(fromA[1]!)[0]!, '7700', 'hi']);
    assert.equal(reply.code, 0, reply.stderr);
    assert.equal(reply.stdout.trim(), `${addr(a)} hi`);

    // No store read per query: with etcd down, h1 still answers bravo from what the watch delivered.
    const etcd = L.lab.state.etcd[0]!.name;
    await L.lab.kill(etcd);
    try {
      const [q] = await ask(a, ['bravo']);
      assert.deepEqual(aOf(q!), [addr(b)], 'answered while the cluster store is down');
    } finally {
      await L.lab.start(etcd);
    }

    await waitFor(
      'h2 takes commands again with etcd back',
      async () => (await onHost('h2', ['sandbox', 'rm', '-f', 'bravo'])).code === 0,
      30_000,
      500,
    );
    const t1 = Date.now();
    await waitFor(
      'bravo and its aliases gone from h1',
      // A short timeout: a name no longer ours is forwarded, and the lab's upstream never answers.
      async () => (await ask(a, ['bravo', 'db', 'store'], 300)).every(unknown),
      10_000,
      100,
    );
    console.log(`overlay DNS: a removed remote name is no longer answered ${Date.now() - t1} ms after rm returned`);
    assert.deepEqual((await ask(a, ['alpha'])).map(aOf), [[addr(a)]], 'local names stay');
    await ok('h1', ['sandbox', 'rm', '-f', 'alpha']);
    await ok('h1', ['network', 'rm', 'o2-names']);
  });

  it('two overlay networks with the same subnet: each answers only its own names', async () => {
    await ok('h1', ['network', 'create', '-d', 'overlay', '--subnet', '10.94.0.0/24', 'o2-t1']);
    await ok('h1', ['network', 'create', '-d', 'overlay', '--subnet', '10.94.0.0/24', 'o2-t2']);
    for (const n of ['o2-t1', 'o2-t2']) await L.waitNetwork('h2', n);
    await ok('h1', ['run', '-d', '--name', 'one-a', '--network', 'o2-t1', '--', node, NETTOOL, 'tcp-server', '7701']);
    await ok('h2', ['run', '-d', '--name', 'one-b', '--network', 'o2-t1', '--', node, NETTOOL, 'tcp-server', '7701']);
    await ok('h1', ['run', '-d', '--name', 'two-a', '--network', 'o2-t2', '--', node, NETTOOL, 'tcp-server', '7701']);
    await ok('h2', ['run', '-d', '--name', 'two-b', '--network', 'o2-t2', '--', node, NETTOOL, 'tcp-server', '7701']);
    const oneA = await inspect('h1', 'one-a');
    const twoA = await inspect('h1', 'two-a');
    assert.equal(nameserver(oneA), nameserver(twoA), 'both tenants use the same gateway address');
    const oneB = await inspect('h2', 'one-b');
    await waitFor('one-b from one-a', async () => aOf((await ask(oneA, ['one-b']))[0]!).length > 0, 10_000, 100);
    await waitFor('two-b from two-a', async () => aOf((await ask(twoA, ['two-b']))[0]!).length > 0, 10_000, 100);
    const t1 = await ask(oneA, ['one-b', 'two-b', 'two-a']);
    assert.deepEqual(t1.map(aOf)[0], [addr(oneB)]);
    assert.deepEqual(t1.slice(1).map(unknown), [true, true], "tenant 1 does not see tenant 2's names");
    const t2 = await ask(twoA, ['one-b', 'one-a']);
    assert.deepEqual(t2.map(unknown), [true, true], "tenant 2 does not see tenant 1's names");
    for (const [h, s] of [
      ['h1', 'one-a'],
      ['h2', 'one-b'],
      ['h1', 'two-a'],
      ['h2', 'two-b'],
    ] as const)
      await ok(h, ['sandbox', 'rm', '-f', s]);
    // The last leave removed each network's namespace, and with it the listener: a new sandbox
    // re-makes both, and names work again in the new namespace.
    await ok('h1', ['run', '-d', '--name', 'one-c', '--network', 'o2-t1', '--', node, NETTOOL, 'tcp-server', '7701']);
    const oneC = await inspect('h1', 'one-c');
    const [self] = await ask(oneC, ['one-c']);
    assert.deepEqual(aOf(self!), [addr(oneC)], 'the re-made namespace has a listener');
    await ok('h1', ['sandbox', 'rm', '-f', 'one-c']);
    for (const n of ['o2-t1', 'o2-t2']) await ok('h1', ['network', 'rm', n]);
  });
});
