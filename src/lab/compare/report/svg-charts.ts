/**
 * Bar charts and CDF plots as standalone SVG strings. Scales, ticks and line paths come from
 * d3-scale and d3-shape (pure functions, no DOM, ES modules on Node 20); this file only lays
 * out the elements. Every mark carries data-* attributes so tests can read the plot back.
 */
import { scaleBand, scaleLinear, scaleLog } from 'd3-scale';
import { curveStepAfter, line } from 'd3-shape';
import type { BarPlot, CdfPlot } from './plot-data.js';
import { colourOf, esc, fmt, SERIES_SHADES } from './svg-text.js';

const W = 760;
const M = { top: 40, right: 30, bottom: 44, left: 150 };

function frame(id: string, title: string, h: number, body: string, legend: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="plot" data-plot="${id}" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" role="img" aria-label="${esc(title)}" font-family="sans-serif" font-size="12">` +
    `<title>${esc(title)}</title><rect width="${W}" height="${h}" fill="#fff"/>` +
    `<text x="${M.left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>${body}${legend}</svg>\n`
  );
}

function xAxis(ticks: number[], x: (v: number) => number, y: number, h: number, unit: string): string {
  const t = ticks
    .map(
      (v) =>
        `<g transform="translate(${x(v).toFixed(1)},0)"><line y1="${M.top}" y2="${y}" stroke="#ddd"/><text y="${y + 16}" text-anchor="middle">${fmt(v)}</text></g>`,
    )
    .join('');
  return `<g class="axis">${t}<text x="${(M.left + W - M.right) / 2}" y="${h - 8}" text-anchor="middle">${esc(unit)}</text></g>`;
}

function legendOf(names: string[], colour: (i: number) => string): string {
  return names
    .map(
      (n, i) =>
        `<g transform="translate(${M.left + i * 130},26)"><rect y="0" width="10" height="10" fill="${colour(i)}"/><text x="14" y="9">${esc(n)}</text></g>`,
    )
    .join('');
}

/** Horizontal grouped bars, one group per design, with min–max whiskers. */
export function barChartSvg(p: BarPlot): string {
  const series = [...new Set(p.groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const barH = 14;
  const groupH = series.length * barH + 14;
  const h = M.top + 10 + Math.max(1, p.groups.length) * groupH + M.bottom;
  const max = Math.max(1e-9, ...p.groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.max].filter(Number.isFinite))));
  const x = scaleLinear()
    .domain([0, max])
    .nice()
    .range([M.left, W - M.right]);
  const y = scaleBand<string>()
    .domain(p.groups.map((g) => g.design))
    .range([M.top + 10, h - M.bottom])
    .paddingInner(0.15);
  const body = p.groups
    .map((g) => {
      const y0 = y(g.design)!;
      const bars = g.bars
        .map((b) => {
          const si = series.indexOf(b.series);
          const by = y0 + si * barH;
          const v = Number.isFinite(b.value) ? b.value : 0;
          const whisker =
            Number.isFinite(b.min) && Number.isFinite(b.max) && b.max > b.min
              ? `<line class="whisker" x1="${x(b.min).toFixed(1)}" x2="${x(b.max).toFixed(1)}" y1="${by + barH / 2 - 1}" y2="${by + barH / 2 - 1}" stroke="#333"/>`
              : '';
          return (
            `<rect class="bar" data-design="${esc(g.design)}" data-series="${esc(b.series)}" data-value="${b.value}" x="${M.left}" y="${by}" width="${Math.max(0, x(v) - M.left).toFixed(1)}" height="${barH - 2}" fill="${SERIES_SHADES[si % SERIES_SHADES.length]}">` +
            `<title>${esc(`${g.design} ${b.series}: ${fmt(b.value)} ${p.unit} (min ${fmt(b.min)}, max ${fmt(b.max)})`)}</title></rect>${whisker}` +
            `<text x="${(x(v) + 4).toFixed(1)}" y="${by + barH - 4}" font-size="10">${fmt(b.value)}</text>`
          );
        })
        .join('');
      return `<g class="group" data-design="${esc(g.design)}"><text x="${M.left - 8}" y="${y0 + (series.length * barH) / 2 + 4}" text-anchor="end">${esc(g.design)}</text>${bars}</g>`;
    })
    .join('');
  const empty = p.groups.length ? '' : `<text x="${M.left}" y="${M.top + 30}">no data</text>`;
  return frame(
    p.id,
    p.title,
    h,
    xAxis(x.ticks(6), x, h - M.bottom, h, p.unit) + body + empty,
    legendOf(series, (i) => SERIES_SHADES[i % SERIES_SHADES.length]!),
  );
}

/** Empirical CDFs, one step line per design; a log x axis when the values span more than 50×. */
export function cdfSvg(p: CdfPlot, designOrder: string[]): string {
  const h = 340;
  const xs = p.series.flatMap((s) => s.points.map((q) => q[0])).filter((v) => v > 0);
  const lo = xs.length ? Math.min(...xs) : 1;
  const hi = xs.length ? Math.max(...xs) : 10;
  const log = hi / lo > 50;
  const x = log
    ? scaleLog()
        .domain([lo, hi])
        .nice()
        .range([M.left, W - M.right])
    : scaleLinear()
        .domain([0, hi])
        .nice()
        .range([M.left, W - M.right]);
  const y = scaleLinear()
    .domain([0, 1])
    .range([h - M.bottom, M.top + 10]);
  const path = line<[number, number]>()
    .x((q) => x(Math.max(q[0], log ? lo : 0)))
    .y((q) => y(q[1]))
    .curve(curveStepAfter);
  const yTicks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (v) =>
        `<g><line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text></g>`,
    )
    .join('');
  const colour = (d: string) => colourOf(Math.max(0, designOrder.indexOf(d)));
  const lines = p.series
    .map((s) => {
      const pts: [number, number][] = [[s.points[0]![0], 0], ...s.points];
      return `<path class="cdf" data-design="${esc(s.design)}" data-n="${s.points.length}" d="${path(pts) ?? ''}" fill="none" stroke="${colour(s.design)}" stroke-width="2"><title>${esc(`${s.design}: ${s.points.length} samples`)}</title></path>`;
    })
    .join('');
  const ticks = log ? x.ticks(6).filter((_, i, a) => a.length < 10 || i % 2 === 0) : x.ticks(6);
  const empty = p.series.length ? '' : `<text x="${M.left}" y="${M.top + 30}">no data</text>`;
  return frame(
    p.id,
    p.title,
    h,
    yTicks + xAxis(ticks, (v) => x(v), h - M.bottom, h, `${p.unit}${log ? ' (log scale)' : ''}`) + lines + empty,
    legendOf(
      p.series.map((s) => s.design),
      (i) => colour(p.series[i]!.design),
    ),
  );
}
