/**
 * Fault injection: drive random create / connect / disconnect / rm / run operations through
 * the API and the CLI while killing weftd (and sometimes the CLI) with SIGKILL at random
 * points, restart it, and ask the invariant checker. Seeded and bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SimHost, WEFT, sleep } from './sim-host.js';
import { Prng } from './prng.js';
import type { DoctorReport } from '../controller/doctor.js';
import type { SandboxView } from '../controller/inspect.js';
import { WeftError } from '../errors.js';
import { schemeOf } from '../drivers/ifnames.js';

export interface FaultRunOptions {
  kills: number;
  seed: number;
  /** Stop early when this much time has passed (the run reports how many kills it made). */
  maxMs: number;
  log?: (line: string) => void;
}

export interface FaultRunReport {
  seed: number;
  kills: number;
  operations: number;
  operationErrors: number;
  violations: { kill: number; violations: string[] }[];
  leaks: string[];
  ms: number;
}

const SUBNETS = ['10.60.0.0/24', '10.60.1.0/24', '10.60.2.0/24', '10.60.0.0/23'];

export async function runFaultInjection(o: FaultRunOptions): Promise<FaultRunReport> {
  const rnd = new Prng(o.seed);
  const h = await SimHost.create('fault', ['--firewall', 'nftables']);
  const report: FaultRunReport = { seed: o.seed, kills: 0, operations: 0, operationErrors: 0, violations: [], leaks: [], ms: 0 };
  const t0 = Date.now();
  const clis = new Set<ChildProcess>();
  try {
    await h.start();
    while (report.kills < o.kills && Date.now() - t0 < o.maxMs) {
      const ops: Promise<unknown>[] = [];
      const burst = rnd.int(1, 5);
      for (let i = 0; i < burst; i++)
        ops.push(
          randomOp(h, rnd, clis).then(
            () => report.operations++,
            () => {
              report.operations++;
              report.operationErrors++;
            },
          ),
        );
      await sleep(rnd.int(0, 40));
      await h.stop('SIGKILL');
      if (rnd.chance(0.3)) for (const c of clis) c.kill('SIGKILL');
      report.kills++;
      await Promise.allSettled(ops);
      await h.start();
      const d = await h.client.request<DoctorReport>('GET', '/v1/doctor');
      if (!d.ok) report.violations.push({ kill: report.kills, violations: d.violations });
      if (report.kills % 25 === 0)
        o.log?.(`${report.kills} kills, ${report.operations} operations, ${report.violations.length} with violations`);
    }
    // Finally remove everything through the API and look for anything left in the kernel.
    for (const sb of await h.client.request<SandboxView[]>('GET', '/v1/sandboxes'))
      await h.client
        .request('DELETE', `/v1/sandboxes/${sb.id}?force=true&time=0`)
        .catch((err: unknown) => report.leaks.push(`sandbox ${sb.name} not removed: ${(err as Error).message}`));
    await h.client.request('POST', '/v1/networks/prune');
    const links = (await h.inHost('ip', ['-o', 'link', 'show'])).stdout;
    for (const m of links.matchAll(/^\d+: ([^:@\s]+)[@:]/gm)) if (schemeOf(m[1]!)) report.leaks.push(`link ${m[1]}`);
    const d = await h.client.request<DoctorReport>('GET', '/v1/doctor');
    report.leaks.push(...d.violations);
    const { readdirSync } = await import('node:fs');
    try {
      for (const f of readdirSync(`${h.runDir}/netns`)) report.leaks.push(`netns file ${f}`);
    } catch {
      /* none */
    }
  } finally {
    for (const c of clis) c.kill('SIGKILL');
    report.ms = Date.now() - t0;
    await h.cleanup();
  }
  return report;
}

/** One random operation; errors (refusals, a killed daemon) are expected and counted. */
async function randomOp(h: SimHost, rnd: Prng, clis: Set<ChildProcess>): Promise<void> {
  const c = h.client;
  const nets = (await c.request<{ Name: string }[]>('GET', '/v1/networks'))
    .map((n) => n.Name)
    .filter((n) => !['bridge', 'host', 'none'].includes(n));
  const sbs = (await c.request<SandboxView[]>('GET', '/v1/sandboxes')).map((s) => s.name);
  const net = nets.length ? rnd.pick(nets) : 'bridge';
  switch (rnd.int(0, 7)) {
    case 0:
      await c.request('POST', '/v1/networks', {
        name: `n${rnd.int(0, 5)}`,
        ipam: { config: rnd.chance(0.7) ? [{ subnet: rnd.pick(SUBNETS) }] : [] },
      });
      return;
    case 1:
      await c.request('POST', '/v1/sandboxes', { name: `s${rnd.int(0, 30)}`, networks: [{ network: net }] });
      return;
    case 2:
      if (sbs.length) await c.request('POST', `/v1/networks/${net}/connect`, { sandbox: rnd.pick(sbs) });
      return;
    case 3:
      if (sbs.length) await c.request('POST', `/v1/networks/${net}/disconnect`, { sandbox: rnd.pick(sbs) });
      return;
    case 4:
      if (sbs.length) await c.request('DELETE', `/v1/sandboxes/${rnd.pick(sbs)}`);
      return;
    case 5:
      if (nets.length) await c.request('DELETE', `/v1/networks/${rnd.pick(nets)}`);
      return;
    default: {
      // The CLI: weft run -d (a real process) or network connect.
      const args = rnd.chance(0.5)
        ? ['run', '-d', '--name', `r${rnd.int(0, 20)}`, '--network', net, '-p', `${rnd.int(20000, 20050)}:80`, '--', 'sleep', '30']
        : ['network', 'connect', net, sbs.length ? rnd.pick(sbs) : 'none'];
      const child = spawn(process.execPath, [WEFT, '-H', h.socket, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      clis.add(child);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number>((r) => child.once('exit', (x) => r(x ?? 1)));
      clis.delete(child);
      if (args[0] === 'run' && code === 0) {
        // A sandbox already reaped (its command was killed) is not there any more: nothing to track.
        const sb = await c.request<SandboxView>('GET', `/v1/sandboxes/${out.trim()}`).catch((err: unknown) => {
          if (err instanceof WeftError && err.code === 'WEFT_NOT_FOUND') return undefined;
          throw err;
        });
        h.track(sb?.pid);
      }
      if (code !== 0) throw new Error(`weft ${args[0]} exited ${code}`);
    }
  }
}
