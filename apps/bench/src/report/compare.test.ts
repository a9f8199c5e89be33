import { describe, expect, it } from 'vitest';
import { type CompareRow, compareRuns, rowsOfResultsFile } from './compare.js';

const row = (ms_median: number, ms_min: number, ms_max: number, impl = 'fused'): CompareRow => ({
  config: 'M',
  backend: 'wasm',
  impl,
  method: 'SGD-C',
  ms_median,
  ms_min,
  ms_max,
});

describe('compare against a previous run', () => {
  it('gives current / previous and calls a change only when the ranges do not overlap', () => {
    const previous = [row(10, 9, 11), row(10, 9, 11, 'reference'), row(50, 40, 60, 'tfjs-layers')];
    const current = [
      row(20, 18, 22),
      row(10.5, 9.5, 12, 'reference'),
      row(20, 15, 30, 'tfjs-layers'),
      row(1, 1, 1, 'new'),
    ];
    const c = compareRuns(current, previous);
    expect(c.map((x) => [x.impl, x.ratio, x.verdict])).toEqual([
      ['fused', 2, 'slower'],
      ['reference', 1.05, '~'],
      ['tfjs-layers', 0.4, 'faster'],
    ]);
  });

  it('refuses a file that is not a results file', () => {
    expect(() => rowsOfResultsFile({}, 'old.json')).toThrow(/old\.json is not a bench results file/);
    expect(() => rowsOfResultsFile({ rows: [{ ...row(1, 1, 1), ms_max: '3' }] }, 'old.json')).toThrow(
      /old\.json: rows\[0\]\.ms_max should be a number/,
    );
  });
});
