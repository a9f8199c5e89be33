import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { nonFiniteGuard } from './guard.js';
import { syncIt } from './reference.helpers.js';
import { transformGradients } from './step.js';

describeBackends('nonFiniteGuard', (backend) => {
  const sit = syncIt(backend);
  sit("'skip' vetoes a NaN or Inf step and counts it; a finite step passes untouched", async () => {
    await expectNoLeak(async () => {
      const guard = nonFiniteGuard();
      const ok = tf.tensor1d([1, -2]);
      const nan = tf.tensor1d([1, Number.NaN]);
      const first = transformGradients(guard, { ok });
      expect(first.skipReason).toBeNull();
      expect(Array.from(await first.grads!.ok!.data())).toEqual([1, -2]);
      const second = transformGradients(guard, { ok, nan }, first.state);
      expect(second.grads).toBeNull();
      expect(second.skipReason).toMatch(/non-finite gradient norm \(NaN\)/);
      expect(second.state).toEqual({ nonFiniteSteps: 1 });
      tf.dispose([ok, nan, first.grads!.ok!]);
    });
  });

  sit('treats a norm that overflows float32 as non-finite, and says so', async () => {
    await expectNoLeak(async () => {
      const huge = tf.tensor1d([3e19, 1]); // finite, but its square is not
      const r = transformGradients(nonFiniteGuard(), { huge });
      expect(r.norm).toBe(Number.POSITIVE_INFINITY);
      expect(r.grads).toBeNull();
      expect(() => transformGradients(nonFiniteGuard({ policy: 'throw' }), { huge })).toThrow(
        /huge \(finite values, but its sum of squares overflows float32\)/,
      );
      const parts = { a: tf.tensor1d([1.5e19]), b: tf.tensor1d([1.5e19]) }; // each fine, the sum overflows
      expect(() => transformGradients(nonFiniteGuard({ policy: 'throw' }), parts)).toThrow(
        /none on its own: the sum of squares over all variables overflows float32/,
      );
      tf.dispose([huge, parts.a, parts.b]);
    });
  });

  sit("'apply' lets the step through and still counts it", async () => {
    await expectNoLeak(async () => {
      const inf = tf.tensor1d([Number.NEGATIVE_INFINITY]);
      const r = transformGradients(nonFiniteGuard({ policy: 'apply' }), { inf });
      expect(r.skipReason).toBeNull();
      expect(Array.from(await r.grads!.inf!.data())).toEqual([Number.NEGATIVE_INFINITY]);
      expect(r.state).toEqual({ nonFiniteSteps: 1 });
      tf.dispose([inf, r.grads!.inf!]);
    });
  });
});

describe('nonFiniteGuard: bad input', () => {
  it('names the bad policy', () => {
    expect(() => nonFiniteGuard({ policy: 'zero' as 'skip' })).toThrow(
      /nonFiniteGuard: policy must be one of 'skip', 'throw', 'apply', got "zero"/,
    );
  });
});
