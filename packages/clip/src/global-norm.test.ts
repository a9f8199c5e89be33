import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { clipByGlobalNorm, globalNorm, selectWhole } from './global-norm.js';
import type { NamedGradient } from './gradients.js';

/** Deterministic values in [-scale, scale) (a small LCG, so references do not depend on tfjs). */
function values(n: number, seed: number, scale = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

/** Reference L2 norm in float64 from the float32 values the tensors actually hold. */
function refNorm(arrays: ArrayLike<number>[]): number {
  let s = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = rel * Math.max(Math.abs(expected[i]), 1e-30);
    expect(
      Math.abs(actual[i] - expected[i]),
      `element ${i}: ${actual[i]} vs ${expected[i]}`,
    ).toBeLessThanOrEqual(tol);
  }
}

describeBackends('globalNorm', () => {
  it('is one L2 norm over all tensors of a map, nulls ignored', async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor2d(values(12, 1, 3), [3, 4]);
      const b = tf.tensor1d(values(5, 2, 0.5));
      const ref = refNorm([await a.data(), await b.data()]);
      const norm = globalNorm({ a, skipped: null, b });
      expectClose(await norm.data(), [ref]);
      tf.dispose([a, b, norm]);
    });
  });

  it('accepts a Tensor[] and a NamedTensor[] with undefined entries', async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor1d(values(7, 3, 2));
      const b = tf.tensor2d(values(6, 4), [2, 3]);
      const ref = refNorm([await a.data(), await b.data()]);
      const n1 = globalNorm([a, undefined, b]);
      const n2 = globalNorm([
        { name: 'a', tensor: a },
        { name: 'frozen', tensor: undefined },
        { name: 'b', tensor: b },
      ]);
      expectClose(await n1.data(), [ref]);
      expectClose(await n2.data(), [ref]);
      tf.dispose([a, b, n1, n2]);
    });
  });

  it("'inf' gives the largest absolute value", async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor1d([0.5, -7.25, 3]);
      const b = tf.tensor1d([6, -2]);
      const norm = globalNorm({ a, b }, 'inf');
      expect(await norm.data()).toEqual(new Float32Array([7.25]));
      tf.dispose([a, b, norm]);
    });
  });

  it('is NaN or Inf when a gradient is', async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor1d([1, Number.NaN]);
      const b = tf.tensor1d([Number.POSITIVE_INFINITY, 1]);
      const c = tf.tensor1d([1, 2]);
      const n1 = globalNorm([a, c]);
      const n2 = globalNorm([b, c]);
      expect(Number.isNaN((await n1.data())[0])).toBe(true);
      expect((await n2.data())[0]).toBe(Number.POSITIVE_INFINITY);
      tf.dispose([a, b, c, n1, n2]);
    });
  });
});

