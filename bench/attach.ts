/**
 * Attach + detach latency, side by side in one run: weft (through weftd's API), the reference
 * CNI bridge + host-local plugins, and netavark. For each N, N sandbox namespaces are made
 * first (not timed); then each is attached (timed) and afterwards each detached (timed).
 *   node dist/bench/attach.js [--sizes 1,10,100,1000] [--only weft,cni,netavark]
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SimHost, mustRun, run } from '../src/lab/sim-host.js';
import { summarize, printTable, type Summary } from './stats.js';

interface Result {
  system: string;
  n: number;
  attach: Summary;
  detach: Summary;
}

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const SIZES = opt('sizes', '1,10,100,1000').split(',').map(Number);
const ONLY = new Set(opt('only', 'weft,cni,netavark').split(','));
const tag = randomBytes(2).toString('hex');

function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv, input: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = execFile(cmd, argv, { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const ms = performance.now() - t0;
      if (err) reject(new Error(`${path.basename(argv[1] ?? cmd)} failed: ${stdout} ${stderr}`));
      else resolve(ms);
    });
    child.stdin!.end(input);
  });
}

async function makeNetns(names: string[]): Promise<void> {
  for (const n of names) await mustRun('ip', ['netns', 'add', n]);
}
async function delNetns(names: string[]): Promise<void> {
  for (const n of names) await run('ip', ['netns', 'del', n]);
}

async function benchWeft(n: number): Promise<Result> {
  const h = await SimHost.create(`bw${n}`);
  try {
    await h.start();
    await h.client.request('POST', '/v1/networks', { name: 'bench', ipam: { config: [{ subnet: '10.244.0.0/16' }] } });
    // One untimed attach/detach first: the first join of a fresh daemon pays one-off costs
    // (namespace worker start, JIT) that are not per-attach costs.
    const warm = (await h.client.request<{ id: string }>('POST', '/v1/sandboxes', { name: 'warmup', networks: [] })).id;
    await h.client.request('POST', '/v1/networks/bench/connect', { sandbox: warm });
    await h.client.request('POST', '/v1/networks/bench/disconnect', { sandbox: warm });
    const ids: string[] = [];
    for (let i = 0; i < n; i++)
      ids.push((await h.client.request<{ id: string }>('POST', '/v1/sandboxes', { name: `s${i}`, networks: [] })).id);
    const attach: number[] = [];
    const detach: number[] = [];
    for (const id of ids) {
      const t0 = performance.now();
      await h.client.request('POST', '/v1/networks/bench/connect', { sandbox: id });
      attach.push(performance.now() - t0);
    }
    for (const id of ids) {
      const t0 = performance.now();
      await h.client.request('POST', '/v1/networks/bench/disconnect', { sandbox: id });
      detach.push(performance.now() - t0);
    }
    return { system: 'weft (weftd API)', n, attach: summarize(attach), detach: summarize(detach) };
  } finally {
    await h.cleanup();
  }
}

async function benchCni(n: number): Promise<Result> {
  const host = `wb-cni-${tag}-${n}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-cni-'));
  const names = Array.from({ length: n }, (_, i) => `wb-c${tag}-${n}-${i}`);
  const conf = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'benchnet',
    type: 'bridge',
    bridge: 'cnibr0',
    isGateway: true,
    ipMasq: false,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.0.0/16' }]], dataDir: path.join(dir, 'ipam') },
  });
  try {
    await makeNetns([host]);
    await makeNetns(names);
    const env = (cmd: string, c: string): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: c,
      CNI_NETNS: `/run/netns/${c}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/usr/lib/cni',
    });
    const attach: number[] = [];
    const detach: number[] = [];
    for (const c of names) attach.push(await timed('nsenter', [`--net=/run/netns/${host}`, '/usr/lib/cni/bridge'], env('ADD', c), conf));
    for (const c of names) detach.push(await timed('nsenter', [`--net=/run/netns/${host}`, '/usr/lib/cni/bridge'], env('DEL', c), conf));
    return { system: 'CNI bridge+host-local', n, attach: summarize(attach), detach: summarize(detach) };
  } finally {
    await delNetns([...names, host]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchNetavark(n: number): Promise<Result> {
  const host = `wb-nv-${tag}-${n}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-nv-'));
  const names = Array.from({ length: n }, (_, i) => `wb-n${tag}-${n}-${i}`);
  const netId = 'b'.repeat(64);
  const opts = (i: number): string =>
    JSON.stringify({
      container_id: (i + 1).toString(16).padStart(64, '0'),
      container_name: `c${i}`,
      networks: { bench: { interface_name: 'eth0', static_ips: [`10.77.${(i + 2) >> 8}.${(i + 2) & 255}`] } },
      network_info: {
        bench: {
          dns_enabled: false,
          driver: 'bridge',
          id: netId,
          internal: false,
          ipv6_enabled: false,
          name: 'bench',
          network_interface: 'nvbr0',
          subnets: [{ gateway: '10.77.0.1', subnet: '10.77.0.0/16' }],
        },
      },
      port_mappings: [],
    });
  try {
    await makeNetns([host]);
    await makeNetns(names);
    // netavark 1.4 (Debian 12) has only its iptables firewall driver ("nftables support
    // presently not available"); it runs inside the bench's own namespace.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...(process.env.NETAVARK_FW ? { NETAVARK_FW: process.env.NETAVARK_FW } : {}) };
    const attach: number[] = [];
    const detach: number[] = [];
    for (const [i, c] of names.entries())
      attach.push(
        await timed(
          'nsenter',
          [`--net=/run/netns/${host}`, '/usr/lib/podman/netavark', '--config', dir, 'setup', `/run/netns/${c}`],
          env,
          opts(i),
        ),
      );
    for (const [i, c] of names.entries())
      detach.push(
        await timed(
          'nsenter',
          [`--net=/run/netns/${host}`, '/usr/lib/podman/netavark', '--config', dir, 'teardown', `/run/netns/${c}`],
          env,
          opts(i),
        ),
      );
    return { system: 'netavark', n, attach: summarize(attach), detach: summarize(detach) };
  } finally {
    await delNetns([...names, host]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results: Result[] = [];
  for (const n of SIZES) {
    if (ONLY.has('weft')) results.push(await benchWeft(n));
    if (ONLY.has('cni') && existsSync('/usr/lib/cni/bridge')) results.push(await benchCni(n));
    if (ONLY.has('netavark') && existsSync('/usr/lib/podman/netavark')) {
      try {
        results.push(await benchNetavark(n));
      } catch (err) {
        process.stderr.write(`netavark: ${(err as Error).message}\n`);
      }
    }
    process.stderr.write(`N=${n} done\n`);
  }
  const rows: (string | number)[][] = [];
  for (const n of SIZES) {
    const group = results.filter((r) => r.n === n);
    const weft = group.find((r) => r.system.startsWith('weft'));
    for (const r of group) {
      rows.push([
        n,
        r.system,
        r.attach.p50,
        r.attach.p99,
        r.detach.p50,
        r.detach.p99,
        weft ? r.attach.p50 / weft.attach.p50 : NaN,
        weft ? r.detach.p50 / weft.detach.p50 : NaN,
      ]);
    }
  }
  process.stdout.write('\nattach/detach latency in ms (ratio = system p50 / weft p50; > 1 means weft is faster)\n');
  printTable(['N', 'system', 'attach p50', 'attach p99', 'detach p50', 'detach p99', 'attach ratio', 'detach ratio'], rows);
  const out = process.env.BENCH_JSON;
  if (out) writeFileSync(out, JSON.stringify(results, null, 2));
}

await main();
