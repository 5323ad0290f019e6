/**
 * Docker swarm's overlay side by side with weft's, in one run on one lab (`weft lab up`: N fake
 * hosts on a 198.18.0.0/24 underlay bridge, etcd, a weftd per host). On the same host
 * namespaces a dockerd per host (its own data-root, exec-root, socket, pidfile and containerd,
 * iptables on — they touch only that namespace's tables) forms a swarm (init on h1's underlay
 * address, the others join), with an attachable overlay network. Then, interleaved so that the
 * machine's drift hits both alike:
 *   - throughput: iperf3, one TCP stream, container/sandbox on the last host → one on h1
 *     (entered with nsenter --net, so both sides run the same iperf3 binary), median of --rounds;
 *     the underlay (host to host) alongside as the ceiling;
 *   - convergence: `docker run` / `weft run` of a TCP server on h1 until the first successful
 *     TCP connect from a client already waiting on the last host, p50/p99 of --samples.
 * If the swarm cannot be formed or its overlay carries no traffic here, the script says at
 * which step, with the exact command and Docker's error, what the kernel lacks (IPVS, ESP) and
 * the daemons' complaints, and exits 1: re-run it on another kernel to check again.
 * The root namespace's firewall is compared before and after (it must not change).
 * Usage: npm run build && node dist/bench/overlay-swarm.js [--hosts 3] [--seconds 3] [--rounds 3] [--samples 20]
 * Not a test: it prints figures and the load average. Needs root, dockerd, iperf3, etcd, busybox-static.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ClusterLab } from '../src/lab/cluster-lab.js';
import { kernelFacts, SwarmLab, SwarmStepError } from '../src/lab/swarm-lab.js';
import { DOCKER } from '../src/lab/docker-lab.js';
import { NETTOOL, run, waitFor } from '../src/lab/sim-host.js';
import { OVERLAY_OPTIONS } from '../src/drivers/overlay/overlay-options.js';
import {
  arg,
  armCommand,
  convergenceSample,
  iperf3Gbit,
  type ConvergenceSample,
  load,
  weftConvergence,
  weftOk,
  weftSandbox,
} from './overlay-common.js';
import { printTable, summarize } from './stats.js';

const hosts = arg('--hosts', 3);
const seconds = arg('--seconds', 3);
const rounds = arg('--rounds', 3);
const samples = arg('--samples', 20);
const PORT = 7700;

/** The root namespace's firewall as text, counters removed (read only: *-save and nft list). */
async function rootFirewall(): Promise<string> {
  const parts: string[] = [];
  for (const [cmd, args] of [
    ['iptables-save', []],
    ['ip6tables-save', []],
    ['iptables-legacy-save', []],
    ['ip6tables-legacy-save', []],
    ['nft', ['list', 'ruleset']],
  ] as const) {
    const r = await run(cmd, [...args]);
    parts.push(`## ${cmd} (${r.code})\n${r.stdout}${r.stderr}`);
  }
  return parts
    .join('\n')
    .split('\n')
    .filter((l) => !l.startsWith('#') || l.startsWith('## '))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '').replace(/counter packets \d+ bytes \d+/g, 'counter'))
    .join('\n');
}

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<number> {
  console.log(`load average at start: ${load()}`);
  const fwBefore = await rootFirewall();
  const name = `sw${randomBytes(2).toString('hex')}`;
  process.env.WEFT_TRACE_PHASES = '1'; // the lab's weftds log phase marks (weftConvergence waits on them)
  const lab = await ClusterLab.up({ hosts, underlay: 'l2', name });
  const hs = lab.state.hosts;
  const A = hs[0]!;
  const B = hs[hs.length - 1]!;
  const swarm = new SwarmLab(hs.map((h) => ({ name: h.name, ns: h.ns, address: h.address, dir: path.join(lab.state.dir, h.name) })));
  const facts = await kernelFacts(`/run/netns/${A.ns}`);
  let code = 0;
  try {
    console.log(`lab ${name}: ${hs.map((h) => `${h.name} ${h.address}`).join(', ')}; IPVS ${facts.ipvs}; ESP ${facts.esp}`);
    // --- Docker swarm ---
    await swarm.start();
    await swarm.form();
    await swarm.docker(A.name, 'overlay network create', [
      'network',
      'create',
      '-d',
      'overlay',
      '--attachable',
      '--subnet',
      '10.96.0.0/24',
      'swov',
    ]);
    let image = '';
    for (const h of [A, B]) {
      try {
        image = await swarm.node(h.name).importBusybox();
      } catch (err) {
        throw new SwarmStepError(`image on ${h.name}`, 'docker import (busybox-static root)', (err as Error).message);
      }
    }
    const dSrv = await swarm.run('srv', A.name, 'swov', image, ['sleep', '1000000'], '10.96.0.10');
    const dCli = await swarm.run('cli', B.name, 'swov', image, ['sleep', '1000000'], '10.96.0.11');
    await swarm.docker(B.name, `cross-host ping ${B.name} → ${A.name} on the swarm overlay`, [
      'exec',
      'cli',
      'ping',
      '-c',
      '3',
      '-W',
      '2',
      dSrv.ip,
    ]);
    console.log(`swarm formed (${hs.length} nodes), overlay swov carries ICMP ${B.name} → ${A.name} (${dCli.ip} → ${dSrv.ip})`);

    // --- weft overlay on the same hosts (a VNI apart from Docker's, which start at 4096 too) ---
    await weftOk(lab, A.name, [
      'network',
      'create',
      '-d',
      'overlay',
      '--subnet',
      '10.93.0.0/16',
      '-o',
      `${OVERLAY_OPTIONS.vni}=777`,
      'wov',
    ]);
    const node = process.execPath;
    const wSrv = await weftSandbox(lab, A.name, 'wsrv', 'wov', [node, NETTOOL, 'tcp-server', '9']);
    const wCli = await weftSandbox(lab, B.name, 'wcli', 'wov', [node, NETTOOL, 'tcp-server', '9']);

    // --- throughput, interleaved ---
    const tput = { underlay: [] as number[], docker: [] as number[], weft: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      tput.underlay.push(await iperf3Gbit(`/run/netns/${A.ns}`, `/run/netns/${B.ns}`, A.address, seconds));
      tput.docker.push(await iperf3Gbit(dSrv.netnsPath, dCli.netnsPath, dSrv.ip, seconds));
      tput.weft.push(await iperf3Gbit(wSrv.netnsPath, wCli.netnsPath, wSrv.ip, seconds));
    }
    const [u, d, w] = [med(tput.underlay), med(tput.docker), med(tput.weft)];
    console.log(`\nthroughput: iperf3, 1 TCP stream, ${seconds} s, median of ${rounds}, ${B.name} → ${A.name} (load now ${load()})`);
    printTable(
      ['path', 'Gbit/s', 'all rounds', 'vs underlay', 'vs swarm'],
      [
        ['underlay (host → host)', u, tput.underlay.map((x) => x.toFixed(2)).join(' '), '100 %', ''],
        ['Docker swarm overlay', d, tput.docker.map((x) => x.toFixed(2)).join(' '), `${((d / u) * 100).toFixed(0)} %`, '100 %'],
        [
          'weft overlay',
          w,
          tput.weft.map((x) => x.toFixed(2)).join(' '),
          `${((w / u) * 100).toFixed(0)} %`,
          `${((w / d) * 100).toFixed(0)} %`,
        ],
      ],
    );

    // --- convergence, interleaved ---
    const conv = await weftConvergence(lab, A.name, B.name, 'wov', PORT);
    const dk = swarm.node(A.name);
    const got = { docker: [] as ConvergenceSample[], weft: [] as ConvergenceSample[] };
    for (let i = 0; i < samples; i++) {
      // An address of its own per sample, so no neighbour entry of an earlier sample helps.
      const ip = `10.96.0.${100 + i}`;
      const run = ['run', '-d', '--name', `c${i}`, '--network', 'swov', '--ip', ip, image, 'httpd', '-f', '-p', String(PORT)];
      got.docker.push(
        await convergenceSample(dCli.netnsPath, ip, PORT, armCommand(lab, A.name, [DOCKER, '-H', `unix://${dk.socket}`, ...run])),
      );
      await swarm.docker(A.name, 'docker rm', ['rm', '-f', `c${i}`]);
      got.weft.push(await conv.sample(`s${i}`));
    }
    console.log(
      `\nconvergence: run on ${A.name} → first TCP connect from ${B.name}, ${samples} samples each, interleaved (load now ${load()})`,
    );
    const row = (label: string, xs: ConvergenceSample[]): (string | number)[] => {
      const c = summarize(xs.map((x) => x.connectMs));
      const r = summarize(xs.map((x) => x.runMs));
      const gap = summarize(xs.map((x) => x.connectMs - x.runMs));
      return [
        label,
        c.p50,
        c.p99,
        Math.min(...xs.map((x) => x.connectMs)),
        Math.max(...xs.map((x) => x.connectMs)),
        r.p50,
        gap.p50,
        gap.p99,
      ];
    };
    printTable(
      ['overlay', 'p50 ms', 'p99 ms', 'min ms', 'max ms', 'run cmd p50', 'after cmd p50', 'after cmd p99'],
      [row('Docker swarm (docker run)', got.docker), row('weft (weft run)', got.weft)],
    );
    const sd = summarize(got.docker.map((x) => x.connectMs));
    const sw = summarize(got.weft.map((x) => x.connectMs));
    console.log(`weft p50 / swarm p50 = ${(sw.p50 / sd.p50).toFixed(2)}; weft p99 / swarm p99 = ${(sw.p99 / sd.p99).toFixed(2)}`);
    console.log(
      '("run cmd": until docker run -d / weft run -d returned; "after cmd": connect time minus that; both CLIs exec\'d from a waiting shell, both servers busybox)',
    );

    // --- what this kernel stops: service VIPs (IPVS) and the encrypted overlay (ESP) ---
    console.log(`\nswarm service VIP (IPVS): ${await vipProbe(swarm, A.name, B.name, image, dCli.netnsPath)}`);
    console.log(`Docker encrypted overlay (-o encrypted): ${await encryptedProbe(swarm, A.name, B.name, image)}`);
  } catch (err) {
    code = 1;
    if (!(err instanceof SwarmStepError)) throw err;
    console.log(`\nDocker swarm overlay did not work here.\n  step: ${err.step}\n  command: ${err.command}\n  error: ${err.detail}`);
    console.log(`  kernel: IPVS ${facts.ipvs}; ESP ${facts.esp}`);
    const c = swarm.complaints();
    if (c.length) console.log(`  daemon log lines (warning/error):\n    ${c.slice(-15).join('\n    ')}`);
  } finally {
    await swarm.cleanup();
    await lab.down();
    const same = (await rootFirewall()) === fwBefore;
    console.log(`root namespace firewall unchanged: ${same ? 'yes' : 'NO'}`);
    if (!same) code = 1;
    console.log(`load average at end: ${load()}`);
  }
  return code;
}

