/**
 * `weft doctor [--repair]`: compare the store with the kernel, report and optionally repair.
 * The report is weft's own object (camelCase keys, as the REST API has it); templates see it
 * whole ({{.ok}}, {{.counts.networks}}, {{range .violations}}…); `table` lists each finding.
 */
import type { Command } from 'commander';
import type { DoctorReport } from '../controller/doctor.js';
import type { CliContext } from './cli-context.js';
import { FORMAT_OPTION, renderList, renderOne, write, type View } from './output.js';
import { parseFormat } from './format/format-spec.js';

interface Finding {
  status: 'repaired' | 'violation' | 'ok';
  detail: string;
}

const findingsView: View<Finding> = {
  columns: [
    { header: 'STATUS', cell: (f) => f.status },
    { header: 'DETAIL', cell: (f) => f.detail },
  ],
};

const reportView: View<DoctorReport> = { columns: [] };

function findings(r: DoctorReport): Finding[] {
  const out: Finding[] = [
    ...(r.repaired ?? []).map((d) => ({ status: 'repaired' as const, detail: d })),
    ...r.violations.map((d) => ({ status: 'violation' as const, detail: d })),
  ];
  const c = r.counts;
  if (out.length === 0)
    out.push({
      status: 'ok',
      detail: `${c.networks} networks, ${c.sandboxes} sandboxes, ${c.endpoints} endpoints, ${c.allocations} allocations`,
    });
  return out;
}

function text(r: DoctorReport): string {
  const c = r.counts;
  return (
    `${c.networks} networks, ${c.sandboxes} sandboxes, ${c.endpoints} endpoints, ${c.allocations} allocations\n` +
    (r.repaired ?? []).map((x) => `repaired: ${x}\n`).join('') +
    r.violations.map((x) => `violation: ${x}\n`).join('') +
    (r.ok ? 'ok\n' : `${r.violations.length} violation(s)\n`)
  );
}

export function register(program: Command, cli: CliContext): void {
  program
    .command('doctor')
    .description(
      'check that the kernel matches the store (links, addresses, routes, allocations); --repair fixes what it can; exit 3 on violations',
    )
    .option('--repair', 'reconcile and report what is left')
    .option(...FORMAT_OPTION)
    .action(async (o: { repair?: boolean; format?: string }) => {
      const format = parseFormat(o.format);
      const r = await cli.client().request<DoctorReport>('GET', `/v1/doctor${o.repair ? '?repair=true' : ''}`);
      if (format.kind === 'table') write(renderList(findings(r), format.template ? format : { kind: 'table' }, findingsView));
      else write(renderOne(r, format, reportView, () => text(r).replace(/\n$/, '')));
      if (!r.ok) process.exitCode = 3;
    });
}
