/**
 * Failure behaviour: a TCP connect prober in endpoint a (every 100 ms, recovery-probe.ts) towards
 * a listener in b, while the harness injects one fault and repairs it:
 *   weftd-restart  b's host weftd is SIGKILLed and started again;
 *   store-outage   the store (etcd) is stopped for 20 s (designs with a store);
 *   link-cut       the underlay between a's and b's hosts is cut (cutLink) for a while (mesh: it may relay).
 * Reported: whether traffic broke at all, how long it was down, and how long after the repair
 * it flowed again — or that it did not come back within the bound.
 */
import path from 'node:path';
import type { ClusterLab } from '../cluster-lab.js';
import { REPO, run, sleep } from '../sim-host.js';
import { ErrorList, WeftError } from '../../errors.js';
import { WeftClient } from '../../cli/client.js';
import type { FailureKind, FailureResult } from './compare-types.js';
import type { CompareEndpoint } from './design-adapter.js';
import { background, mustRunIn, nextLine, waitListening } from './endpoint-tools.js';

const PROBE = path.join(REPO, 'dist/src/lab/compare/recovery-probe.js');
const INTERVAL_MS = 100;
const RECOVER_BOUND_MS = 30_000;
/** Traffic counts as back once it stayed up this long. */
const STABLE_MS = 1000;

export interface FailureContext {
  lab: ClusterLab;
  a: CompareEndpoint;
  b: CompareEndpoint;
  port: number;
  prefix: string;
  storeOutageMs: number;
  linkCutMs: number;
}

/** Down intervals from the prober's transitions (pure): [{down, up?}] after `since`. */
export function outages(lines: string[], since: number): { down: number; up?: number }[] {
  const out: { down: number; up?: number }[] = [];
  for (const l of lines) {
    const [what, ts] = l.split(' ');
    const t = Number(ts);
    if (what === 'down' && t >= since) out.push({ down: t });
    else if (what === 'up' && out.length && out[out.length - 1]!.up === undefined) out[out.length - 1]!.up = t;
  }
  return out;
}

export async function measureFailure(c: FailureContext, kind: FailureKind): Promise<FailureResult> {
  const { a, b, lab } = c;
  const server = background(b, ['sockperf', 'sr', '--tcp', '-i', b.address, '-p', String(c.port)]);
  try {
    await waitListening(b, c.port, server);
    const prober = background(a, [process.execPath, PROBE, b.address, String(c.port), String(INTERVAL_MS)]);
    try {
      if ((await nextLine(prober, 30_000)) !== 'ready') throw new Error(`recovery prober did not start: ${prober.output()}`);
      // Traffic must flow before the fault (a previous fault may still be healing): bounded wait.
      const upBy = Date.now() + 20_000;
      for (
        let line = await nextLine(prober, 20_000);
        !line.startsWith('up ');
        line = await nextLine(prober, Math.max(1, upBy - Date.now()))
      );
      const tFault = Date.now();
      let what: string;
      if (kind === 'weftd-restart') {
        await lab.kill(b.host);
        await startWeftd(lab, b.host);
        what = `weftd on ${b.host} SIGKILLed and restarted`;
      } else if (kind === 'store-outage') {
        const e = lab.state.etcd[0];
        if (!e) throw new Error('the lab has no store');
        await lab.kill(e.name);
        try {
          await sleep(c.storeOutageMs);
        } finally {
          await lab.start(e.name);
        }
        await storeBack(lab);
        what = `store ${e.name} stopped for ${c.storeOutageMs} ms`;
      } else {
        await cutLink(c, async () => sleep(c.linkCutMs));
        what = `underlay ${lab.host(a.host).address}↔${lab.host(b.host).address} cut for ${c.linkCutMs} ms`;
      }
      const tRepair = Date.now();
      // Wait (bounded) until the prober has been up for STABLE_MS after the repair.
      const deadline = tRepair + RECOVER_BOUND_MS;
      let lines: string[] = [];
      for (;;) {
        lines = prober
          .output()
          .split('\n')
          .filter((l) => /^(up|down) \d+$/.test(l));
        const last = lines[lines.length - 1]!;
        const [state, ts] = last.split(' ');
        if (state === 'up' && Date.now() - Math.max(Number(ts), tRepair) >= STABLE_MS) break;
        if (Date.now() > deadline) {
          return {
            kind,
            fault: what,
            faultMs: tRepair - tFault,
            broke: true,
            downMs: Date.now() - tFault,
            recoveredAfterRepairMs: null,
            evidence: `${what}; traffic not back ${RECOVER_BOUND_MS} ms after the repair (last: ${last})`,
          };
        }
        await sleep(200);
      }
      const outs = outages(lines, tFault);
      if (outs.length === 0)
        return {
          kind,
          fault: what,
          faultMs: tRepair - tFault,
          broke: false,
          downMs: 0,
          recoveredAfterRepairMs: 0,
          evidence: `${what}; no probe failed`,
        };
      const downMs = outs.reduce((s, o) => s + ((o.up ?? Date.now()) - o.down), 0);
      const back = outs[outs.length - 1]!.up!;
      return {
        kind,
        fault: what,
        faultMs: tRepair - tFault,
        broke: true,
        downMs,
        recoveredAfterRepairMs: Math.max(0, back - tRepair),
        evidence: `${what}; ${outs.length} outage(s), ${downMs} ms down in all; back ${Math.max(0, back - tRepair)} ms after the repair`,
      };
    } finally {
      prober.stop();
    }
  } finally {
    server.stop();
  }
}

