/** The numbers each plot shows, taken from compare.json (pure; the unit test checks these). */
import type { CompareReport, Stat } from '../compare-types.js';
import { percentile } from '../stats.js';

export interface Bar {
  series: string;
  value: number;
  min: number;
  max: number;
}
export interface BarGroup {
  design: string;
  bars: Bar[];
}
export interface BarPlot {
  id: string;
  title: string;
  unit: string;
  groups: BarGroup[];
}
export interface CdfPlot {
  id: string;
  title: string;
  unit: string;
  series: { design: string; points: [number, number][] }[];
}

const bar = (series: string, s: Stat): Bar => ({ series, value: s.median, min: s.min, max: s.max });

export function plotData(r: CompareReport): { throughput: BarPlot; latency: BarPlot; cpu: BarPlot; convergence: CdfPlot } {
  const ok = r.designs.filter((d) => d.status === 'ok' || d.throughput);
  return {
    throughput: {
      id: 'throughput',
      title: 'Throughput (iperf3, median; whiskers min–max)',
      unit: 'Gbit/s',
      groups: ok.flatMap((d) =>
        d.throughput
          ? [{ design: d.design, bars: [bar('1 stream', d.throughput.oneStream), bar('4 streams', d.throughput.fourStreams)] }]
          : [],
      ),
    },
    latency: {
      id: 'latency',
      title: 'Round-trip latency (sockperf ping-pong, TCP)',
      unit: 'µs',
      groups: ok.flatMap((d) => (d.latency ? [{ design: d.design, bars: [bar('p50', d.latency.p50), bar('p99', d.latency.p99)] }] : [])),
    },
    cpu: {
      id: 'cpu',
      title: 'CPU per Gbit/s (iperf3 process times; machine-wide from /proc/stat)',
      unit: '% of a core per Gbit/s',
      groups: ok.flatMap((d) =>
        d.cpu
          ? [
              {
                design: d.design,
                bars: [bar('sender', d.cpu.senderPerGbit), bar('receiver', d.cpu.receiverPerGbit), bar('machine', d.cpu.machinePerGbit)],
              },
            ]
          : [],
      ),
    },
    convergence: {
      id: 'convergence',
      title: 'Convergence: new endpoint → first connect from the other host (CDF)',
      unit: 'ms',
      series: ok.flatMap((d) => {
        const s = [...(d.convergence?.samplesMs ?? [])].sort((a, b) => a - b);
        return s.length ? [{ design: d.design, points: s.map((x, i): [number, number] => [x, (i + 1) / s.length]) }] : [];
      }),
    },
  };
}

/** p50 / p99 of a design's convergence samples, for tables. */
export const convergencePct = (samples: number[]): { p50: number; p99: number } => ({
  p50: percentile(samples, 50),
  p99: percentile(samples, 99),
});
