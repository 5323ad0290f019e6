/** One message over one protocol from an endpoint to another, as an experiment with an outcome and evidence. */
import type { Outcome } from '../compare-types.js';
import type { CompareEndpoint } from '../design-adapter.js';
import { background, brief, nextLine } from '../endpoint-tools.js';
import { protoSend, protoServe, type ProtoName } from './proto-tool.js';

export interface Trial {
  outcome: Outcome;
  evidence: string;
}

/**
 * Start a server in `to`, send a marker from `from`, and see it arrive (and, for tcp/udp/sctp,
 * the echo come back). A protocol the kernel lacks is n-a, not "no". `tries` covers a design
 * that is still converging (each try is bounded by the tool's own 8 s socket timeout).
 */
export async function exchange(from: CompareEndpoint, to: CompareEndpoint, proto: ProtoName, port: number, tries = 2): Promise<Trial> {
  const marker = `weft-cmp-${proto}-${Math.random().toString(16).slice(2, 8)}`;
  for (let attempt = 1; ; attempt++) {
    const server = background(to, protoServe('serve', proto, proto === 'raw' ? '0.0.0.0' : to.address, port));
    try {
      const first = await nextLine(server, 15_000).catch((e: unknown) => `no start: ${(e as Error).message}`);
      if (first.startsWith('socket:'))
        return { outcome: 'n-a', evidence: `${proto} socket in ${to.id}: ${first.slice(8)} (the kernel lacks it)` };
      if (first !== 'listening') return { outcome: 'no', evidence: `${proto} server in ${to.id} did not start: ${first}` };
      const r = await from.exec(protoSend(proto, to.address, port, marker), { timeoutMs: 15_000 });
      const got = await nextLine(server, proto === 'raw' ? 3000 : 1000).catch(() => '');
      const ok = got.startsWith('got') && (proto === 'raw' ? r.code === 0 : r.stdout.includes(`echo:${marker}`));
      if (ok)
        return {
          outcome: 'yes',
          evidence: `${proto} ${from.id}→${to.address}: ${proto === 'raw' ? `protocol 253 packet received (${got})` : `echo received, server saw ${got.slice(4)}`}`,
        };
      if (attempt >= tries)
        return {
          outcome: 'no',
          evidence: `${proto} ${from.id}→${to.address} not carried: sender ${brief(r, 100)}; server ${got || 'saw nothing'}`,
        };
    } finally {
      server.stop();
    }
  }
}

/** ICMP echo (or ICMPv6 with v6) with busybox ping: 2 packets, 2 s each. */
export async function ping(from: CompareEndpoint, addr: string, v6 = false): Promise<Trial> {
  const r = await from.exec(['busybox', 'ping', ...(v6 ? ['-6'] : []), '-c', '2', '-W', '2', addr], { timeoutMs: 10_000 });
  const m = /(\d+) packets received/.exec(r.stdout);
  const ok = r.code === 0 && !!m && Number(m[1]) > 0;
  return { outcome: ok ? 'yes' : 'no', evidence: `ping${v6 ? ' -6' : ''} ${from.id}→${addr}: ${m ? `${m[1]}/2 replies` : brief(r, 100)}` };
}
