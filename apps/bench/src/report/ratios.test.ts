import { describe, expect, it } from 'vitest';
import {
  ensembleGain,
  overheads,
  type RowLike,
  speedupVsLayers,
  timeRatio,
  timeVsPytorch,
} from './ratios.js';

const row = (impl: string, method: string, ms_steps: number[], backend = 'wasm'): RowLike => ({
  config: 'P100',
  backend,
  impl,
  method: method as RowLike['method'],
  ms_median: [...ms_steps].sort((a, b) => a - b)[ms_steps.length >> 1],
  ms_steps,
});

describe('ratios', () => {
  it('pairs steps of the same round, so drift that hits both cancels', () => {
    // the machine got 10x slower in round 3 for both stacks: per-round ratios stay 2
    const a = row('reference', 'SGD', [20, 20, 200, 200, 200]);
    const b = row('fused', 'SGD', [10, 10, 100, 100, 100]);
    expect(timeRatio(a, b)).toBe(2);
    // unpaired (different lengths): the ratio of medians
    expect(timeRatio(row('x', 'SGD', [3, 4, 5]), row('y', 'SGD', [1, 2]))).toBe(4 / 2);
  });

  it('finds clip and Ω overheads per implementation', () => {
    const rows = [
      row('fused', 'SGD', [1, 1, 1]),
      row('fused', 'SGD-C', [1.1, 1.1, 1.1]),
      row('fused', 'SGD-CR', [2.2, 2.2, 2.2]),
    ];
    const o = overheads(rows);
    expect(o.map((x) => [x.impl, x.what])).toEqual([
      ['fused', 'clip'],
      ['fused', 'omega'],
    ]);
    expect(o[0].ratio).toBeCloseTo(1.1, 12);
    expect(o[1].ratio).toBeCloseTo(2, 12);
  });

  it('gives the speed-up over tfjs-layers and the time over PyTorch', () => {
    const layers = row('tfjs-layers', 'SGD', [80, 80, 80]);
    const fused = row('fused', 'SGD-C', [2, 2, 2]);
    const torch = { ...row('pytorch', 'SGD-C', [8, 8, 8], 'pytorch'), threads: 1 };
    const rows = [layers, fused, torch];
    expect(speedupVsLayers(fused, rows)).toBe(40);
    expect(speedupVsLayers(layers, rows)).toBeUndefined();
    expect(timeVsPytorch(fused, rows)).toBe(0.25);
    expect(timeVsPytorch(fused, rows, 2)).toBeUndefined();
  });

  it('gives an ensemble its gain over R separate runs, and no per-step ratios', () => {
    const fused = row('fused', 'SGD-C', [2, 2, 2]);
    const ensemble = { ...row('fused-ensemble', 'SGD-C', [8, 8, 8]), runs: 16 };
    const rows = [fused, ensemble, row('tfjs-layers', 'SGD', [80, 80, 80])];
    // 16 updates in 8 ms against 1 update in 2 ms
    expect(ensembleGain(ensemble, rows)).toBe(4);
    expect(speedupVsLayers(ensemble, rows)).toBeUndefined();
    expect(timeVsPytorch(ensemble, rows)).toBeUndefined();
  });
});
