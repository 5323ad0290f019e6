/**
 * compare.html: everything in one file that opens offline — inline CSS and SVG, no script, and
 * a Content-Security-Policy that forbids loading anything at all.
 */
import type { CompareReport } from '../compare-types.js';
import { FAILURE_HEADER, failureRow, MEASUREMENT_HEADER, measurementRow, timeHeader, timeRow } from './measurement-table.js';
import { seedTable, SEED_ROWS } from './seed-table.js';
import { esc, fmt } from './svg-text.js';

const CSS = `body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:12px 0;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
th{background:#f3f5f8;text-align:left}td.seed{color:#666;background:#fafafa}td.yes{background:#e6eef8}td.no{background:#f1f1f1}
td.warn{outline:2px solid #e15759}figure{margin:16px 0}figcaption{font-size:12px;color:#555}details{margin:6px 0}`;

const cls = (text: string) => /^(yes|no)\b/.exec(text)?.[1] ?? '';

export function reportHtml(r: CompareReport, svgs: Record<string, string>): string {
  const t = seedTable(r.designs);
  const seedRows = t.rows
    .map((row, i) => {
      const check = SEED_ROWS[i]!.check;
      const cells = row.slice(5).map((c, j) => {
        const d = r.designs[j]!;
        const ev = check ? (d.checks.find((x) => x.id === check)?.evidence ?? '') : d.model;
        return `<td class="${cls(c)}${c.includes('⚠') ? ' warn' : ''}" data-design="${esc(d.design)}" title="${esc(ev)}">${esc(c)}</td>`;
      });
      return `<tr data-row="${esc(row[0]!)}"><th>${esc(row[0]!)}</th>${row
        .slice(1, 5)
        .map((c) => `<td class="seed">${esc(c)}</td>`)
        .join('')}${cells.join('')}</tr>`;
    })
    .join('\n');
  const head = `<tr>${t.header.map((h, i) => (i >= 5 ? `<th data-design="${esc(r.designs[i - 5]!.design)}">${esc(h)}</th>` : `<th>${esc(h)}</th>`)).join('')}</tr>`;
  const mRows = r.designs
    .map(
      (d) =>
        `<tr data-design="${esc(d.design)}">${measurementRow(d)
          .map((c) => `<td>${esc(c)}</td>`)
          .join('')}</tr>`,
    )
    .join('\n');
  const rowsOf = (header: string[], rows: string[][]) =>
    `<tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>\n${rows
      .map((row, i) => `<tr data-design="${esc(r.designs[i]!.design)}">${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
      .join('\n')}`;
  const failures = rowsOf(FAILURE_HEADER, r.designs.map(failureRow));
  const th = timeHeader(r.designs);
  const times = rowsOf(
    th,
    r.designs.map((d) => timeRow(d, th)),
  );
  const figures = Object.entries(svgs)
    .map(([id, svg]) => `<figure data-plot="${esc(id)}">${svg.replace(/^<\?xml[^>]*>/, '')}<figcaption>${esc(id)}</figcaption></figure>`)
    .join('\n');
  const evidence = r.designs
    .map(
      (d) =>
        `<details data-design="${esc(d.design)}"><summary>${esc(`${d.design} — ${d.title} (${d.status})`)}</summary><ul>${(d.failures ?? [])
          .map((f) => `<li><b>failure ${esc(f.kind)}</b>: ${esc(f.evidence)}</li>`)
          .join('')}${d.checks
          .map((c) => `<li><b>${esc(c.id)}</b>: ${esc(c.outcome)}${c.failed ? ' (experiment failed)' : ''} — ${esc(c.evidence)}</li>`)
          .join('')}</ul>${d.error ? `<p>${esc(d.error)}</p>` : ''}</details>`,
    )
    .join('\n');
  const m = r.machine;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>weft lab compare — ${esc(r.createdAt)}</title><style>${CSS}</style></head>
<body>
<h1>weft lab compare</h1>
<p>${esc(`Measured ${r.createdAt} on ${m.cpus} × ${m.cpuModel}, kernel ${m.kernel}, Node ${m.node}; lab ${r.lab.name} with ${r.lab.hosts.length} hosts; ${r.options.quick ? 'quick run' : 'full run'}, ${fmt(r.totalMs / 1000)} s.`)}</p>
<h2>The seed's table (000 §6.3), with weft's designs measured</h2>
<p>Grey text: the seed's claims from documentation. The other columns: outcomes of experiments in this run (blue yes, grey no; hover a cell for its evidence).</p>
<table id="seed-table">${head}
${seedRows}</table>
<h2>Measurements</h2>
<table id="measurements"><tr>${MEASUREMENT_HEADER.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>
${mRows}</table>
<h2>Failure behaviour</h2>
<p>A TCP connect from a to b every 100 ms while one fault is injected and repaired.</p>
<table id="failures">${failures}</table>
<h2>Where the time went (s)</h2>
<table id="times">${times}</table>
<h2>Plots</h2>
${figures}
<h2>Evidence</h2>
${evidence}
</body></html>
`;
}
