/**
 * Embedded DNS throughput and latency, side by side: weft's EmbeddedDnsServer against dnsmasq
 * serving the same names, both in one fake host namespace (on two addresses of one bridge),
 * queried by the same UDP load generator from a client namespace.
 *   node dist/bench/dns.js [--names 100] [--duration 5000] [--inflight 1,16,64] [--workers 1] [--rounds 3]
 * Each run is closed-loop: `inflight` queries outstanding at all times for `duration` ms
 * (after a 1 s warm-up), cycling through every name. Each setting runs `rounds` times with the
 * two servers alternating, and the median run (by qps) of each is reported: on a shared
 * machine single runs swing by 2x.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { deleteNetnsWithProcesses, mustRun, run } from '../src/lab/sim-host.js';

const TOOL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/lab/dns-lab-tool.js');
const DNSMASQ = '/usr/sbin/dnsmasq';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const NAMES = Number(opt('names', '100'));
const DURATION = Math.min(Number(opt('duration', '5000')), 30_000);
const INFLIGHT = opt('inflight', '1,16,64').split(',').map(Number);
const WORKERS = Number(opt('workers', '1'));
const ROUNDS = Math.max(1, Math.min(Number(opt('rounds', '3')), 9));

const tag = randomBytes(2).toString('hex');
const HOST = `weft-bdns-h-${tag}`;
const CLIENT = `weft-bdns-c-${tag}`;
const WEFT_ADDR = '10.88.0.1';
const DNSMASQ_ADDR = '10.88.0.2';

interface LoadOut {
  sent: number;
  answered: number;
  errors: number;
  timeouts: number;
  qps: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
}

async function topology(): Promise<void> {
  for (const ns of [HOST, CLIENT]) {
    await mustRun('ip', ['netns', 'add', ns]);
    await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  await mustRun('ip', ['-n', HOST, 'link', 'add', 'br0', 'type', 'bridge']);
  await mustRun('ip', ['-n', HOST, 'addr', 'add', `${WEFT_ADDR}/24`, 'dev', 'br0']);
  await mustRun('ip', ['-n', HOST, 'addr', 'add', `${DNSMASQ_ADDR}/24`, 'dev', 'br0']);
  await mustRun('ip', ['-n', HOST, 'link', 'add', 'vc0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CLIENT]);
  await mustRun('ip', ['-n', HOST, 'link', 'set', 'vc0', 'master', 'br0', 'up']);
  await mustRun('ip', ['-n', HOST, 'link', 'set', 'br0', 'up']);
  await mustRun('ip', ['-n', CLIENT, 'addr', 'add', '10.88.0.100/24', 'dev', 'eth0']);
  await mustRun('ip', ['-n', CLIENT, 'link', 'set', 'eth0', 'up']);
}

/** Spawn a server in the host namespace and wait until it answers a query (bounded). */
async function startServer(argv: string[], addr: string): Promise<ChildProcess> {
  const child = spawn('nsenter', ['--net=/run/netns/' + HOST, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  readline.createInterface({ input: child.stdout }).on('line', () => undefined);
  const end = Date.now() + 10_000;
  for (;;) {
    const r = await run('nsenter', [
      '--net=/run/netns/' + CLIENT,
      process.execPath,
      TOOL,
      'query',
      JSON.stringify({ server: addr, port: 53, queries: [{ name: 'c0', type: 'A' }], timeoutMs: 500 }),
    ]);
    if (r.code === 0 && (JSON.parse(r.stdout) as Array<{ answers?: unknown[] }>)[0]!.answers?.length === 1) return child;
    if (child.exitCode !== null || Date.now() > end) throw new Error(`${argv[0]} did not start: ${err}`);
    await new Promise((r2) => setTimeout(r2, 100));
  }
}

async function loadRun(addr: string, inflight: number): Promise<LoadOut> {
  const cfg = {
    server: addr,
    port: 53,
    names: Array.from({ length: NAMES }, (_, i) => `c${i}`),
    type: 'A',
    inflight,
    durationMs: DURATION,
    warmupMs: 1000,
    workers: inflight >= WORKERS ? WORKERS : 1,
  };
  const r = await run('nsenter', ['--net=/run/netns/' + CLIENT, process.execPath, TOOL, 'load', JSON.stringify(cfg)], {
    timeoutMs: DURATION + 30_000,
  });
  if (r.code !== 0) throw new Error(`load generator failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as LoadOut;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
}

async function main(): Promise<void> {
  if (!existsSync(DNSMASQ)) throw new Error(`${DNSMASQ} not found (package dnsmasq-base)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-dns-'));
  // dnsmasq reads the hosts file after dropping to an unprivileged user.
  chmodSync(dir, 0o755);
  let weft: ChildProcess | undefined;
  let dnsmasq: ChildProcess | undefined;
  try {
    await topology();
    const records = Array.from({ length: NAMES }, (_, i) => ({
      networkId: 'n1',
      endpointId: `e${i}`,
      entry: { name: `c${i}`, aliases: [], ipv4: `10.88.${1 + (i >> 8)}.${i & 255}` },
    }));
    const hosts = path.join(dir, 'hosts');
    writeFileSync(hosts, records.map((r) => `${r.entry.ipv4}\t${r.entry.name}`).join('\n') + '\n', { mode: 0o644 });
    weft = await startServer(
      [
        process.execPath,
        TOOL,
        'serve',
        JSON.stringify({ port: 53, listen: [{ networkId: 'n1', address: WEFT_ADDR }], subnets: { n1: ['10.88.0.0/16'] }, records }),
      ],
      WEFT_ADDR,
    );
    dnsmasq = await startServer(
      [
        DNSMASQ,
        '-k',
        '--conf-file=/dev/null',
        '--no-resolv',
        '--no-hosts',
        `--addn-hosts=${hosts}`,
        '-p',
        '53',
        `--listen-address=${DNSMASQ_ADDR}`,
        '--bind-interfaces',
        '--local-ttl=600',
        '--pid-file=',
        '--log-facility=/dev/null',
      ],
      DNSMASQ_ADDR,
    );
    const rows: string[] = [];
    const fmt = (s: string, w: number): string => s.padStart(w);
    rows.push(
      ['inflight', 'server', 'qps', 'p50 µs', 'p99 µs', 'p99.9 µs', 'errors', 'timeouts']
        .map((h, i) => (i < 2 ? h.padEnd(9) : fmt(h, 9)))
        .join(' '),
    );
    const summary: string[] = [];
    for (const n of INFLIGHT) {
      const runs: Record<'weft' | 'dnsmasq', LoadOut[]> = { weft: [], dnsmasq: [] };
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate who goes first so neither always gets the quieter moment.
        const order = round % 2 === 0 ? (['weft', 'dnsmasq'] as const) : (['dnsmasq', 'weft'] as const);
        for (const who of order) runs[who].push(await loadRun(who === 'weft' ? WEFT_ADDR : DNSMASQ_ADDR, n));
      }
      const median = (xs: LoadOut[]): LoadOut => [...xs].sort((a, b) => a.qps - b.qps)[xs.length >> 1]!;
      const res = { weft: median(runs.weft), dnsmasq: median(runs.dnsmasq) };
      for (const who of ['weft', 'dnsmasq'] as const) {
        const r = res[who];
        rows.push(
          [
            String(n).padEnd(9),
            who.padEnd(9),
            ...[r.qps, r.p50Us, r.p99Us, r.p999Us, r.errors, r.timeouts].map((v) => fmt(String(v), 9)),
          ].join(' '),
        );
      }
      summary.push(
        `inflight ${n}: weft/dnsmasq qps ratio ${(res.weft.qps / res.dnsmasq.qps).toFixed(2)}, p99 ratio ${(res.weft.p99Us / res.dnsmasq.p99Us).toFixed(2)}`,
      );
    }
    process.stdout.write(
      `DNS: ${NAMES} local names, ${DURATION} ms per run, median of ${ROUNDS} rounds, UDP, load generator with ${WORKERS} worker(s)\n`,
    );
    process.stdout.write(rows.join('\n') + '\n' + summary.join('\n') + '\n');
  } finally {
    await stop(weft);
    await stop(dnsmasq);
    await deleteNetnsWithProcesses([CLIENT, HOST]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
