import { describe, expect, it } from 'vitest';
import { type BenchConfig, builtinConfigs } from './configs.js';
import { initialWeights, makeBatch } from './data.js';
import { stepFlops } from './flops.js';
import { plainTrainStep } from './test-helpers/plain-rnn.js';

const shape = (over: Partial<BenchConfig>): BenchConfig => ({ ...builtinConfigs.tiny, ...over });

describe('stepFlops', () => {
  it.each([
    ['per-step softmax', shape({})],
    ['last-step softmax', shape({ head: 'last-softmax', seqLen: 5, hiddenSize: 6 })],
    [
      'sigmoid units and head',
      shape({ head: 'sigmoid', activation: 'sigmoid', inputKind: 'binary', outputSize: 5 }),
    ],
    ['last-linear', shape({ head: 'last-linear', inputKind: 'dense', batchSize: 3 })],
  ])('equals 2 x the multiply-adds a plain JS step does (%s)', (_, config) => {
    const { macs } = plainTrainStep(config, initialWeights(config, 3), makeBatch(config, 3), { clip: true });
    expect(stepFlops(config)).toBe(2 * macs);
  });

  it('adds 4·B·T·H² for Ω', () => {
    const c = builtinConfigs.P100;
    expect(stepFlops(c, { omega: true }) - stepFlops(c)).toBe(4 * 20 * 100 * 50 * 50);
  });

  it("counts about 0.032 GFLOP for the paper's P100 step", () => {
    expect(stepFlops(builtinConfigs.P100) / 1e9).toBeCloseTo(0.032, 3);
  });
});
