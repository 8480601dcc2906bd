/** Medians and percentiles of timed steps, as the results file reports them. */
export interface Stats {
  /** Timed steps. */
  n: number;
  median: number;
  /** Nearest-rank 90th percentile. */
  p90: number;
  min: number;
  max: number;
  /** Every timed step, in order (ms). */
  samples: number[];
}

export function summarize(samples: number[]): Stats {
  if (samples.length === 0) throw new RangeError('no samples to summarize');
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  const p90 = sorted[Math.max(0, Math.ceil(0.9 * n) - 1)]!;
  return { n, median: round(median), p90: round(p90), min: round(sorted[0]!), max: round(sorted[n - 1]!), samples: samples.map(round) };
}

export function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
