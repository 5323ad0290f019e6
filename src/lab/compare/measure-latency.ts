/** Request/response latency: sockperf ping-pong over TCP, full round trips, p50 and p99 in µs. */
import type { CompareEndpoint } from './design-adapter.js';
import { background, waitListening } from './endpoint-tools.js';

/** The percentiles sockperf printed (pure). */
export function parseSockperf(text: string): { p50: number; p99: number } {
  const pct = (p: string): number => {
    const m = new RegExp(`percentile ${p.replace('.', '\\.')} =\\s*([0-9.]+)`).exec(text);
    if (!m) throw new Error(`sockperf output has no percentile ${p}: ${text.slice(-300)}`);
    return Number(m[1]);
  };
  return { p50: pct('50.000'), p99: pct('99.000') };
}

export async function sockperfOnce(
  from: CompareEndpoint,
  to: CompareEndpoint,
  seconds: number,
  port: number,
): Promise<{ p50: number; p99: number }> {
  const server = background(to, ['sockperf', 'sr', '--tcp', '-i', to.address, '-p', String(port)]);
  try {
    await waitListening(to, port, server);
    const r = await from.exec(['sockperf', 'pp', '--tcp', '--full-rtt', '-i', to.address, '-p', String(port), '-t', String(seconds)], {
      timeoutMs: seconds * 1000 + 20_000,
    });
    if (r.code !== 0) throw new Error(`sockperf to ${to.address}: ${(r.stdout + r.stderr).slice(-300)}`);
    return parseSockperf(r.stdout + r.stderr);
  } finally {
    server.stop();
  }
}
