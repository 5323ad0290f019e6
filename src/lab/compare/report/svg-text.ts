/** Escaping and number formatting shared by the SVG, Markdown and HTML builders (pure). */
export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A figure with 3 significant digits (but no exponent for the sizes seen here). */
export function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** One colour per design, the same in every plot (Tableau 10). */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export const colourOf = (i: number): string => PALETTE[i % PALETTE.length]!;
/** Shades for the series inside a group (1 stream / 4 streams, p50 / p99 …). */
export const SERIES_SHADES = ['#4e79a7', '#f28e2b', '#76b7b2', '#e15759'];
