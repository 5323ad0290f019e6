/**
 * The overlay on an l3 underlay through the real CLI: `weft lab up --underlay l3` puts h1 and h3
 * in one segment and h2 in another, joined by routers (VXLAN crosses them as plain UDP). Sandboxes
 * on the three hosts talk TCP, UDP and ICMP and resolve each other's names; a capture on a host's
 * underlay sees no encapsulated ARP or broadcast; then a cross-host flow (a ping every 100 ms
 * from h2 to h1) keeps going, without one lost reply, while h1's weftd is killed and started
 * again and while etcd is stopped for 20 s.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { NETTOOL, run, waitFor } from '../../src/lab/sim-host.js';
import { addrOf, node, overlayCliLab, tcpFrom, type SandboxInfo } from './overlay-cli-lab.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('overlay across routers (lab --underlay l3, 3 hosts, real CLI)', { timeout: 300_000 }, () => {
  const L = overlayCliLab({ prefix: 'o3', hosts: 3, underlay: 'l3' });
  const { ok, inspect } = L;
  const sandboxes: Record<string, SandboxInfo> = {};
  const inNs = (s: SandboxInfo, cmd: string, args: string[], timeoutMs = 10_000) =>
    run('nsenter', [`--net=${s.netnsPath}`, cmd, ...args], { timeoutMs });

  it('the hosts sit in two segments; sandboxes on all three talk TCP, UDP and ICMP and resolve each other by name; nothing broadcast crosses the underlay', async () => {
    const addrs = L.lab.state.hosts.map((h) => h.address);
    assert.notEqual(addrs[0]!.split('.')[2], addrs[1]!.split('.')[2], `h1 and h2 in different segments: ${addrs.join(' ')}`);
    await ok('h1', ['network', 'create', '-d', 'overlay', '--subnet', '10.94.0.0/24', 'ol3']);
    for (const h of ['h2', 'h3']) await L.waitNetwork(h, 'ol3');
    for (const h of ['h1', 'h2', 'h3']) {
      await ok(h, ['run', '-d', '--name', `s-${h}`, '--network', 'ol3', '--', node, NETTOOL, 'tcp-server', '7600']);
      await ok(h, ['run', '-d', '--name', `u-${h}`, '--network', 'ol3', '--', node, NETTOOL, 'udp-server', '7601']);
      sandboxes[h] = await inspect(h, `s-${h}`);
    }
    const pcap = `/tmp/ol3-${L.name}.pcap`;
    const dump = spawn(
      'nsenter',
      [`--net=/run/netns/${L.host('h1').ns}`, 'tcpdump', '--immediate-mode', '-i', 'eth0', '-n', '-U', '-w', pcap, 'udp port 4789'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let dumpErr = '';
    dump.stderr.on('data', (d: Buffer) => (dumpErr += d.toString()));
    try {
      await waitFor('tcpdump listening', () => dumpErr.includes('listening') || undefined, 5000);
      for (const [from, to] of [
        ['h1', 'h2'],
        ['h2', 'h3'],
        ['h3', 'h1'],
      ] as const) {
        const [a, b] = [sandboxes[from]!, sandboxes[to]!];
        const tcp = await waitFor(`tcp ${from} → ${to}`, () => tcpFrom(a.netnsPath, addrOf(b), 7600, 'l3'), 15_000);
        assert.equal(tcp, `${addrOf(a)} l3`);
        const u = await inspect(to, `u-${to}`);
        const udp = await inNs(a, node, [NETTOOL, 'udp-client', addrOf(u), '7601', 'dgram']);
        assert.equal(udp.stdout.trim(), `${addrOf(a)} dgram`, `udp ${from} → ${to}: ${udp.stderr}`);
        const ping = await inNs(a, 'busybox', ['ping', '-c', '2', '-W', '2', addrOf(b)]);
        assert.equal(ping.code, 0, `icmp ${from} → ${to}: ${ping.stdout}`);
        // The embedded DNS names a sandbox on another host (resolv.conf points at it).
        const ns = /^nameserver\s+(\S+)/m.exec(readFileSync(a.resolvPath, 'utf8'))![1]!;
        const look = await inNs(a, 'busybox', ['nslookup', `s-${to}`, ns]);
        assert.match(look.stdout, new RegExp(`Address:\\s+${addrOf(b).replace(/\./g, '\\.')}`), `s-${to} from ${from}: ${look.stdout}`);
      }
    } finally {
      dump.kill('SIGTERM');
      await new Promise((r) => dump.once('exit', r));
    }
    const all = await run('tcpdump', ['-n', '-r', pcap]);
    const bad = await run('tcpdump', ['-n', '-r', pcap, 'udp port 4789 and (udp[16] & 1 = 1 or udp[28:2] = 0x0806)']);
    rmSync(pcap, { force: true });
    assert.ok(all.stdout.split('\n').filter(Boolean).length > 10, 'the capture saw the cross-host traffic');
    assert.equal(bad.stdout.trim(), '', 'no ARP or broadcast frame left h1 encapsulated');
  });

  it('a cross-host flow never stops while weftd on its far end is killed and restarted and while etcd is stopped for 20 s', async () => {
    const [src, dst] = [sandboxes.h2!, sandboxes.h1!];
    // A ping every 100 ms for the whole exercise; its summary counts every lost reply.
    const ping = spawn('nsenter', [`--net=${src.netnsPath}`, 'busybox', 'ping', '-i', '0.1', '-W', '1', addrOf(dst)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    ping.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => ping.once('exit', r));
    try {
      await waitFor('the flow runs', () => (out.match(/bytes from/g)?.length ?? 0) >= 5 || undefined, 5000);
      const step = async (args: string[]) => {
        const r = await L.cli(['lab', ...args, '--lab', L.name]);
        assert.equal(r.code, 0, `weft lab ${args.join(' ')}: ${r.stderr}`);
      };
      await step(['kill', 'h1']);
      await sleep(2000);
      await step(['start', 'h1']);
      await waitFor('h1 weftd answers again', async () => (await L.onHost('h1', ['network', 'ls'])).code === 0 || undefined, 30_000, 200);
      await step(['kill', 'e1']);
      await sleep(20_000);
      await step(['start', 'e1']);
      await sleep(2000);
    } finally {
      ping.kill('SIGINT'); // busybox ping prints its summary on SIGINT
      await exited;
    }
    const m = /(\d+) packets transmitted, (\d+) packets received/.exec(out);
    assert.ok(m, `ping summary: ${out.slice(-300)}`);
    const [sent, got] = [Number(m[1]), Number(m[2])];
    assert.ok(sent >= 200, `the flow ran through the whole exercise (${sent} sent)`);
    assert.equal(got, sent, `${sent - got} of ${sent} replies lost`);
  });
});
