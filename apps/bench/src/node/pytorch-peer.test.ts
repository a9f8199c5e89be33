import { describe, expect, it } from 'vitest';
import { type BenchConfig, builtinConfigs } from '../configs.js';
import { initialWeights, makeBatch } from '../data.js';
import { plainTrainStep } from '../test-helpers/plain-rnn.js';
import {
  fastestPerThreadCount,
  type PeerRow,
  peerSettings,
  pytorchUnavailable,
  runPytorchPeer,
} from './pytorch-peer.js';

const why = await pytorchUnavailable();

describe('peer thread settings', () => {
  it('tries torch n × OpenBLAS 1 and torch 1 × OpenBLAS n above one thread; a pinned OpenBLAS wins', () => {
    const labels = (threads: number[], pinned?: string) =>
      peerSettings(threads, pinned).map((s) => [s.threads, s.label]);
    expect(labels([1, 2], '')).toEqual([
      [1, 'torch 1 × OpenBLAS 1'],
      [2, 'torch 2 × OpenBLAS 1'],
      [2, 'torch 1 × OpenBLAS 2'],
    ]);
    expect(labels([1, 4], '3')).toEqual([
      [1, 'torch 1 × OpenBLAS 3'],
      [4, 'torch 4 × OpenBLAS 3'],
    ]);
  });

  it('keeps, per config and thread count, the setting with the lower median, and every median', () => {
    const row = (config: string, threads: number, setting: string, ms: number) =>
      ({ config, threads, setting, ms_median: ms, settings_ms_median: {} }) as unknown as PeerRow;
    const kept = fastestPerThreadCount([
      row('M', 1, 'torch 1 × OpenBLAS 1', 23),
      row('C', 1, 'torch 1 × OpenBLAS 1', 92),
      row('M', 2, 'torch 2 × OpenBLAS 1', 21.4),
      row('C', 2, 'torch 2 × OpenBLAS 1', 80.9),
      row('M', 2, 'torch 1 × OpenBLAS 2', 22.9),
      row('C', 2, 'torch 1 × OpenBLAS 2', 68.7),
    ]);
    expect(kept.map((r) => [r.config, r.threads, r.setting, r.ms_median])).toEqual([
      ['M', 1, 'torch 1 × OpenBLAS 1', 23],
      ['C', 1, 'torch 1 × OpenBLAS 1', 92],
      ['M', 2, 'torch 2 × OpenBLAS 1', 21.4],
      ['C', 2, 'torch 1 × OpenBLAS 2', 68.7],
    ]);
    expect(kept[3].settings_ms_median).toEqual({
      'torch 2 × OpenBLAS 1': 80.9,
      'torch 1 × OpenBLAS 2': 68.7,
    });
  });
});

/** Losses of plain-JS SGD-C steps from the bench's initial weights (seed 1). */
function plainLosses(config: BenchConfig, steps: number): number[] {
  const data = makeBatch(config, 1);
  let w = initialWeights(config, 1);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const s = plainTrainStep(config, w, data, { clip: true });
    out.push(s.loss);
    w = s.next;
  }
  return out;
}

describe.skipIf(why !== null)(`PyTorch peer${why ? ` (skipped: ${why})` : ''}`, () => {
  it('trains the same model, batch and weights as a plain JS SGD-C run (tanh via nn.RNN, sigmoid loop)', async () => {
    const tanh: BenchConfig = { ...builtinConfigs.tiny, name: 'tanh', maxNorm: 0.05 };
    const sigmoid: BenchConfig = {
      ...builtinConfigs.tiny,
      name: 'sigmoid',
      activation: 'sigmoid',
      head: 'sigmoid',
      inputKind: 'binary',
      maxNorm: 0.05,
    };
    const peer = await runPytorchPeer([tanh, sigmoid], { steps: 2, warmup: 1, threads: [1, 2], seed: 1 });
    expect(peer.unavailable).toBeNull();
    expect(peer.info.torch).toMatch(/^\d+\.\d+/);
    expect(peer.rows.map((r) => [r.config, r.impl, r.method, r.threads, r.variant, r.steps])).toEqual([
      ['tanh', 'pytorch', 'SGD-C', 1, 'nn.RNN', 2],
      ['sigmoid', 'pytorch', 'SGD-C', 1, 'loop over time', 2],
      ['tanh', 'pytorch', 'SGD-C', 2, 'nn.RNN', 2],
      ['sigmoid', 'pytorch', 'SGD-C', 2, 'loop over time', 2],
    ]);
    // two threads: both splits ran (unless the caller pinned OpenBLAS), and the row is the faster
    const pinned = Boolean(process.env.OPENBLAS_NUM_THREADS);
    for (const r of peer.rows.filter((x) => x.threads === 2 && !pinned)) {
      const medians = r.settings_ms_median;
      expect(Object.keys(medians).sort()).toEqual(['torch 1 × OpenBLAS 2', 'torch 2 × OpenBLAS 1']);
      expect(r.ms_median).toBe(Math.min(...Object.values(medians)));
      expect(medians[r.setting]).toBe(r.ms_median);
    }
    for (const [row, config] of [
      [peer.rows[0], tanh],
      [peer.rows[1], sigmoid],
      [peer.rows[2], tanh],
      [peer.rows[3], sigmoid],
    ] as const) {
      const plain = plainLosses(config, 4);
      row.losses.forEach((l, i) => {
        expect(Math.abs(l - plain[i]) / plain[i], `${config.name} step ${i}`).toBeLessThan(1e-4);
      });
      expect(row.ms_median).toBeGreaterThan(0);
    }
  });
});
