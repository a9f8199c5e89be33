/** Summary statistics of per-step times (milliseconds). */
export interface TimeSummary {
  steps: number;
  ms_median: number;
  ms_min: number;
  ms_max: number;
  ms_mean: number;
  /** steps per second at the median step time */
  steps_per_s: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median, min, max, mean and rate; medians because a shared machine has long-tailed noise. */
export function summarizeTimes(ms: readonly number[]): TimeSummary {
  if (ms.length === 0) throw new Error('no timed steps to summarize');
  for (const t of ms) {
    if (!(t >= 0) || !Number.isFinite(t))
      throw new Error(`step time ${t} ms is not a finite non-negative number`);
  }
  const med = median(ms);
  return {
    steps: ms.length,
    ms_median: med,
    ms_min: Math.min(...ms),
    ms_max: Math.max(...ms),
    ms_mean: ms.reduce((a, b) => a + b, 0) / ms.length,
    steps_per_s: 1000 / med,
  };
}

/** Achieved GFLOP/s: the step's nominal FLOP count over the median step time. */
export function gflopsPerSecond(flops: number, msMedian: number): number {
  return flops / (msMedian * 1e6);
}
