import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { canReadSync } from './plain.test-helper.js';
import { largestSingularValue, spectralRadius } from './spectral.js';

describe('spectralRadius and largestSingularValue on plain matrices', () => {
  it('a scaled rotation: complex eigenvalues r·e^{±iθ}, ρ = λ₁ = r', () => {
    const r = 0.8;
    const th = 0.7;
    const m = [
      [r * Math.cos(th), -r * Math.sin(th)],
      [r * Math.sin(th), r * Math.cos(th)],
    ];
    expect(spectralRadius(m)).toBeCloseTo(r, 12);
    expect(largestSingularValue(m)).toBeCloseTo(r, 12);
  });

  it('a non-normal matrix: ρ below λ₁', () => {
    // Upper triangular: eigenvalues 0.5 and −0.9, so ρ = 0.9; λ₁ = ‖W‖₂ > 3 (the off-diagonal 3).
    const m = [
      [0.5, 3],
      [0, -0.9],
    ];
    expect(spectralRadius(m)).toBeCloseTo(0.9, 12);
    // λ₁² is the largest eigenvalue of WᵀW = [[0.25, 1.5], [1.5, 9.81]].
    const tr = 0.25 + 9.81;
    const det = 0.25 * 9.81 - 1.5 * 1.5;
    expect(largestSingularValue(m)).toBeCloseTo(Math.sqrt((tr + Math.sqrt(tr * tr - 4 * det)) / 2), 10);
  });

  it('row-major data with a shape; rectangular λ₁; errors name the bad shape', () => {
    expect(spectralRadius({ values: [2, 0, 0, -3], shape: [2, 2] })).toBeCloseTo(3, 12);
    expect(largestSingularValue({ values: [3, 0, 0, 0, 4, 0], shape: [2, 3] })).toBeCloseTo(4, 12);
    expect(() => spectralRadius({ values: [1, 2, 3, 4, 5, 6], shape: [2, 3] })).toThrow(
      /square matrix, got \[2, 3\]/,
    );
    expect(() => spectralRadius({ values: [1, 2, 3], shape: [2, 2] })).toThrow(
      /shape \[2, 2\] does not fit 3 values/,
    );
    expect(() => spectralRadius([[1, 2], [3]])).toThrow(/row 1 has 1 entries, expected 2/);
  });
});

describeBackends('spectralRadius of a tensor', (backend) => {
  it.skipIf(!canReadSync(backend))(
    'reads a rank-2 tensor [skipped where tfjs cannot read back synchronously: webgpu in Node]',
    async () => {
      await expectNoLeak(() => {
        const w = tf.tensor2d([
          [0, 1],
          [-0.25, 0],
        ]);
        expect(spectralRadius(w)).toBeCloseTo(0.5, 6);
        const v = tf.zeros([2]);
        expect(() => spectralRadius(v)).toThrow(/must be rank 2, got shape \[2\]/);
        tf.dispose([w, v]);
      });
    },
  );
});
