/**
 * Control-plane traffic and weftd memory. Named nft counters in each lab host's namespace
 * count what crosses its underlay interface (eth0) to and from the store (etcd, tcp 2379) and
 * the design's own control ports; read at rest and during churn (endpoints added and removed
 * on host A). weftd's resident memory is read before and after the adds.
 */
import { readFileSync } from 'node:fs';
import type { ClusterLab } from '../cluster-lab.js';
import { sleep } from '../sim-host.js';
import type { ControlPlaneWindow } from './compare-types.js';
import type { CompareEndpoint, Deployment } from './design-adapter.js';
import { mustRunIn } from './endpoint-tools.js';
import { round3 } from './stats.js';

type Counts = Record<'store' | 'design', { packets: number; bytes: number }>;

/** The nft ruleset of the counting table (pure). */
export function counterRuleset(table: string, ports: { tcp: number[]; udp: number[] }): string {
  const sel = (dir: 'sport' | 'dport') => [
    ...(ports.tcp.length ? [`tcp ${dir} { ${ports.tcp.join(', ')} } counter name "design"`] : []),
    ...(ports.udp.length ? [`udp ${dir} { ${ports.udp.join(', ')} } counter name "design"`] : []),
  ];
  return [
    `table inet ${table} {`,
    '  counter store {}',
    '  counter design {}',
    '  chain in {',
    '    type filter hook input priority -300; policy accept;',
    '    iifname "eth0" tcp sport 2379 counter name "store"',
    ...sel('dport').map((r) => `    iifname "eth0" ${r}`),
    '  }',
    '  chain out {',
    '    type filter hook output priority -300; policy accept;',
    '    oifname "eth0" tcp dport 2379 counter name "store"',
    ...sel('sport').map((r) => `    oifname "eth0" ${r}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Counters from `nft -j list counters table …` (pure). */
export function parseCounters(json: string): Counts {
  const c: Counts = { store: { packets: 0, bytes: 0 }, design: { packets: 0, bytes: 0 } };
  const j = JSON.parse(json) as { nftables: { counter?: { name: string; packets: number; bytes: number } }[] };
  for (const x of j.nftables) if (x.counter && (x.counter.name === 'store' || x.counter.name === 'design')) c[x.counter.name] = x.counter;
  return c;
}

export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export class ControlPlaneCounters {
  constructor(
    private readonly lab: ClusterLab,
    private readonly hosts: string[],
    private readonly table: string,
  ) {}

  async install(ports: { tcp: number[]; udp: number[] }): Promise<void> {
    for (const h of this.hosts) await mustRunIn(this.lab.host(h).ns, ['nft', '-f', '-'], { input: counterRuleset(this.table, ports) });
  }

  async read(): Promise<Map<string, Counts>> {
    const m = new Map<string, Counts>();
    for (const h of this.hosts)
      m.set(h, parseCounters(await mustRunIn(this.lab.host(h).ns, ['nft', '-j', 'list', 'counters', 'table', 'inet', this.table])));
    return m;
  }

  async remove(): Promise<void> {
    for (const h of this.hosts) await mustRunIn(this.lab.host(h).ns, ['nft', 'delete', 'table', 'inet', this.table]);
  }

  /** Per-host rates between two reads. */
  window(a: Map<string, Counts>, b: Map<string, Counts>, seconds: number): ControlPlaneWindow {
    return {
      seconds: round3(seconds),
      perHost: this.hosts.map((h) => {
        const x = a.get(h)!;
        const y = b.get(h)!;
        const rate = (k: 'store' | 'design', f: 'bytes' | 'packets') => round3((y[k][f] - x[k][f]) / seconds);
        return {
          host: h,
          storeBytesPerS: rate('store', 'bytes'),
          storePktsPerS: rate('store', 'packets'),
          designBytesPerS: rate('design', 'bytes'),
          designPktsPerS: rate('design', 'packets'),
        };
      }),
    };
  }
}

export interface ChurnResult {
  rest: ControlPlaneWindow;
  churn: ControlPlaneWindow & { attaches: number; storePktsPerAttach: number };
  memory?: { endpoints: number; rssBeforeKiB: number; rssAfterKiB: number; perEndpointKiB: number };
}

/** Rest window, then K endpoints added on host A (memory read around the adds) and removed again. */
export async function measureChurn(
  counters: ControlPlaneCounters,
  dep: Deployment,
  hostA: string,
  restS: number,
  k: number,
): Promise<ChurnResult> {
  const r0 = await counters.read();
  const t0 = Date.now();
  await sleep(restS * 1000);
  const r1 = await counters.read();
  const rest = counters.window(r0, r1, (Date.now() - t0) / 1000);

  const pid = dep.daemonPid(hostA);
  const c0 = await counters.read();
  const t1 = Date.now();
  const before = pid ? rssKiB(pid) : undefined;
  const eps: CompareEndpoint[] = [];
  try {
    for (let i = 0; i < k; i++) eps.push(await dep.addEndpoint(hostA, 500 + i));
    const after = pid ? rssKiB(pid) : undefined;
    for (const ep of eps.splice(0)) await dep.removeEndpoint(ep);
    const c1 = await counters.read();
    const w = counters.window(c0, c1, (Date.now() - t1) / 1000);
    const storePkts = [...c1.keys()].reduce((s, h) => s + c1.get(h)!.store.packets - c0.get(h)!.store.packets, 0);
    return {
      rest,
      churn: { ...w, attaches: k, storePktsPerAttach: round3(storePkts / k) },
      ...(before !== undefined && after !== undefined
        ? { memory: { endpoints: k, rssBeforeKiB: before, rssAfterKiB: after, perEndpointKiB: round3((after - before) / k) } }
        : {}),
    };
  } finally {
    for (const ep of eps) await dep.removeEndpoint(ep);
  }
}
