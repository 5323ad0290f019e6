/**
 * hostsubnet's dataplane per backend, side by side in one run on one 2-host l2 lab
 * (test/netns/hostsubnet-lab.ts: real namespaces, etcd, the real controller per host):
 *   - veth baseline: host to host over the lab's underlay (veth → switch bridge → veth)
 *   - plain veth routing: a namespace behind a veth on each host, hand-made routes via the
 *     underlay addresses (host-gw's path without weft and without its bridge) — host-gw's anchor
 *   - raw VXLAN: a hand-made static VXLAN link between the same two hosts (learning off,
 *     permanent FDB entry), host to host
 *   - hostsubnet vxlan, host-gw, udp: sandbox on h1 to sandbox on h2 through weft
 * Throughput: iperf3 TCP, one stream, SECONDS each. Latency: sockperf UDP ping-pong, 2 s.
 * CPU: user+system seconds of both hosts' engine processes during the udp backend's iperf3
 * run (the userspace encapsulation), per GB carried.
 * Usage: npm run build && node dist/bench/hostsubnet.js [--seconds 3]
 * Not a test: it prints figures. Needs root (namespaces), etcd, iperf3 and sockperf.
 */
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { HsLab, type HsHost } from '../test/netns/hostsubnet-lab.js';
import { killAndWait } from '../src/lab/etcd-process.js';
import { mustRun, run, sleep } from '../src/lab/sim-host.js';
import { loadAverage, numArg } from './args.js';
import { handMadeVethRouting } from './veth-routing.js';

const SECONDS = numArg('seconds', 3);

interface Row {
  path: string;
  gbits: number;
  latencyUs: number;
  cpuSPerGB?: number;
}

const servers: ChildProcess[] = [];
const extraNs: string[] = [];

function serve(nsPath: string, argv: string[]): void {
  servers.push(spawn('nsenter', [`--net=${nsPath}`, ...argv], { stdio: 'ignore' }));
}

