/** The measured numbers as one row per design (pure): used by both the Markdown and the HTML. */
import type { DesignResult } from '../compare-types.js';
import { convergencePct } from './plot-data.js';
import { fmt } from './svg-text.js';

export const MEASUREMENT_HEADER = [
  'design',
  'hosts of a, b',
  '1 stream Gbit/s',
  '4 streams Gbit/s',
  'RTT p50 µs',
  'RTT p99 µs',
  'sender %core/Gbit/s',
  'receiver %core/Gbit/s',
  'machine %core/Gbit/s',
  'convergence p50 / p99 ms',
  'of which create p50 ms',
  'store pkts/s per host at rest',
  'store pkts per attach',
  'weftd KiB per endpoint',
  'status',
];

const spread = (s: { median: number; min: number; max: number; n: number } | undefined) =>
  s ? `${fmt(s.median)}${s.n > 1 ? ` (${fmt(s.min)}–${fmt(s.max)})` : ''}` : '–';

export function measurementRow(d: DesignResult): string[] {
  const conv = d.convergence && d.convergence.samplesMs.length ? convergencePct(d.convergence.samplesMs) : undefined;
  const create = d.convergence && d.convergence.createMs.length ? convergencePct(d.convergence.createMs).p50 : undefined;
  const rest = d.controlPlane?.rest.perHost;
  const restStore = rest && rest.length ? rest.reduce((s, h) => s + h.storePktsPerS, 0) / rest.length : undefined;
  return [
    d.design,
    d.endpoints
      .slice(0, 2)
      .map((e) => e.host)
      .join(', ') || '–',
    spread(d.throughput?.oneStream),
    spread(d.throughput?.fourStreams),
    spread(d.latency?.p50),
    spread(d.latency?.p99),
    spread(d.cpu?.senderPerGbit),
    spread(d.cpu?.receiverPerGbit),
    spread(d.cpu?.machinePerGbit),
    conv ? `${fmt(conv.p50)} / ${fmt(conv.p99)}${d.convergence!.failures ? ` (${d.convergence!.failures} failed)` : ''}` : '–',
    fmt(create),
    fmt(restStore),
    fmt(d.controlPlane?.churn.storePktsPerAttach),
    fmt(d.memory?.perEndpointKiB),
    d.status === 'ok' ? 'ok' : `failed: ${d.error ?? ''}`,
  ];
}

/** Failure behaviour: one row per design, one cell per fault (pure). */
export const FAILURE_KINDS = ['weftd-restart', 'store-outage', 'link-cut'] as const;
export const FAILURE_HEADER = ['design', 'weftd killed + restarted', 'store away 20 s', 'underlay link cut (mesh)'];

export function failureRow(d: DesignResult): string[] {
  return [
    d.design,
    ...FAILURE_KINDS.map((k) => {
      const f = d.failures?.find((x) => x.kind === k);
      if (!f) return '–';
      if (f.failed) return `experiment failed: ${f.evidence}`;
      if (!f.broke) return 'traffic never stopped';
      if (f.recoveredAfterRepairMs === null) return `not back 30 s after the repair`;
      return `down ${fmt(f.downMs)} ms; back ${fmt(f.recoveredAfterRepairMs)} ms after the repair`;
    }),
  ];
}

/** Where each design's time went (seconds per step), to keep the run inside its budget. */
export function timeHeader(designs: DesignResult[]): string[] {
  const steps = [...new Set(designs.flatMap((d) => Object.keys(d.stepsMs ?? {})))];
  return ['design', ...steps, 'total s'];
}
export function timeRow(d: DesignResult, header: string[]): string[] {
  return [
    d.design,
    ...header.slice(1, -1).map((s) => (d.stepsMs?.[s] !== undefined ? fmt(d.stepsMs[s] / 1000) : '–')),
    fmt(d.durationMs / 1000),
  ];
}
