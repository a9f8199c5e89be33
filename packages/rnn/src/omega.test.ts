import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { alphaSchedule, omega, omegaAndGradient } from './omega.js';
import {
  centralDifferences,
  expectClose,
  lcg,
  type Mat,
  plainOmega,
  randomSeq,
  type Seq,
  toRows,
} from './plain.test-helper.js';

// A hand-sized case: H = 2, B = 2, T = 3, with one vanished δ (‖δ‖² = 0 < 1e-20: excluded).
const W: Mat = [
  [0.9, -0.4],
  [0.3, 1.2],
];
const DELTAS: Seq = [
  [
    [0.5, -0.25],
    [0.1, 0.2],
    [1.0, 0.0],
  ],
  [
    [0, 0],
    [-0.3, 0.6],
    [0.05, -0.7],
  ],
];
const STATES: Seq = [
  [
    [0.2, -0.5],
    [0.7, 0.1],
    [-0.3, 0.4],
  ],
  [
    [0.6, 0.6],
    [0.1, 0.9],
    [0.45, 0.25],
  ],
];

describe('omega on paper', () => {
  it('the hand case by hand: one term of the code variant', () => {
    // t = 1, b = 0, tanh: a = δ ⊙ (1 − h²) = [0.5·0.96, −0.25·0.75] = [0.48, −0.1875];
    // g = a W_recᵀ = [0.9·0.48 + (−0.4)(−0.1875), 0.3·0.48 + 1.2·(−0.1875)] = [0.507, −0.081];
    // r = ‖g‖² / ‖δ‖² = (0.257049 + 0.006561) / 0.3125 = 0.843552.
    const r = (0.507 ** 2 + 0.081 ** 2) / 0.3125;
    expect(r).toBeCloseTo(0.843552, 6);
    const one = plainOmega(W, [[DELTAS[0][0]]], [[STATES[0][0]]], 'tanh', 'code');
    expect(one).toBeCloseTo((r - 1) ** 2, 12);
  });
});

describeBackends('omega', () => {
  for (const activation of ['tanh', 'sigmoid'] as const) {
    for (const variant of ['paper', 'code'] as const) {
      it(`${activation}, ${variant}: value on the hand case equals the formula computed in plain JS`, async () => {
        await expectNoLeak(async () => {
          const [w, d, h] = [tf.tensor2d(W), tf.tensor3d(DELTAS), tf.tensor3d(STATES)];
          const value = omega(w, d, h, { activation, variant });
          const want = plainOmega(W, DELTAS, STATES, activation, variant);
          expect((await value.data())[0]).toBeCloseTo(want, 5);
          // 5 valid terms of 6: the mean ('code') and the per-sequence sum ('paper') differ by 5/2.
          const both = plainOmega(W, DELTAS, STATES, activation, variant === 'code' ? 'paper' : 'code');
          expect(variant === 'code' ? both / want : want / both).toBeCloseTo(5 / 2, 10);
          tf.dispose([w, d, h, value]);
        });
      });

      it(`${activation}, ${variant}: ∂Ω/∂W_rec matches central differences of Ω with δ and h frozen`, async () => {
        await expectNoLeak(async () => {
          const rand = lcg(activation === 'tanh' ? 7 : 8);
          const H = 5;
          const wRec = Array.from({ length: H * H }, () => rand() * 1.6 - 0.8);
          const deltas = randomSeq(rand, 3, 4, H);
          deltas[1][2] = new Array(H).fill(0); // an excluded term
          const states = randomSeq(rand, 3, 4, H, activation === 'tanh' ? -0.9 : 0.05, 0.95);
          const [w, d, h] = [tf.tensor2d(wRec, [H, H]), tf.tensor3d(deltas), tf.tensor3d(states)];
          const { value, grad } = omegaAndGradient(w, d, h, { activation, variant });
          const plain = () => plainOmega(toRows(wRec, H, H), deltas, states, activation, variant);
          expect((await value.data())[0]).toBeCloseTo(plain(), 4);
          const direct = omega(w, d, h, { activation, variant });
          expect((await direct.data())[0]).toBeCloseTo((await value.data())[0], 5);
          // float64 differences of the plain formula: ε = 1e-6 leaves error ~1e-10.
          const fd = centralDifferences(wRec, 1e-6, plain);
          expectClose(await grad.data(), fd, 1e-3, 'dΩ/dW_rec');
          tf.dispose([w, d, h, value, grad, direct]);
        });
      });
    }
  }

  it('is 0 with zero gradient when every δ vanished (no valid term)', async () => {
    await expectNoLeak(async () => {
      const [w, d, h] = [tf.tensor2d(W), tf.zeros([2, 3, 2]), tf.tensor3d(STATES)];
      for (const variant of ['paper', 'code'] as const) {
        const { value, grad } = omegaAndGradient(w, d, h, { activation: 'tanh', variant });
        expect((await value.data())[0]).toBe(0);
        expect(Array.from(await grad.data())).toEqual([0, 0, 0, 0]);
        tf.dispose([value, grad]);
      }
      tf.dispose([w, d, h]);
    });
  });

  it('rejects mismatched shapes and unknown variants', async () => {
    await expectNoLeak(() => {
      const [w, d, h] = [tf.tensor2d(W), tf.tensor3d(DELTAS), tf.zeros([2, 2, 2])];
      expect(() => omega(w, d, h, { activation: 'tanh', variant: 'code' })).toThrow(
        /deltas \[2, 3, 2\] and states \[2, 2, 2\]/,
      );
      expect(() => omega(w, d, d, { activation: 'tanh', variant: 'sum' as 'code' })).toThrow(
        /variant must be 'paper' or 'code'/,
      );
      tf.dispose([w, d, h]);
    });
  });
});

describe('alphaSchedule', () => {
  it('constant and 1/t', () => {
    const c = alphaSchedule({ kind: 'constant', alpha0: 2 });
    expect([c(0), c(10), c(1e6)]).toEqual([2, 2, 2]);
    const inv = alphaSchedule({ kind: 'inverse-time', alpha0: 0.5 });
    expect([inv(0), inv(1), inv(3)]).toEqual([0.5, 0.25, 0.125]);
    const slow = alphaSchedule({ kind: 'inverse-time', alpha0: 0.5, timescale: 100 });
    expect(slow(100)).toBe(0.25);
    expect(() => alphaSchedule({ kind: 'constant', alpha0: -1 })).toThrow(/alpha0/);
    expect(() => inv(-1)).toThrow(/step must be/);
    expect(() => alphaSchedule({ kind: 'cosine', alpha0: 1 } as never)).toThrow(/kind must be/);
  });
});