/** utime + stime of a process in seconds (from /proc). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100; // clock ticks; USER_HZ is 100 on Linux
}

async function measure(
  lab: HsLab,
  label: string,
  server: { nsPath: string; ip: string },
  clientNs: string,
  cpuOf: HsHost[] = [],
): Promise<Row> {
  serve(server.nsPath, ['iperf3', '-s', '-1', '-B', server.ip, '-p', '5201']);
  serve(server.nsPath, ['sockperf', 'sr', '-i', server.ip, '-p', '11111']);
  await sleep(500);
  const cpu0 = cpuOf.map((h) => cpuSeconds(h.proc!.pid!));
  const ip = await lab.exec(clientNs, ['iperf3', '-c', server.ip, '-p', '5201', '-t', String(SECONDS), '-J'], (SECONDS + 20) * 1000);
  const cpu1 = cpuOf.map((h) => cpuSeconds(h.proc!.pid!));
  if (ip.code !== 0) throw new Error(`iperf3 ${label}: ${ip.stdout.slice(-300)} ${ip.stderr}`);
  const j = JSON.parse(ip.stdout) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
  const sp = await lab.exec(clientNs, ['sockperf', 'pp', '-i', server.ip, '-p', '11111', '-t', '2'], 30_000);
  const m = /avg-latency=([\d.]+)/.exec(sp.stdout) ?? /Summary: Latency is ([\d.]+) usec/.exec(sp.stdout);
  for (const s of servers.splice(0)) if (s.pid && s.exitCode === null) await killAndWait(s.pid);
  const row: Row = { path: label, gbits: j.end.sum_received.bits_per_second / 1e9, latencyUs: m ? Number(m[1]) : NaN };
  if (cpuOf.length > 0) {
    const cpu = cpu1.reduce((a, b, i) => a + b - cpu0[i]!, 0);
    row.cpuSPerGB = cpu / (j.end.sum_received.bytes / 1e9);
  }
  return row;
}

async function main(): Promise<void> {
  const lab = await HsLab.up({ hosts: 2, underlay: 'l2' });
  const rows: Row[] = [];
  try {
    const [h1, h2] = lab.hosts as [HsHost, HsHost];
    const ns1 = `/run/netns/${h1.ns}`;
    const ns2 = `/run/netns/${h2.ns}`;
    rows.push(await measure(lab, 'veth baseline (host → host, underlay)', { nsPath: ns2, ip: h2.address }, ns1));
    // Plain veth routing, hand-made: a namespace behind a veth on each host, a route per host to
    // the other's /24 via its underlay address — host-gw's path without weft (and without a bridge).
    const pods = [`hs-${lab.tag}-p1`, `hs-${lab.tag}-p2`];
    extraNs.push(...pods);
    const undoPlain = await handMadeVethRouting([h1, h2], [pods[0]!, pods[1]!], 'vrt0', '10.98');
    rows.push(
      await measure(
        lab,
        'plain veth routing (ns → ns, hand-made routes)',
        { nsPath: `/run/netns/${pods[1]!}`, ip: '10.98.2.2' },
        `/run/netns/${pods[0]!}`,
      ),
    );
    await undoPlain();
    // A hand-made VXLAN link, Flannel's shape, on another VNI and port than weft's.
    const link = async (ns: string, me: string, mac: string, peerMac: string, peer: string, peerIp: string, ip: string) => {
      await mustRun('ip', [
        '-n',
        ns,
        'link',
        'add',
        'rawvx',
        'address',
        mac,
        'type',
        'vxlan',
        'id',
        '99',
        'local',
        me,
        'dstport',
        '4790',
        'dev',
        'eth0',
        'nolearning',
      ]);
      await mustRun('ip', ['-n', ns, 'link', 'set', 'rawvx', 'mtu', '1450', 'up']);
      await mustRun('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'rawvx']);
      await mustRun('ip', ['-n', ns, 'neigh', 'add', peerIp, 'lladdr', peerMac, 'dev', 'rawvx', 'nud', 'permanent']);
      await mustRun('bridge', ['-n', ns, 'fdb', 'append', peerMac, 'dev', 'rawvx', 'dst', peer, 'self', 'permanent']);
    };
    await link(h1.ns, h1.address, '02:99:00:00:00:01', '02:99:00:00:00:02', h2.address, '10.99.0.2', '10.99.0.1');
    await link(h2.ns, h2.address, '02:99:00:00:00:02', '02:99:00:00:00:01', h1.address, '10.99.0.1', '10.99.0.2');
    rows.push(await measure(lab, 'raw VXLAN link (host → host)', { nsPath: ns2, ip: '10.99.0.2' }, ns1));
    for (const ns of [h1.ns, h2.ns]) await mustRun('ip', ['-n', ns, 'link', 'del', 'rawvx']);

    for (const backend of ['vxlan', 'host-gw', 'udp']) {
      const name = `hs${backend.replace('-', '')}`;
      for (const h of lab.hosts) await lab.call(h.name, 'create', { name, subnet: '10.244.0.0/16', options: { backend } });
      const s1 = await lab.call<{ netnsPath: string; ipv4: string }>('h1', 'sandbox', { name: `a-${name}`, network: name });
      const s2 = await lab.call<{ netnsPath: string; ipv4: string }>('h2', 'sandbox', { name: `b-${name}`, network: name });
      // Routes arrive through the lease watch: wait until the path works.
      for (let i = 0; i < 50; i++) {
        if ((await lab.exec(s1.netnsPath, ['busybox', 'ping', '-c', '1', '-W', '1', s2.ipv4.split('/')[0]!])).code === 0) break;
        await sleep(200);
      }
      rows.push(
        await measure(
          lab,
          `hostsubnet ${backend} (sandbox → sandbox)`,
          { nsPath: s2.netnsPath, ip: s2.ipv4.split('/')[0]! },
          s1.netnsPath,
          backend === 'udp' ? [h1, h2] : [],
        ),
      );
      for (const h of lab.hosts) await lab.call(h.name, 'teardown');
    }
  } finally {
    for (const s of servers) if (s.pid && s.exitCode === null) await killAndWait(s.pid);
    for (const ns of extraNs) await run('ip', ['netns', 'del', ns]);
    await lab.down();
  }
  const routed = rows[1]!.gbits;
  const raw = rows[2]!.gbits;
  console.log(`hostsubnet dataplane, iperf3 ${SECONDS} s one TCP stream, sockperf UDP ping-pong 2 s (2-host l2 lab)`);
  console.log(`load average: ${loadAverage()}`);
  console.log(`reproduce (on a quiet machine): npm run build && node dist/bench/hostsubnet.js --seconds ${SECONDS}`);
  console.log('| path | Gbit/s | vs veth routing | vs raw VXLAN | latency µs | CPU s/GB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.path} | ${r.gbits.toFixed(2)} | ${((r.gbits / routed) * 100).toFixed(0)} % | ${((r.gbits / raw) * 100).toFixed(0)} % | ${r.latencyUs.toFixed(1)} | ${r.cpuSPerGB === undefined ? '' : r.cpuSPerGB.toFixed(2)} |`,
    );
  }
  console.log('goals: host-gw ≥ 95 % of plain veth routing, vxlan ≥ 95 % of the raw VXLAN link');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
