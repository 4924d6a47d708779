/** Summary of a small sample, in the sample's unit: the usual median, p95 by nearest rank (no interpolation). */
export interface Summary {
  readonly min: number;
  readonly median: number;
  readonly p95: number;
  readonly max: number;
}

export function nearestRank(sorted: readonly number[], percentile: number): number {
  if (sorted.length === 0) throw new TypeError('no samples');
  const rank = Math.max(1, Math.ceil((percentile / 100) * sorted.length));
  return sorted[rank - 1];
}

function median(sorted: readonly number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** To a tenth, as the bench prints milliseconds. */
export const round1 = (n: number): number => Math.round(n * 10) / 10;
/** To a hundredth, as the bench prints ratios and CPU per request. */
export const round2 = (n: number): number => Math.round(n * 100) / 100;

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    min: round1(nearestRank(sorted, 0)),
    median: round1(median(sorted)),
    p95: round1(nearestRank(sorted, 95)),
    max: round1(nearestRank(sorted, 100)),
  };
}
