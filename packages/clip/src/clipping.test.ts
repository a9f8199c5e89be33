import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { globalNormClip, perTensorNormClip, valueClip } from './clipping.js';
import { expectClose, refNorm, syncIt, values } from './reference.helpers.js';
import { transformGradients } from './step.js';

describeBackends('clipping plugins', (backend) => {
  const sit = syncIt(backend);
  sit('globalNormClip with normType inf rescales by maxNorm / max|g|', async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor1d(values(10, 1, 3));
      const b = tf.tensor1d(values(4, 2, 3));
      const av = await a.data();
      const bv = await b.data();
      const maxAbs = Math.max(...Array.from(av, Math.abs), ...Array.from(bv, Math.abs));
      const r = transformGradients(globalNormClip({ maxNorm: 0.5, normType: 'inf' }), { a, b });
      const s = 0.5 / maxAbs;
      expectClose(
        await r.grads!.a!.data(),
        Array.from(av, (x) => x * s),
      );
      expectClose(
        await r.grads!.b!.data(),
        Array.from(bv, (x) => x * s),
      );
      expect(r.clipped).toBe(true);
      expectClose([r.norm], [refNorm([av, bv])]);
      tf.dispose([a, b, r.grads!.a!, r.grads!.b!]);
    });
  });

  sit('perTensorNormClip clips each tensor on its own (Keras clipnorm)', async () => {
    await expectNoLeak(async () => {
      const big = tf.tensor2d(values(6, 3, 4), [2, 3]);
      const small = tf.tensor1d(values(3, 4, 0.01));
      const bigV = await big.data();
      const smallV = await small.data();
      const r = transformGradients(perTensorNormClip({ maxNorm: 1 }), { big, small });
      const s = 1 / refNorm([bigV]);
      expectClose(
        await r.grads!.big!.data(),
        Array.from(bigV, (x) => x * s),
      );
      expect(Array.from(await r.grads!.small!.data())).toEqual(Array.from(smallV));
      expect(r.clipped).toBe(true);
      const under = transformGradients(perTensorNormClip({ maxNorm: 100 }), { big, small });
      expect(Array.from(await under.grads!.big!.data())).toEqual(Array.from(bigV));
      expect(under.clipped).toBe(false);
      tf.dispose([big, small, r.grads!.big!, r.grads!.small!, under.grads!.big!, under.grads!.small!]);
    });
  });

  sit('valueClip clamps every element to [-maxValue, maxValue] (Keras clipvalue)', async () => {
    await expectNoLeak(async () => {
      const g = tf.tensor1d(values(12, 5, 2));
      const gv = await g.data();
      const r = transformGradients(valueClip({ maxValue: 0.7 }), [{ name: 'g', tensor: g }]);
      expectClose(
        await r.grads![0].tensor!.data(),
        Array.from(gv, (x) => Math.min(0.7, Math.max(-0.7, x))),
      );
      expect(gv.some((x) => Math.abs(x) > 0.7)).toBe(true);
      expect(r.clipped).toBe(true);
      tf.dispose([g, r.grads![0].tensor!]);
    });
  });

  sit('zero gradients stay zero (no 0/0) in every clip', async () => {
    await expectNoLeak(async () => {
      for (const t of [
        globalNormClip({ maxNorm: 1 }),
        perTensorNormClip({ maxNorm: 1 }),
        valueClip({ maxValue: 1 }),
      ]) {
        const z = tf.zeros([2, 2]);
        const r = transformGradients(t, { z });
        expect(Array.from(await r.grads!.z!.data())).toEqual([0, 0, 0, 0]);
        expect(r.clipped).toBe(false);
        tf.dispose([z, r.grads!.z!]);
      }
    });
  });
});

describe('clipping plugins: bad input', () => {
  it('names the bad value', () => {
    expect(() => globalNormClip({ maxNorm: -2 })).toThrow(
      /globalNormClip: maxNorm must be a positive finite number, got -2/,
    );
    expect(() => globalNormClip({ maxNorm: 1, normType: 1 as 2 })).toThrow(
      /normType must be 2 or 'inf', got 1/,
    );
    expect(() => perTensorNormClip({ maxNorm: Number.POSITIVE_INFINITY })).toThrow(/got Infinity/);
    expect(() => valueClip({ maxValue: 0 })).toThrow(
      /valueClip: maxValue must be a positive finite number, got 0/,
    );
    expect(() => globalNormClip(undefined as never)).toThrow(/got undefined/);
  });
});
