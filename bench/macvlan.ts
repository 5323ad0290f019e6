/**
 * Throughput between sandboxes on two simulated hosts across one LAN (the LAN lab: a switch,
 * two hosts running weftd), iperf3 TCP, three ways side by side in one run, interleaved:
 *   macvlan    weft macvlan network on each host's NIC: sandbox → macvlan → NIC → LAN → NIC → macvlan → sandbox
 *   veth+br    the classic L2 alternative, built by hand: each host's second NIC enslaved to a Linux
 *              bridge, the sandbox on a veth into it (no NAT, no routing: only the bridge differs)
 *   bridge+nat weft bridge networks as Docker does it: sandbox → veth → bridge → host routing + SNAT
 *              → LAN → host DNAT of a published port → bridge → veth → sandbox
 *   node dist/bench/macvlan.js [--runs 5] [--seconds 3]
 */
import { spawn } from 'node:child_process';
import { LanLab } from '../src/lab/lan-lab.js';
import { SimHost, mustRun, run, sleep, waitFor } from '../src/lab/sim-host.js';
import { printTable } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = opt('--runs', 5);
const SECONDS = opt('--seconds', 3);

interface Path {
  name: string;
  /** Namespace path of the client, and the address:port it connects to. */
  client: string;
  target: string;
  port: number;
}

/** One iperf3 run: received Gbit/s. */
async function iperf(p: Path): Promise<number> {
  const r = await run('nsenter', [`--net=${p.client}`, 'iperf3', '-c', p.target, '-p', String(p.port), '-t', String(SECONDS), '-J'], {
    timeoutMs: (SECONDS + 20) * 1000,
  });
  if (r.code !== 0) throw new Error(`iperf3 ${p.name} failed: ${r.stdout.slice(0, 500)} ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e9;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** A plain namespace on a veth into bridge `br` of `host` (the hand-built L2 path). */
async function vethSandbox(host: SimHost, tag: string, cidr: string): Promise<string> {
  const ns = await host.extraNetns(tag);
  await mustRun('ip', ['-n', host.ns, 'link', 'add', `v${tag}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await mustRun('ip', ['-n', host.ns, 'link', 'set', `v${tag}`, 'master', 'lbr0', 'up']);
  await mustRun('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', 'eth0']);
  await mustRun('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  return `/run/netns/${ns}`;
}

async function main(): Promise<void> {
  const lab = await LanLab.create('mvbench', { hosts: 2, routerCidrs: ['198.18.60.1/24'], daemonArgs: ['--firewall', 'nftables'] });
  const [A, B] = lab.hosts as [SimHost, SimHost];
  try {
    await lab.plug(A, 'eth1', '198.18.60.11/24');
    await lab.plug(B, 'eth1', '198.18.60.12/24');
    const paths: Path[] = [];

    // macvlan: one weft network per host on eth1, disjoint ranges of the LAN's subnet.
    for (const [h, range] of [
      [A, '198.18.60.64/27'],
      [B, '198.18.60.96/27'],
    ] as const)
      await h.cliOk([
        'network',
        'create',
        '-d',
        'macvlan',
        '--subnet',
        '198.18.60.0/24',
        '--gateway',
        '198.18.60.1',
        '--ip-range',
        range,
        '-o',
        'parent=eth1',
        'mv',
      ]);
    const mvSrv = await B.runDetached(['--name', 'mvsrv', '--network', 'mv', '--', 'iperf3', '-s', '-p', '5201']);
    const mvCli = await A.runDetached(['--name', 'mvcli', '--network', 'mv', '--', 'sleep', '3600']);
    paths.push({ name: 'macvlan', client: mvCli.netnsPath, target: mvSrv.endpoints[0]!.ipv4!.split('/')[0]!, port: 5201 });

    // veth+bridge, L2: eth2 of each host enslaved to lbr0.
    for (const [h, tag, cidr] of [
      [A, 'la', '198.18.61.11/24'],
      [B, 'lb', '198.18.61.12/24'],
    ] as const) {
      await lab.plug(h, 'eth2');
      await mustRun('ip', ['-n', h.ns, 'link', 'add', 'lbr0', 'type', 'bridge']);
      await mustRun('ip', ['-n', h.ns, 'link', 'set', 'lbr0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
      await mustRun('ip', ['-n', h.ns, 'link', 'set', 'eth2', 'master', 'lbr0']);
      await mustRun('ip', ['-n', h.ns, 'link', 'set', 'lbr0', 'up']);
      const ns = await vethSandbox(h, tag, cidr);
      if (h === B) {
        const srv = spawn('nsenter', [`--net=${ns}`, 'iperf3', '-s', '-p', '5202'], { stdio: 'ignore' });
        B.track(srv.pid);
      } else paths.push({ name: 'veth+br', client: ns, target: '198.18.61.12', port: 5202 });
    }

    // weft bridge networks with NAT; the server's port published on B's LAN address.
    for (const h of [A, B]) await h.cliOk(['network', 'create', '--subnet', h === A ? '10.60.1.0/24' : '10.60.2.0/24', 'br']);
    await B.runDetached(['--name', 'brsrv', '--network', 'br', '-p', '198.18.60.12:5203:5203', '--', 'iperf3', '-s', '-p', '5203']);
    const brCli = await A.runDetached(['--name', 'brcli', '--network', 'br', '--', 'sleep', '3600']);
    paths.push({ name: 'bridge+nat', client: brCli.netnsPath, target: '198.18.60.12', port: 5203 });

    const order = ['macvlan', 'veth+br', 'bridge+nat'];
    const ps = order.map((n) => paths.find((p) => p.name === n)!);
    // Also the warm-up: one untimed run each (waitFor retries while a server is still starting).
    for (const p of ps) await waitFor(`${p.name} ready`, async () => (await iperf(p)) > 0, 30_000, 500);
    const samples = new Map<string, number[]>(order.map((n) => [n, []]));
    for (let r = 0; r < RUNS; r++) {
      for (const p of ps) {
        samples.get(p.name)!.push(await iperf(p));
        await sleep(200);
      }
    }
    const mv = median(samples.get('macvlan')!);
    process.stdout.write(`\niperf3 TCP, ${SECONDS} s per run, ${RUNS} runs each, interleaved (Gbit/s)\n`);
    printTable(
      ['path', 'median', 'min', 'max', 'runs', 'macvlan ÷ this'],
      order.map((n) => {
        const s = samples.get(n)!;
        return [n, median(s), Math.min(...s), Math.max(...s), s.map((x) => x.toFixed(1)).join(' '), mv / median(s)];
      }),
    );
  } finally {
    await lab.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
