/**
 * Embedded DNS through weftd: sandboxes on a user-defined bridge resolve each other's names
 * and aliases (A, AAAA, PTR) with real DNS packets; a shared alias rotates; an outside name is
 * forwarded to a test DNS server in its own namespace; resolv.conf points at the gateway.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { SimHost, REPO, waitFor } from '../../src/lab/sim-host.js';
import type { SandboxView } from '../../src/controller/inspect.js';

const node = process.execPath;
const DNSTOOL = path.join(REPO, 'dist/src/lab/dns-lab-tool.js');

interface Result {
  rcode?: string;
  answers?: { type: string; data: unknown }[];
  error?: string;
}

describe('embedded DNS through weftd', () => {
  let h: SimHost;
  let upstream: ChildProcess | undefined;

  before(async () => {
    h = await SimHost.create('dnsi', ['--firewall', 'nftables', '--dns-upstream', '198.18.7.2']);
    const up = await h.outsideMachine('up', 'toup', '198.18.7.1/24', '198.18.7.2/24');
    upstream = spawn(
      'nsenter',
      [
        `--net=/run/netns/${up}`,
        node,
        DNSTOOL,
        'upstream',
        JSON.stringify({ address: '198.18.7.2', port: 53, records: { 'outside.example': { A: ['198.18.9.9'] } } }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    h.track(upstream.pid);
    await new Promise<void>((resolve, reject) => {
      upstream!.stdout!.once('data', () => resolve());
      upstream!.once('exit', (c) => reject(new Error(`upstream exited ${c}`)));
    });
    await h.start();
  });
  after(async () => {
    upstream?.kill('SIGKILL');
    await h?.cleanup();
  });

  const runDetached = (args: string[]): Promise<SandboxView> => h.runDetached(args);
  const query = async (from: SandboxView, server: string, queries: { name: string; type: string }[], tcp = false): Promise<Result[]> => {
    const r = await SimHost.inNetns(from.netnsPath, node, [
      DNSTOOL,
      'query',
      JSON.stringify({ server, port: 53, queries, tcp, timeoutMs: 3000 }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Result[];
  };

  it('resolves names, aliases, AAAA and PTR; rotates a shared alias; forwards outside names', async () => {
    await h.cliOk(['network', 'create', '--ipv6', '--subnet', '10.99.0.0/24', '--subnet', 'fd00:99::/64', 'dnsnet']);
    const a = await runDetached(['--name', 'alpha', '--network', 'dnsnet,alias=svc', '--', 'sleep', '600']);
    const b = await runDetached(['--name', 'beta', '--network', 'dnsnet,alias=svc', '--', 'sleep', '600']);
    const c = await runDetached(['--name', 'client', '--network', 'dnsnet', '--', 'sleep', '600']);
    const gw = '10.99.0.1';
    const ipA = a.endpoints[0]!.ipv4!.split('/')[0]!;
    const ipB = b.endpoints[0]!.ipv4!.split('/')[0]!;
    const ip6A = a.endpoints[0]!.ipv6!.split('/')[0]!;

    const resolv = await h.cli(['run', '--network', 'dnsnet', '--', 'cat', '/etc/resolv.conf']);
    assert.match(resolv.stdout, new RegExp(`nameserver ${gw.replace(/\./g, '\\.')}`), `sandbox resolv.conf: ${resolv.stdout}`);

    const [r1, r2, r3, r4] = await waitFor('answers', async () => {
      const r = await query(c, gw, [
        { name: 'alpha', type: 'A' },
        { name: 'alpha', type: 'AAAA' },
        { name: 'BETA', type: 'A' },
        { name: ipA.split('.').reverse().join('.') + '.in-addr.arpa', type: 'PTR' },
      ]);
      return r[0]!.answers?.length ? r : undefined;
    });
    assert.deepEqual(
      r1!.answers!.map((x) => x.data),
      [ipA],
    );
    assert.deepEqual(
      r2!.answers!.map((x) => x.data),
      [ip6A],
    );
    assert.deepEqual(
      r3!.answers!.map((x) => x.data),
      [ipB],
    );
    assert.match(String(r4!.answers![0]!.data), /^alpha/);

    const firsts = new Set<unknown>();
    for (let i = 0; i < 4; i++) {
      const [r] = await query(c, gw, [{ name: 'svc', type: 'A' }], i % 2 === 1);
      assert.deepEqual(new Set(r!.answers!.map((x) => x.data)), new Set([ipA, ipB]), 'both sandboxes behind the alias');
      firsts.add(r!.answers![0]!.data);
    }
    assert.equal(firsts.size, 2, 'round-robin: the first answer changes');

    const [out] = await query(c, gw, [{ name: 'outside.example', type: 'A' }]);
    assert.deepEqual(
      out!.answers!.map((x) => x.data),
      ['198.18.9.9'],
      'forwarded to the upstream namespace',
    );
  });

  it('forgets a sandbox when it goes away', async () => {
    await h.cliOk(['sandbox', 'rm', '-f', '-t', '1', 'beta']);
    const c = await h.client.request<SandboxView>('GET', '/v1/sandboxes/client');
    // The gateway's MAC must not change when a port leaves (it did, before bridges got their
    // own MAC): the client's ARP entry would point at the departed sandbox. Ask a few times.
    const answers = await waitFor(
      'answer after removal',
      async () => {
        const [r] = await query(c, '10.99.0.1', [{ name: 'svc', type: 'A' }]);
        return r?.answers;
      },
      10_000,
    );
    const alphaIp = (await h.sandbox('alpha')).endpoints[0]!.ipv4!.split('/')[0];
    assert.deepEqual(
      answers.map((x) => x.data),
      [alphaIp],
      'only the remaining sandbox answers for the shared alias',
    );
  });
});
