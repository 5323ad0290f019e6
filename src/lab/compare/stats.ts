/** Medians, percentiles and spreads of repeated measurements (pure). */
import type { Stat } from './compare-types.js';

/** The p-th percentile (nearest rank) of samples; NaN for none. */
export function percentile(samples: readonly number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function statOf(samples: readonly number[], unit: string): Stat {
  return {
    unit,
    n: samples.length,
    median: percentile(samples, 50),
    min: samples.length ? Math.min(...samples) : NaN,
    max: samples.length ? Math.max(...samples) : NaN,
    samples: [...samples],
  };
}

/** Round for JSON: 3 significant decimals are more than these measurements carry. */
export const round3 = (x: number): number => Math.round(x * 1000) / 1000;
