/**
 * Throughput with iperf3 (1 and 4 TCP streams) from endpoint a to endpoint b, and the CPU it
 * costs: iperf3's own process times on the sender and the receiver (getrusage, as it reports
 * them) and the whole machine's busy time from /proc/stat, each per Gbit/s moved.
 */
import os from 'node:os';
import type { CompareEndpoint } from './design-adapter.js';
import { background, waitListening } from './endpoint-tools.js';
import { busyCores, readCpu } from './proc-stat.js';

export interface IperfRun {
  gbps: number;
  /** % of one core used by the sender / receiver process, per Gbit/s. */
  senderPerGbit: number;
  receiverPerGbit: number;
  /** % of one core used machine-wide, per Gbit/s (includes everything else running). */
  machinePerGbit: number;
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { bits_per_second?: number };
    cpu_utilization_percent?: { host_total?: number; remote_total?: number };
  };
}

/** Parse iperf3 -J output into a run (pure). */
export function parseIperf(json: string, machineCores: number): IperfRun {
  const j = JSON.parse(json) as IperfJson;
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  const bps = j.end?.sum_received?.bits_per_second;
  const cpu = j.end?.cpu_utilization_percent;
  if (!bps || !cpu) throw new Error('iperf3 JSON has no end.sum_received / cpu_utilization_percent');
  const gbps = bps / 1e9;
  return {
    gbps,
    senderPerGbit: (cpu.host_total ?? NaN) / gbps,
    receiverPerGbit: (cpu.remote_total ?? NaN) / gbps,
    machinePerGbit: (machineCores * 100) / gbps,
  };
}

/** One iperf3 run: a one-off server in `to`, the client in `from`. */
export async function iperfOnce(
  from: CompareEndpoint,
  to: CompareEndpoint,
  streams: number,
  seconds: number,
  port: number,
): Promise<IperfRun> {
  const server = background(to, ['iperf3', '-s', '-1', '-p', String(port)]);
  try {
    const before = readCpu();
    await waitListening(to, port, server);
    const r = await from.exec(['iperf3', '-c', to.address, '-p', String(port), '-t', String(seconds), '-P', String(streams), '-J'], {
      timeoutMs: seconds * 1000 + 20_000,
    });
    const after = readCpu();
    if (r.code !== 0)
      throw new Error(`iperf3 to ${to.address}: ${(r.stdout + r.stderr).slice(0, 300)} (server: ${server.output().slice(0, 200)})`);
    return parseIperf(r.stdout, busyCores(before, after, os.cpus().length));
  } finally {
    server.stop();
  }
}
