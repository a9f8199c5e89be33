import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { activationBound, gradientConditions, temporalContributions } from './diagnostics.js';
import { lcg, nested, randomSeq, type Seq } from './plain.test-helper.js';
import { createRnn } from './rnn.js';

describe('gradientConditions (paper section 2.1)', () => {
  it('compares λ₁ with 1/γ: γ = 1 for tanh, 1/4 for sigmoid', () => {
    expect([activationBound('tanh'), activationBound('sigmoid')]).toEqual([1, 0.25]);
    const half = gradientConditions(
      [
        [0.5, 0],
        [0, -0.5],
      ],
      'tanh',
    );
    expect(half).toMatchObject({
      spectralRadius: 0.5,
      gamma: 1,
      threshold: 1,
      vanishingGuaranteed: true,
      explodingPossible: false,
    });
    expect(half.largestSingularValue).toBeCloseTo(0.5, 12);
    const three = gradientConditions(
      [
        [3, 0],
        [0, 3],
      ],
      'sigmoid',
    );
    expect([three.threshold, three.vanishingGuaranteed, three.explodingPossible]).toEqual([4, true, false]);
    expect(
      gradientConditions(
        [
          [3, 0],
          [0, 3],
        ],
        'tanh',
      ).explodingPossible,
    ).toBe(true);
    // Non-normal: ρ = 0.5 < 1 but λ₁ > 1, so vanishing is not guaranteed (the paper's caveat).
    const shear = gradientConditions(
      [
        [0.5, 2],
        [0, 0.5],
      ],
      'tanh',
    );
    expect(shear.spectralRadius).toBeCloseTo(0.5, 12);
    expect([shear.vanishingGuaranteed, shear.explodingPossible]).toEqual([false, true]);
    expect(() => activationBound('relu' as never)).toThrow(/got "relu"/);
  });
});

describeBackends('temporalContributions', () => {
  it('is the batch mean of ‖δ_t‖ for every t, and leaves a carried state alone', async () => {
    await expectNoLeak(async () => {
      const model = createRnn({
        inputSize: 3,
        hiddenSize: 5,
        outputSize: 2,
        head: 'softmax',
        init: 'basic-tanh',
        seed: 1,
      });
      const rand = lcg(3);
      const batch = {
        inputs: tf.tensor3d(randomSeq(rand, 3, 7, 3)),
        targets: tf.tensor2d(
          [
            [0, 1, 0, 1, 0, 1, 0],
            [1, 1, 1, 0, 0, 0, 1],
            [0, 0, 1, 1, 0, 0, 1],
          ],
          undefined,
          'int32',
        ),
      };
      const r = model.lossAndGradients(batch, { keepDeltas: true });
      const deltas = await nested<Seq>(r.deltas!);
      const want = Array.from(
        { length: 7 },
        (_, t) => deltas.reduce((s, seq) => s + Math.hypot(...seq[t]), 0) / 3,
      );
      const got = await temporalContributions(model, batch);
      expect(got.length).toBe(7);
      for (const [t, v] of got.entries()) expect(v).toBeCloseTo(want[t], 6);
      // With a carried state, it starts from it and does not advance it.
      model.carryState = true;
      const f = model.forward(batch.inputs);
      const carried = Array.from(await model.carriedState![0].data());
      const fromCarried = await temporalContributions(model, batch);
      expect(Array.from(await model.carriedState![0].data())).toEqual(carried);
      expect(model.carryState).toBe(true);
      expect(fromCarried).not.toEqual(got);
      tf.dispose([batch.inputs, batch.targets, f.outputs, f.states, r as unknown as tf.TensorContainer]);
      model.dispose();
    });
  });

  it('the sigmoid init (λ₁ < 4) shows vanishing: ‖δ_1‖ is orders of magnitude below ‖δ_T‖', async () => {
    await expectNoLeak(async () => {
      const model = createRnn({ inputSize: 6, hiddenSize: 20, outputSize: 4, init: 'sigmoid', seed: 2 });
      const conditions = gradientConditions((await model.variables.W_rec.array()) as number[][], 'sigmoid');
      expect(conditions.vanishingGuaranteed).toBe(true);
      const batch = {
        inputs: tf.tensor3d(randomSeq(lcg(4), 4, 8, 6, 0, 1)),
        targets: tf.tensor1d([0, 1, 2, 3], 'int32'),
      };
      const c = await temporalContributions(model, batch);
      expect(c[0]).toBeGreaterThan(0);
      expect(c[0] / c[7]).toBeLessThan(1e-6);
      for (let t = 1; t < 8; t++) expect(c[t - 1]).toBeLessThan(c[t]);
      tf.dispose([batch.inputs, batch.targets]);
      model.dispose();
    });
  });
});
