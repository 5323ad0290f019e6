/**
 * Legitimate DNS queries and API calls while junk floods the embedded DNS — all through a real
 * weftd in a fake host namespace, every address one this benchmark creates:
 *   node dist/bench/dns-flood.js [--pps 1000,5000] [--duration 5000] [--inflight 1,8]
 *
 * A network with two sandboxes (a legitimate client and a noisy neighbour), an "outside
 * machine" behind a veth that reaches the gateway without being on the network, and a toy
 * upstream resolver there (weftd runs with --dns-upstream pointing at it). Each phase runs the
 * closed-loop load generator from the client (one name, `inflight` outstanding) for `duration`
 * ms and polls GET /v1/networks every 100 ms meanwhile:
 *   baseline                 no flood
 *   outside counts @ PPS     12-byte queries claiming 65535 records per section, from outside
 *   inside counts @ PPS      the same from the noisy sandbox
 *   inside random @ PPS      random bytes from the noisy sandbox
 *   inside miss @ PPS        well-formed queries for random names (forwarded upstream)
 * Prints one row per phase: answered, timeouts, qps, p50/p99 of the legitimate queries, and
 * p50/max of the API calls.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO, SimHost, mustRun } from '../src/lab/sim-host.js';
import { printTable, summarize } from './stats.js';

const DNS_TOOL = path.join(REPO, 'dist/src/lab/dns-lab-tool.js');
const JUNK = path.join(REPO, 'dist/src/lab/dns-junk.js');

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const PPS = opt('pps', '1000,5000').split(',').map(Number);
const DURATION = Math.min(Number(opt('duration', '5000')), 30_000);
const INFLIGHT = opt('inflight', '1,8').split(',').map(Number);
const GATEWAY = '10.89.0.1';

interface Load {
  sent: number;
  answered: number;
  timeouts: number;
  qps: number;
  p50Us: number;
  p99Us: number;
}

function runIn(nsPath: string, argv: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('nsenter', [`--net=${nsPath}`, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')} → ${code}: ${err}`));
    });
  });
}

async function main(): Promise<void> {
  const h = await SimHost.create('dnsflood', ['--firewall', 'none', '--dns-upstream', '198.18.89.2']);
  const rows: (string | number)[][] = [];
  try {
    const outside = await h.outsideMachine('out', 'vout', '198.18.89.1/24', '198.18.89.2/24');
    await mustRun('ip', ['-n', outside, 'route', 'add', '10.89.0.0/24', 'via', '198.18.89.1']);
    const upstream = spawn(
      'nsenter',
      [
        `--net=/run/netns/${outside}`,
        process.execPath,
        DNS_TOOL,
        'upstream',
        JSON.stringify({ address: '198.18.89.2', port: 53, records: {} }),
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    h.track(upstream.pid);
    await h.start();
    await h.cliOk(['network', 'create', '--subnet', '10.89.0.0/24', 'fl']);
    const client = await h.runDetached(['--name', 'client', '--network', 'fl', '--', 'sleep', '3600']);
    const noisy = await h.runDetached(['--name', 'noisy', '--network', 'fl', '--', 'sleep', '3600']);

    const phases: { name: string; ns?: string; kind?: string; pps?: number }[] = [{ name: 'baseline' }];
    for (const pps of PPS) {
      phases.push({ name: `outside counts @${pps}`, ns: `/run/netns/${outside}`, kind: 'counts', pps });
      phases.push({ name: `inside counts @${pps}`, ns: noisy.netnsPath, kind: 'counts', pps });
      phases.push({ name: `inside random @${pps}`, ns: noisy.netnsPath, kind: 'random', pps });
      phases.push({ name: `inside miss @${pps}`, ns: noisy.netnsPath, kind: 'miss', pps });
    }
    for (const inflight of INFLIGHT) {
      for (const ph of phases) {
        const floodMs = DURATION + 2000;
        const flood = ph.ns
          ? runIn(
              ph.ns,
              [process.execPath, JUNK, JSON.stringify({ server: GATEWAY, port: 53, pps: ph.pps, durationMs: floodMs, kind: ph.kind })],
              floodMs + 30_000,
            )
          : Promise.resolve('{"sent":0}');
        await new Promise((r) => setTimeout(r, ph.ns ? 500 : 0));
        // API latency meanwhile: one GET /v1/networks every 100 ms.
        const api: number[] = [];
        let polling = true;
        const poll = (async () => {
          while (polling) {
            const t0 = performance.now();
            await h.client.request('GET', '/v1/networks');
            api.push(performance.now() - t0);
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        const load = JSON.parse(
          await runIn(
            client.netnsPath,
            [
              process.execPath,
              DNS_TOOL,
              'load',
              JSON.stringify({ server: GATEWAY, port: 53, names: ['client'], type: 'A', inflight, durationMs: DURATION, warmupMs: 300 }),
            ],
            DURATION + 60_000,
          ),
        ) as Load;
        polling = false;
        await poll;
        const sent = (JSON.parse(await flood) as { sent: number }).sent;
        const a = summarize(api);
        const int = (n: number | null | undefined): string =>
          n === null || n === undefined || !Number.isFinite(n) ? '-' : String(Math.round(n));
        rows.push([
          ph.name,
          int(inflight),
          int(sent),
          int(load.answered),
          int(load.timeouts),
          int(load.qps),
          int(load.p50Us),
          int(load.p99Us),
          a.p50.toFixed(1),
          Math.max(...api).toFixed(1),
        ]);
        process.stderr.write(`${ph.name} inflight ${inflight}: ${JSON.stringify(load)}\n`);
        // Let the flood's leftovers drain before the next phase.
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  } finally {
    await h.cleanup();
  }
  printTable(['phase', 'inflight', 'junk sent', 'answered', 'timeouts', 'qps', 'p50 µs', 'p99 µs', 'API p50 ms', 'API max ms'], rows);
}

await main();
