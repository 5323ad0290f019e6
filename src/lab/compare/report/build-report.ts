/** compare.json → every file of the report: compare.md, compare.html and plots/*.svg (pure). */
import type { CompareReport } from '../compare-types.js';
import { plotData } from './plot-data.js';
import { reportHtml } from './report-html.js';
import { reportMarkdown } from './report-markdown.js';
import { barChartSvg, cdfSvg } from './svg-charts.js';
import { topologySvg } from './svg-topology.js';

/** The plots by name (throughput, latency, convergence, cpu, topology). */
export function plotSvgs(r: CompareReport): Record<string, string> {
  const p = plotData(r);
  return {
    throughput: barChartSvg(p.throughput),
    latency: barChartSvg(p.latency),
    convergence: cdfSvg(
      p.convergence,
      r.designs.map((d) => d.design),
    ),
    cpu: barChartSvg(p.cpu),
    topology: topologySvg(r),
  };
}

/** File name (relative to --out) → content. */
export function buildReport(r: CompareReport): Record<string, string> {
  const svgs = plotSvgs(r);
  return {
    'compare.md': reportMarkdown(r),
    'compare.html': reportHtml(r, svgs),
    ...Object.fromEntries(Object.entries(svgs).map(([k, v]) => [`plots/${k}.svg`, v])),
  };
}
