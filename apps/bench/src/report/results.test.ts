import { describe, expect, it } from 'vitest';
import { builtinConfigs } from '../configs.js';
import { assembleResults, failures, type Row } from './results.js';

const base = {
  steps: 3,
  ms_min: 1,
  ms_max: 1,
  ms_mean: 1,
  steps_per_s: 1,
  warmup: 0,
  ms_first: 1,
  flop: 1,
  gflops: 1,
  tensors_before: 0,
  tensors_after: 0,
  bytes_before: 0,
  bytes_after: 0,
  tensors_in_use: 0,
  bytes_in_use: 0,
  tensors_growth: 0,
  tensors_leaked: 0,
  ok: true,
};
const row = (over: Partial<Row>): Row =>
  ({
    config: 'M',
    backend: 'wasm',
    method: 'SGD-C',
    ms_median: 1,
    losses: [1],
    ms_steps: [1, 1, 1],
    ...base,
    ...over,
  }) as Row;

describe('assembled results', () => {
  const M = builtinConfigs.M;
  const results = assembleResults({
    date: 'd',
    machine: {},
    options: {},
    configs: [M],
    backends: [],
    rows: [
      row({ impl: 'fused', ms_median: 30, ms_steps: [30, 30, 30], losses: [61.1] }),
      // tfjs-layers' BCE is a mean over the 88 notes
      row({
        impl: 'tfjs-layers',
        method: 'SGD',
        ms_median: 600,
        ms_steps: [600, 600, 600],
        losses: [61.1 / 88],
      }),
      row({ impl: 'pytorch', backend: 'pytorch', threads: 1, ms_median: 60, ms_steps: [60], losses: [61.1] }),
      row({ impl: 'pytorch', backend: 'pytorch', threads: 2, ms_median: 40, ms_steps: [40], losses: [61.1] }),
    ],
    skipped: [],
    failed: [{ config: 'M', backend: 'webgpu', impl: 'reference', method: 'SGD-C', error: 'boom' }],
  });

  it('adds the speed-up over tfjs-layers and the time over PyTorch at each thread count', () => {
    const fused = results.rows[0];
    expect(fused.speedup_vs_layers).toBe(20);
    expect(fused.time_vs_pytorch).toBe(0.5);
    expect(fused.time_vs_pytorch_by_threads).toEqual({ 1: 0.5, 2: 0.75 });
  });

  it('checks first-step losses in cliffguard units', () => {
    expect(results.loss_agreement).toEqual([
      { config: 'M', loss: 61.1, max_rel_diff: expect.any(Number), rows: 4 },
    ]);
    expect(results.loss_agreement[0].max_rel_diff).toBeLessThan(1e-12);
  });

  it('lists what failed', () => {
    expect(failures(results)).toEqual(['M webgpu reference SGD-C threw: boom']);
  });
});
