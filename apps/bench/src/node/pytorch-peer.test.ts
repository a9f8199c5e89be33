import { describe, expect, it } from 'vitest';
import { type BenchConfig, builtinConfigs } from '../configs.js';
import { initialWeights, makeBatch } from '../data.js';
import { plainTrainStep } from '../test-helpers/plain-rnn.js';
import { pytorchUnavailable, runPytorchPeer } from './pytorch-peer.js';

const why = await pytorchUnavailable();

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
    const tanh: BenchConfig = { ...builtinConfigs.tiny, name: 'tanh', clipNorm: 0.05 };
    const sigmoid: BenchConfig = {
      ...builtinConfigs.tiny,
      name: 'sigmoid',
      activation: 'sigmoid',
      head: 'sigmoid',
      inputKind: 'binary',
      clipNorm: 0.05,
    };
    const peer = await runPytorchPeer([tanh, sigmoid], { steps: 2, warmup: 1, threads: [1], seed: 1 });
    expect(peer.unavailable).toBeNull();
    expect(peer.info.torch).toMatch(/^\d+\.\d+/);
    expect(peer.rows.map((r) => [r.config, r.impl, r.method, r.threads, r.variant, r.steps])).toEqual([
      ['tanh', 'pytorch', 'SGD-C', 1, 'nn.RNN', 2],
      ['sigmoid', 'pytorch', 'SGD-C', 1, 'loop over time', 2],
    ]);
    for (const [row, config] of [
      [peer.rows[0], tanh],
      [peer.rows[1], sigmoid],
    ] as const) {
      const plain = plainLosses(config, 4);
      row.losses.forEach((l, i) => {
        expect(Math.abs(l - plain[i]) / plain[i], `${config.name} step ${i}`).toBeLessThan(1e-4);
      });
      expect(row.ms_median).toBeGreaterThan(0);
    }
  });
});
