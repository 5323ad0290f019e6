/**
 * The embedded DNS stays up under abuse (issue 9, defect 5), through a real weftd in a fake
 * host: a flood of 12-byte packets claiming 65535 records per section — from outside the
 * network (refused clients) and from a sandbox on it — does not delay legitimate queries; a
 * --dns-upstream naming weft's own gateway does not loop; one sandbox holding hundreds of TCP
 * connections does not lock the others out of TCP DNS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, SimHost, mustRun } from '../../src/lab/sim-host.js';
import type { SandboxView } from '../../src/controller/inspect.js';

const node = process.execPath;
const DNS_TOOL = path.join(REPO, 'dist/src/lab/dns-lab-tool.js');
const JUNK = path.join(REPO, 'dist/src/lab/dns-junk.js');

interface Load {
  sent: number;
  answered: number;
  timeouts: number;
  p50Us: number;
  p99Us: number;
}

/** Closed-loop legitimate queries from a namespace: one outstanding at a time. */
async function legit(nsPath: string, server: string, name: string, durationMs: number): Promise<Load> {
  const r = await SimHost.inNetns(
    nsPath,
    node,
    [DNS_TOOL, 'load', JSON.stringify({ server, port: 53, names: [name], type: 'A', inflight: 1, durationMs, warmupMs: 200 })],
    durationMs + 30_000,
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Load;
}

/** CPU seconds a process has used (utime + stime). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

describe('embedded DNS under abuse', () => {
  let h: SimHost;
  let asker: SandboxView;
  let outsider: string;

  before(async () => {
    h = await SimHost.create('dnsabuse');
    await h.start();
    await h.cliOk(['network', 'create', '--subnet', '10.168.0.0/24', 'dn']);
    asker = await h.runDetached(['--name', 'asker', '--network', 'dn', '--', 'sleep', '600']);
    // Another machine, outside every weft network, that can reach the gateway address.
    outsider = await h.outsideMachine('out', 'vout', '198.18.168.1/24', '198.18.168.2/24');
    await mustRun('ip', ['-n', outsider, 'route', 'add', '10.168.0.0/24', 'via', '198.18.168.1']);
  });
  after(async () => {
    await h?.cleanup();
  });

  const flood = (nsPath: string, kind: string, pps: number, durationMs: number) =>
    SimHost.inNetns(nsPath, node, [JUNK, JSON.stringify({ server: '10.168.0.1', port: 53, pps, durationMs, kind })], durationMs + 30_000);

  it('a junk flood from outside the network does not delay legitimate queries', async () => {
    const junk = flood(`/run/netns/${outsider}`, 'counts', 1000, 5000);
    await new Promise((r) => setTimeout(r, 500));
    const during = await legit(asker.netnsPath, '10.168.0.1', 'asker', 3000);
    const sent = JSON.parse((await junk).stdout) as { sent: number };
    console.log(`outside flood: ${sent.sent} junk packets; legitimate: ${JSON.stringify(during)}`);
    assert.ok(sent.sent > 3000, 'the flood ran');
    assert.equal(during.timeouts, 0, 'no legitimate query was lost');
    assert.ok(during.p99Us < 200_000, `p99 stays low (${during.p99Us} µs)`);
    const info = await h.client.request<{ pid: number }>('GET', '/v1/info');
    assert.ok(info.pid > 0, 'the API answers');
  });

  it('the same flood from a sandbox on the network does not delay its neighbours', async () => {
    const noisy = await h.runDetached(['--name', 'noisy', '--network', 'dn', '--', 'sleep', '600']);
    const junk = flood(noisy.netnsPath, 'counts', 1000, 5000);
    await new Promise((r) => setTimeout(r, 500));
    const during = await legit(asker.netnsPath, '10.168.0.1', 'asker', 3000);
    await junk;
    console.log(`inside flood; legitimate: ${JSON.stringify(during)}`);
    assert.equal(during.timeouts, 0);
    assert.ok(during.p99Us < 200_000, `p99 stays low (${during.p99Us} µs)`);
  });

  it('one sandbox holding hundreds of TCP connections does not lock the others out', async () => {
    const hog = await h.sandbox('noisy');
    const hold = SimHost.inNetns(
      hog.netnsPath,
      node,
      [JUNK, JSON.stringify({ server: '10.168.0.1', port: 53, durationMs: 4000, kind: 'tcp-hold', connections: 300 })],
      40_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
    const q = await SimHost.inNetns(asker.netnsPath, node, [
      DNS_TOOL,
      'query',
      JSON.stringify({ server: '10.168.0.1', port: 53, tcp: true, queries: [{ name: 'asker', type: 'A' }], timeoutMs: 3000 }),
    ]);
    const held = JSON.parse((await hold).stdout) as { held: number };
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, new RegExp(asker.endpoints[0]!.ipv4!.split('/')[0]!.replace(/\./g, '\\.')), `TCP answer: ${q.stdout}`);
    assert.ok(held.held <= 32, `one source holds a few connections, not ${held.held}`);
  });

  it('a --dns-upstream naming a weft gateway does not loop', async () => {
    const h2 = await SimHost.create('dnsloop', ['--firewall', 'none', '--dns-upstream', '10.168.9.1']);
    try {
      await h2.start();
      await h2.cliOk(['network', 'create', '--subnet', '10.168.9.0/24', 'lp']);
      const sb = await h2.runDetached(['--name', 'looper', '--network', 'lp', '--', 'sleep', '600']);
      const pid = (await h2.client.request<{ pid: number }>('GET', '/v1/info')).pid;
      const cpu0 = cpuSeconds(pid);
      const t0 = Date.now();
      const r = await SimHost.inNetns(sb.netnsPath, node, [
        DNS_TOOL,
        'query',
        JSON.stringify({
          server: '10.168.9.1',
          port: 53,
          queries: Array.from({ length: 50 }, (_, i) => ({ name: `host${i}.example`, type: 'A' })),
          timeoutMs: 3000,
        }),
      ]);
      const ms = Date.now() - t0;
      const cpu = cpuSeconds(pid) - cpu0;
      console.log(`loop: 50 queries in ${ms} ms, weftd CPU ${cpu.toFixed(2)} s; ${r.stdout.slice(0, 200)}`);
      const answers = JSON.parse(r.stdout) as { rcode?: string; ms: number; error?: string }[];
      assert.ok(
        answers.every((a) => a.rcode === 'SERVFAIL' && a.ms < 500),
        `each query fails at once (nothing to forward to) instead of circling: ${answers.map((a) => Math.round(a.ms)).join(',')} ms`,
      );
      assert.ok(cpu < 0.5, `weftd did not spin (${cpu.toFixed(2)} s CPU)`);
    } finally {
      await h2.cleanup();
    }
  });
});
