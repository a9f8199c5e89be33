import { describe, expect, it } from 'vitest';
import { gflopsPerSecond, median, summarizeTimes } from './stats.js';

describe('statistics', () => {
  it('takes the median of odd and even counts', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 10])).toBe(3.5);
  });

  it('summarizes step times', () => {
    const s = summarizeTimes([10, 30, 20, 40, 1000]);
    expect(s).toEqual({
      steps: 5,
      ms_median: 30,
      ms_min: 10,
      ms_max: 1000,
      ms_mean: 220,
      steps_per_s: 1000 / 30,
    });
  });

  it('refuses no steps and non-finite times', () => {
    expect(() => summarizeTimes([])).toThrow(/no timed steps/);
    expect(() => summarizeTimes([1, Number.NaN])).toThrow(/NaN ms/);
  });

  it('turns FLOP and milliseconds into GFLOP/s', () => {
    expect(gflopsPerSecond(2e9, 100)).toBeCloseTo(20, 12);
  });
});
