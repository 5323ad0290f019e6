/**
 * CNI ADD/DEL latency: weft's plugin (compiled shim → weftd) against the reference bridge +
 * host-local, side by side in one run, same fake host, same kind of container namespaces, the
 * same runtime-style invocation (`nsenter --net=<host> <plugin>` with env + stdin), interleaved
 * so both see the same machine load. Also a few ADD/DELs through weft's in-process fallback
 * (weftd stopped).
 *   node dist/bench/cni.js [--n 100] [--fallback 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SimHost, mustRun, run } from '../src/lab/sim-host.js';
import { installCniPlugins } from '../src/cli/cni-command.js';
import { execPlugin } from '../test/netns/cni-harness.js';
import { printTable, summarize } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const N = Number(opt('n', '100'));
const FALLBACK = Number(opt('fallback', '5'));

async function main(): Promise<void> {
  const h = await SimHost.create('cnibench');
  const ipamDir = mkdtempSync(path.join(tmpdir(), 'weft-cnibench-ipam-'));
  const made: string[] = [];
  try {
    await h.start();
    const bin = path.join(h.dir, 'cni-bin');
    installCniPlugins(bin, { socket: h.socket, stateDir: h.stateDir, runDir: h.runDir });
    const weftConf = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'benchweft',
      type: 'weft',
      bridge: 'bweft0',
      ipMasq: true,
      ipam: { subnet: '10.210.0.0/16' },
    });
    const refConf = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'benchref',
      type: 'bridge',
      bridge: 'bref0',
      isGateway: true,
      ipMasq: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.211.0.0/16' }]], dataDir: ipamDir },
    });
    const plugins = {
      weft: { bin: path.join(bin, 'weft'), conf: weftConf },
      'bridge+host-local': { bin: '/usr/lib/cni/bridge', conf: refConf },
    } as const;
    type Name = keyof typeof plugins;
    const ns = async (tag: string): Promise<string> => {
      const name = `${h.ns}-${tag}`.slice(0, 60);
      await mustRun('ip', ['netns', 'add', name]);
      made.push(name);
      return `/run/netns/${name}`;
    };
    const call = async (who: Name, command: string, id: string, netns: string): Promise<number> => {
      const p = plugins[who];
      const r = await execPlugin(
        p.bin,
        { command, containerId: id, netns, ifname: 'eth0', path: '/usr/lib/cni:' + bin, hostNs: h.nsPath },
        p.conf,
      );
      if (r.code !== 0) throw new Error(`${who} ${command} ${id}: ${r.stdout}${r.stderr}`);
      return r.ms;
    };
    const samples: Record<Name, { add: number[]; del: number[] }> = {
      weft: { add: [], del: [] },
      'bridge+host-local': { add: [], del: [] },
    };
    // Warm-up: the first ADD creates each network's bridge; not a per-container cost.
    for (const who of Object.keys(plugins) as Name[]) {
      const n = await ns(`w-${who.slice(0, 4)}`);
      await call(who, 'ADD', `warm-${who.slice(0, 4)}`, n);
      await call(who, 'DEL', `warm-${who.slice(0, 4)}`, n);
    }
    const spaces: Record<Name, string[]> = { weft: [], 'bridge+host-local': [] };
    for (let i = 0; i < N; i++) {
      spaces.weft.push(await ns(`a${i}`));
      spaces['bridge+host-local'].push(await ns(`b${i}`));
    }
    // Alternate who goes first, so neither plugin always runs on a warmer cache.
    const orderOf = (i: number): Name[] => (i % 2 ? ['weft', 'bridge+host-local'] : ['bridge+host-local', 'weft']);
    for (let i = 0; i < N; i++) {
      for (const who of orderOf(i)) samples[who].add.push(await call(who, 'ADD', `c${i}-${who.slice(0, 4)}`, spaces[who][i] ?? ''));
    }
    for (let i = 0; i < N; i++) {
      for (const who of orderOf(i)) samples[who].del.push(await call(who, 'DEL', `c${i}-${who.slice(0, 4)}`, spaces[who][i] ?? ''));
    }
    const fb = { add: [] as number[], del: [] as number[] };
    if (FALLBACK > 0) {
      await h.stop();
      for (let i = 0; i < FALLBACK; i++) {
        const n = spaces.weft[i]!;
        fb.add.push(await call('weft', 'ADD', `fb${i}`, n));
        fb.del.push(await call('weft', 'DEL', `fb${i}`, n));
      }
    }
    process.stdout.write(`CNI plugin latency, ms (N=${N} sequential containers, interleaved; includes nsenter + exec as a runtime does)\n`);
    const rows: (string | number)[][] = [];
    for (const who of Object.keys(plugins) as Name[]) {
      const a = summarize(samples[who].add);
      const d = summarize(samples[who].del);
      rows.push([who, a.p50, a.p99, a.mean, d.p50, d.p99, d.mean]);
    }
    if (FALLBACK > 0) {
      const a = summarize(fb.add);
      const d = summarize(fb.del);
      rows.push([`weft, weftd stopped (N=${FALLBACK})`, a.p50, a.p99, a.mean, d.p50, d.p99, d.mean]);
    }
    printTable(['plugin', 'ADD p50', 'ADD p99', 'ADD mean', 'DEL p50', 'DEL p99', 'DEL mean'], rows);
    const w = summarize(samples.weft.add).p50;
    const r = summarize(samples['bridge+host-local'].add).p50;
    process.stdout.write(
      `ADD p50 ratio weft / reference: ${(w / r).toFixed(2)}; DEL p50 ratio: ${(summarize(samples.weft.del).p50 / summarize(samples['bridge+host-local'].del).p50).toFixed(2)}\n`,
    );
  } finally {
    for (const n of made) await run('ip', ['netns', 'del', n]);
    await h.cleanup();
    rmSync(ipamDir, { recursive: true, force: true });
  }
}

await main();