describeBackends('clipByGlobalNorm', () => {
  it('rescales every tensor by maxNorm/norm above the threshold and returns the pre-clip norm', async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor2d(values(20, 5, 4), [4, 5]);
      const b = tf.tensor1d(values(9, 6, 4));
      const av = await a.data();
      const bv = await b.data();
      const ref = refNorm([av, bv]);
      const maxNorm = ref / 3.7;
      const { grads, norm } = clipByGlobalNorm({ a, b }, maxNorm);
      expectClose(await norm.data(), [ref]);
      const scale = maxNorm / ref;
      expectClose(
        await grads.a!.data(),
        Array.from(av, (x) => x * scale),
      );
      expectClose(
        await grads.b!.data(),
        Array.from(bv, (x) => x * scale),
      );
      expect(grads.a!.shape).toEqual([4, 5]);
      expect(refNorm([await grads.a!.data(), await grads.b!.data()])).toBeCloseTo(maxNorm, 5);
      tf.dispose([a, b, norm, grads.a!, grads.b!]);
    });
  });

  it('leaves gradients under the threshold unchanged bit for bit', async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor1d(values(33, 7, 1e-3).concat([1e-38, -3.4e-39]));
      const b = tf.tensor2d(values(8, 8, 0.1), [2, 4]);
      const { grads, norm } = clipByGlobalNorm([a, b], 1);
      expect(Array.from(await grads[0]!.data())).toEqual(Array.from(await a.data()));
      expect(Array.from(await grads[1]!.data())).toEqual(Array.from(await b.data()));
      tf.dispose([a, b, norm, ...grads.map((g) => g!)]);
    });
  });

  it('keeps names, order and length of a NamedTensor[]; undefined and null pass through', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor1d([3, 4]);
      const y = tf.tensor1d([12]);
      const input: NamedGradient[] = [
        { name: 'x', tensor: x },
        { name: 'unconnected', tensor: undefined },
        { name: 'frozen', tensor: null },
        { name: 'y', tensor: y },
      ];
      const { grads, norm } = clipByGlobalNorm(input, 6.5);
      expect(grads.map((g) => g.name)).toEqual(['x', 'unconnected', 'frozen', 'y']);
      expect(grads[1].tensor).toBeUndefined();
      expect(grads[2].tensor).toBeNull();
      expect(await norm.data()).toEqual(new Float32Array([13]));
      expectClose(await grads[0].tensor!.data(), [1.5, 2]);
      expectClose(await grads[3].tensor!.data(), [6]);
      expect(x.isDisposed).toBe(false);
      tf.dispose([x, y, norm, grads[0].tensor!, grads[3].tensor!]);
    });
  });

  it('keeps the key order of a map', async () => {
    await expectNoLeak(() => {
      const g = { z: tf.scalar(1), a: tf.scalar(2), m: null };
      const { grads, norm } = clipByGlobalNorm(g, 1);
      expect(Object.keys(grads)).toEqual(['z', 'a', 'm']);
      expect(grads.m).toBeNull();
      tf.dispose([g.z, g.a, norm, grads.z, grads.a]);
    });
  });

  it('clips by the inf-norm when asked', async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor1d([2, -8]);
      const b = tf.tensor1d([4]);
      const { grads, norm } = clipByGlobalNorm([a, b], 2, { normType: 'inf' });
      expect(await norm.data()).toEqual(new Float32Array([8]));
      expectClose(await grads[0]!.data(), [0.5, -2]);
      expectClose(await grads[1]!.data(), [1]);
      tf.dispose([a, b, norm, grads[0]!, grads[1]!]);
    });
  });

  it('does not divide by zero on a zero gradient', async () => {
    await expectNoLeak(async () => {
      const z = tf.zeros([3, 2]);
      const { grads, norm } = clipByGlobalNorm({ z }, 1e-3);
      expect(await norm.data()).toEqual(new Float32Array([0]));
      expect(Array.from(await grads.z!.data())).toEqual([0, 0, 0, 0, 0, 0]);
      tf.dispose([z, norm, grads.z!]);
    });
  });

  it('makes every entry NaN when the norm is not finite (as TF does)', async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor1d([Number.POSITIVE_INFINITY, 1]);
      const b = tf.tensor1d([2]);
      const { grads, norm } = clipByGlobalNorm([a, b], 1);
      expect((await norm.data())[0]).toBe(Number.POSITIVE_INFINITY);
      for (const g of grads) for (const v of await g!.data()) expect(Number.isNaN(v)).toBe(true);
      tf.dispose([a, b, norm, grads[0]!, grads[1]!]);
    });
  });
});

describeBackends('selectWhole', () => {
  it('returns all of a or all of b, whatever the other holds, for every rank', async () => {
    await expectNoLeak(async () => {
      for (const shape of [[], [7], [3, 4], [2, 3, 2]]) {
        const n = shape.reduce((p, d) => p * d, 1);
        const av = values(n, 11, 3);
        const a = tf.tensor(av, shape);
        const b = tf.fill(shape, Number.NaN);
        for (const [cond, want] of [
          [true, av],
          [false, new Array(n).fill(Number.NaN)],
        ] as const) {
          const c = tf.scalar(cond, 'bool');
          const out = selectWhole(c, a, b);
          expect(out.shape).toEqual(shape);
          expect(Array.from(await out.data())).toEqual(Array.from(Float32Array.from(want)));
          tf.dispose([c, out]);
        }
        tf.dispose([a, b]);
      }
    });
  });

  it('takes a one-element condition of any rank, and rejects a larger one by its shape', async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
      const b = tf.zerosLike(a);
      const c = tf.tensor2d([true], [1, 1], 'bool');
      const out = selectWhole(c, a, b);
      expect(Array.from(await out.data())).toEqual([1, 2, 3, 4]);
      const wide = tf.tensor1d([true, false], 'bool');
      expect(() => selectWhole(wide, a, b)).toThrow('condition must hold one value, got shape [2]');
      tf.dispose([a, b, c, out, wide]);
    });
  });
});

describe('bad input', () => {
  it('rejects a maxNorm that is not a positive finite number, naming it', () => {
    const g = tf.scalar(1);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => clipByGlobalNorm([g], bad)).toThrow(
        `clipByGlobalNorm: maxNorm must be a positive finite number, got ${bad}`,
      );
    }
    // a string is named as one, with the number it should be
    expect(() => clipByGlobalNorm([g], '1' as unknown as number)).toThrow(
      `clipByGlobalNorm: maxNorm must be a positive finite number, got the string "1" (write 1, a number)`,
    );
    expect(() => clipByGlobalNorm([g], 1, { normType: 1 as unknown as 2 })).toThrow(
      /normType must be 2 or 'inf', got 1/,
    );
    g.dispose();
  });

  it('rejects an empty gradient set', () => {
    expect(() => globalNorm({})).toThrow(/gradient set is empty \(0 entries/);
    expect(() => globalNorm([])).toThrow(/gradient set is empty/);
    expect(() => clipByGlobalNorm([{ name: 'w', tensor: undefined }], 1)).toThrow(
      /1 entries, none holds a tensor/,
    );
    expect(() => globalNorm(null as unknown as [])).toThrow(/got null/);
  });
});