/**
 * Cut the underlay between a's and b's hosts, run `during`, always remove the cut.
 * On an l2 underlay the cut is in the switch: frames between the two hosts' ports are dropped
 * (nft bridge family), so everything between them stops — encapsulated packets, routed ones
 * the hosts forward, and macvlan children's — while both still reach the third host and the
 * store. Elsewhere (l3), packets to and from the peer host's address are dropped in both hosts.
 */
export async function cutLink(
  c: { lab: ClusterLab; a: CompareEndpoint; b: CompareEndpoint; prefix: string },
  during: () => Promise<unknown>,
): Promise<void> {
  const table = `${c.prefix}cut`;
  const ha = c.lab.host(c.a.host);
  const hb = c.lab.host(c.b.host);
  const sw = `wl-${c.lab.state.name}-sw`;
  const cuts: { ns: string; family: string; rules: string }[] = c.lab.state.namespaces.includes(sw)
    ? [{ ns: sw, family: 'bridge', rules: switchCut(table, `v-${ha.name}`, `v-${hb.name}`) }]
    : [
        { ns: ha.ns, family: 'inet', rules: hostCut(table, hb.address) },
        { ns: hb.ns, family: 'inet', rules: hostCut(table, ha.address) },
      ];
  const errors = new ErrorList('link cut');
  try {
    for (const x of cuts) await mustRunIn(x.ns, ['nft', '-f', '-'], { input: x.rules });
    await during();
  } finally {
    for (const x of cuts) {
      await errors.run(async () => {
        const r = await run('nsenter', [`--net=/run/netns/${x.ns}`, 'nft', 'delete', 'table', x.family, table]);
        if (r.code !== 0 && !/No such file/.test(r.stderr)) throw new Error(`nft delete table in ${x.ns}: ${r.stderr.trim()}`);
      });
    }
  }
  errors.throwIfAny();
}

/** nft rules (pure): the switch forwards nothing between two ports. */
export const switchCut = (table: string, p: string, q: string): string =>
  `table bridge ${table} {\n chain cut { type filter hook forward priority -200; policy accept; iifname "${p}" oifname "${q}" drop; iifname "${q}" oifname "${p}" drop; }\n}\n`;

/** nft rules (pure): a host neither sends to nor accepts from its peer's address. */
const hostCut = (table: string, peer: string): string =>
  `table inet ${table} {\n chain in { type filter hook input priority -310; policy accept; ip saddr ${peer} drop; }\n chain out { type filter hook output priority -310; policy accept; ip daddr ${peer} drop; }\n}\n`;

/**
 * Start a host's weftd and wait until it answers. lab.start gives up after 30 s, which a weftd
 * with a design's state to restore can need on a loaded machine: then keep asking (bounded).
 */
export async function startWeftd(lab: ClusterLab, host: string, boundMs = 120_000): Promise<void> {
  const t0 = Date.now();
  try {
    await lab.start(host);
    return;
  } catch (err) {
    if (!(err instanceof WeftError && err.code === 'WEFT_TIMEOUT')) throw err;
  }
  const client = new WeftClient(lab.host(host).socket, 5000);
  try {
    for (;;) {
      const ok = await client.request('GET', '/v1/info').then(
        () => true,
        () => false,
      );
      if (ok) return;
      if (Date.now() - t0 > boundMs) throw new WeftError('WEFT_TIMEOUT', `weftd on ${host} did not answer within ${boundMs} ms`);
      await sleep(500);
    }
  } finally {
    client.close();
  }
}

/**
 * After the store comes back, wait (bounded) until every host's weftd reads it again: its
 * client may hold its circuit breaker open for a while, and the next step (or design) must not
 * start on a store weftd still refuses.
 */
export async function storeBack(lab: ClusterLab, boundMs = 60_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (const h of lab.state.hosts) {
    if (h.noStore || !h.pid) continue;
    const client = new WeftClient(h.socket, 5000);
    try {
      for (;;) {
        const ok = await client.request('GET', '/v1/hosts').then(
          () => true,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline)
          throw new WeftError('WEFT_TIMEOUT', `weftd on ${h.name} did not read the store again within ${boundMs} ms`);
        await sleep(500);
      }
    } finally {
      client.close();
    }
  }
}