/** HTTP status from inside a namespace (curl; "000" = no TCP connection within 3 s). */
async function httpFrom(ns: string, ip: string): Promise<string> {
  const r = await run('nsenter', [`--net=${ns}`, 'curl', '-s', '-m', '3', '-o', '/dev/null', '-w', '%{http_code}', `http://${ip}/`]);
  return r.stdout.trim() || `curl exit ${r.code}`;
}

/**
 * A swarm service on the overlay (one busybox httpd task on the manager): its virtual IP is
 * served by IPVS in each container's namespace, its task address is plain overlay. Then the
 * same with `--endpoint-mode dnsrr` (no VIP: the name resolves to the tasks).
 */
async function vipProbe(swarm: SwarmLab, a: string, b: string, image: string, clientNs: string): Promise<string> {
  const out: string[] = [];
  try {
    for (const [svc, mode] of [
      ['web', 'vip'],
      ['webrr', 'dnsrr'],
    ] as const) {
      await swarm.docker(a, `service create (${mode})`, [
        'service',
        'create',
        '--detach',
        '--no-resolve-image',
        '--name',
        svc,
        '--endpoint-mode',
        mode,
        '--constraint',
        'node.role==manager',
        '--network',
        'swov',
        image,
        'httpd',
        '-f',
        '-p',
        '80',
      ]);
      const task = await waitFor(
        `a running task of ${svc}`,
        async () => (await swarm.docker(a, 'docker ps', ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${svc}`])) || false,
        60_000,
        500,
      );
      const taskIp = (await swarm.inspect(a, task.split('\n')[0]!, 'swov')).ip;
      const byName = await swarm
        .docker(b, `name lookup of ${svc}`, ['exec', 'cli', 'ping', '-c', '1', '-W', '1', svc])
        .catch((err: unknown) => (err instanceof SwarmStepError ? err.detail : String(err)));
      const named = /\((\d+\.\d+\.\d+\.\d+)\)/.exec(byName)?.[1] ?? '?';
      if (mode === 'vip') {
        const vip = (
          await swarm.docker(a, 'service inspect', ['service', 'inspect', '-f', '{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}', svc])
        ).split('/')[0]!;
        out.push(
          `--endpoint-mode vip: name → ${named} (the VIP ${vip}), HTTP to the VIP → ${await httpFrom(clientNs, vip)}, to the task ${taskIp} → ${await httpFrom(clientNs, taskIp)}`,
        );
      } else {
        out.push(`--endpoint-mode dnsrr: name → ${named} (the task ${taskIp}), HTTP by that address → ${await httpFrom(clientNs, named)}`);
      }
    }
    const ipvs = swarm.complaints().filter((l) => /ipvs/i.test(l));
    if (ipvs.length) out.push(...ipvs.slice(0, 2));
    return `\n  ${out.join('\n  ')}`;
  } catch (err) {
    if (!(err instanceof SwarmStepError)) throw err;
    return `probe failed: ${err.message}${out.length ? `\n  ${out.join('\n  ')}` : ''}`;
  }
}

/** An `-o encrypted` network, a container on each host, one ping: "works" or the exact failure. */
async function encryptedProbe(swarm: SwarmLab, a: string, b: string, image: string): Promise<string> {
  try {
    await swarm.docker(a, 'encrypted network create', [
      'network',
      'create',
      '-d',
      'overlay',
      '--attachable',
      '--subnet',
      '10.97.0.0/24',
      '-o',
      'encrypted',
      'swenc',
    ]);
    const s = await swarm.run('esrv', a, 'swenc', image, ['sleep', '1000000'], '10.97.0.10');
    await swarm.run('ecli', b, 'swenc', image, ['sleep', '1000000'], '10.97.0.11');
    await swarm.docker(b, 'ping on the encrypted overlay', ['exec', 'ecli', 'ping', '-c', '3', '-W', '2', s.ip]);
    return 'works (ICMP crossed)';
  } catch (err) {
    if (!(err instanceof SwarmStepError)) throw err;
    const c = swarm.complaints().filter((l) => /xfrm|esp|encrypt|ipsec/i.test(l));
    return `fails: ${err.message.replace(/\s+/g, ' ')}${c.length ? `\n  ${c.slice(-5).join('\n  ')}` : ''}`;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
