/** compare.md: the seed's table with weft's measured columns, the numbers, the evidence, the plots. */
import type { CompareReport } from '../compare-types.js';
import { FAILURE_HEADER, failureRow, MEASUREMENT_HEADER, measurementRow, timeHeader, timeRow } from './measurement-table.js';
import { seedTable } from './seed-table.js';
import { fmt } from './svg-text.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const mdTable = (header: string[], rows: string[][]) =>
  [
    `| ${header.map(cell).join(' | ')} |`,
    `|${header.map(() => ' --- ').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');

export const PLOT_FILES = ['throughput', 'latency', 'convergence', 'cpu', 'topology'] as const;

const effortText = (r: CompareReport): string => {
  const e = r.options.effort;
  return e
    ? ` (${e.reps} repetition(s) of ${e.iperfS} s iperf3 per stream count and ${e.sockperfS} s sockperf, ${e.convergence} convergence samples, ${e.churn} attaches of churn)`
    : '';
};

export function reportMarkdown(r: CompareReport): string {
  const t = seedTable(r.designs);
  const m = r.machine;
  const lines = [
    '# weft lab compare',
    '',
    `Measured ${r.createdAt} on ${m.cpus} × ${m.cpuModel}, kernel ${m.kernel}, Node ${m.node}, load average at the end ${m.loadavg.map(fmt).join(' / ')}; ` +
      `lab ${r.lab.name}: ${r.lab.hosts.length} hosts on a ${r.lab.underlay} underlay (${r.lab.subnets.join(', ')}), ${r.lab.store.length ? `etcd at ${r.lab.store.map((s) => s.address).join(', ')}` : 'no store'}. ` +
      `${r.options.quick ? 'Quick run' : 'Full run'}${effortText(r)}. Whole run ${fmt(r.totalMs / 1000)} s.`,
    '',
    "## The seed's table (000 §6.3), with weft's designs measured",
    '',
    "The seed's four columns are what the documentation said in 2015; every weft column is the outcome of an experiment in this run (evidence below). ⚠ marks a design whose adapter claimed otherwise.",
    '',
    mdTable(t.header, t.rows),
    '',
    '## Measurements',
    '',
    'Medians (min–max over the repetitions). CPU is % of one core per Gbit/s moved; "machine" is the whole machine from /proc/stat, other load included.',
    '',
    mdTable(MEASUREMENT_HEADER, r.designs.map(measurementRow)),
    '',
    '## Failure behaviour',
    '',
    'A TCP connect from a to b every 100 ms while one fault is injected and repaired; "down" is the time the connects failed in all.',
    '',
    mdTable(FAILURE_HEADER, r.designs.map(failureRow)),
    '',
    '## Where the time went (s)',
    '',
    mdTable(
      timeHeader(r.designs),
      r.designs.map((d) => timeRow(d, timeHeader(r.designs))),
    ),
    '',
    '## Plots',
    '',
    ...PLOT_FILES.map((p) => `![${p}](plots/${p}.svg)`),
    '',
    '## Evidence',
    '',
    ...r.designs.flatMap((d) => [
      `### ${d.design} — ${d.title}`,
      '',
      `Endpoints: ${d.endpoints.map((e) => `${e.id} on ${e.host} ${e.address}${e.address6 ? ` / ${e.address6}` : ''}`).join('; ') || 'none'}. ${d.status === 'ok' ? '' : `**Failed:** ${d.error ?? ''}`}`,
      '',
      ...(d.failures ?? []).map((f) => `- **failure ${f.kind}**: ${f.evidence}`),
      ...d.checks.map(
        (c) =>
          `- **${c.id}**: ${c.outcome}${c.failed ? ' (experiment failed)' : ''}${c.claimed ? ` (claimed ${c.claimed})` : ''} — ${c.evidence}`,
      ),
      '',
    ]),
  ];
  return lines.join('\n');
}
