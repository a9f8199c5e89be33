import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ChainedOptimizer } from './chained-optimizer.js';
import { globalNormClip } from './clipping.js';
import { nonFiniteGuard } from './guard.js';
import { syncIt } from './reference.helpers.js';
import { registerTransform, transformFromConfig } from './registry.js';
import { SAFEGUARD_NORM, safeguard, safeguardFires } from './safeguard.js';
import { transformGradients } from './step.js';
import { chain, transformToConfig } from './transform.js';

let made = 0;
/** A recurrent matrix and a bias as registered variables, with names as a model gives them. */
function weights() {
  made += 1;
  // (tidy frees the initial values; variables outlive it)
  return tf.tidy(() => ({
    W_rec: tf.variable(tf.tensor2d([0.5, -1.25, 2, 0.75], [2, 2]), true, `sg${made}/W_rec`),
    b: tf.variable(tf.tensor1d([0.1, -0.2]), true, `sg${made}/b`),
  }));
}

/** The paper's chain (safeguard first) around SGD, with a tiny clip threshold. */
function paperChain(lr: number, maxNorm: number) {
  return new ChainedOptimizer(tf.train.sgd(lr), [
    safeguard(),
    nonFiniteGuard({ policy: 'skip' }),
    globalNormClip({ maxNorm }),
  ]);
}

describeBackends('safeguard', (backend) => {
  const sit = syncIt(backend);

  sit(
    'replaces a NaN, Inf or huge step by the unclipped shrink step W_rec ← W_rec − lr·0.02·W_rec',
    async () => {
      await expectNoLeak(async () => {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 3e10]) {
          const w = weights();
          const before = Float64Array.from(await w.W_rec.data());
          const b0 = Array.from(await w.b.data());
          // a threshold far below ‖0.02·W_rec‖ ≈ 0.05: were the shrink step clipped, it would be 1e-6 long
          const opt = paperChain(0.5, 1e-6);
          const g = { [w.W_rec.name]: tf.tensor2d([bad, 0, 0, 1], [2, 2]), [w.b.name]: tf.tensor1d([1, 1]) };
          opt.applyGradients(g);
          const after = await w.W_rec.data();
          before.forEach((x, i) => {
            expect(after[i]).toBeCloseTo(x - 0.5 * 0.02 * x, 6);
          });
          expect(Array.from(await w.b.data())).toEqual(b0);
          expect([opt.lastReplaced, opt.lastClipped, opt.lastSkipped]).toEqual([true, false, false]);
          expect(opt.lastStep?.replaced).toBe(true);
          expect(opt.stats.replaceCount).toBe(1);
          // the non-finite guard after it was bypassed: it counted nothing
          expect((opt.getState().transform as unknown[])[1]).toEqual({ nonFiniteSteps: 0 });
          opt.dispose();
          tf.dispose([...Object.values(g), w.W_rec, w.b]);
        }
      });
    },
  );

  sit('leaves an ordinary step to the rest of the chain, bit for bit', async () => {
    await expectNoLeak(async () => {
      const a = weights();
      const b = weights();
      const withSafeguard = paperChain(0.1, 1);
      const without = new ChainedOptimizer(tf.train.sgd(0.1), [
        nonFiniteGuard({ policy: 'skip' }),
        globalNormClip({ maxNorm: 1 }),
      ]);
      // 1e9 is below the safeguard's 1e10: clipped as usual
      for (const scale of [0.3, 5, 1e9]) {
        const g = (w: typeof a) => ({
          [w.W_rec.name]: tf.tensor2d([scale, -scale, 0.5 * scale, 0], [2, 2]),
          [w.b.name]: tf.tensor1d([scale, 0.2]),
        });
        const ga = g(a);
        const gb = g(b);
        withSafeguard.applyGradients(ga);
        without.applyGradients(gb);
        expect(withSafeguard.lastReplaced).toBe(false);
        expect(withSafeguard.lastClipped).toBe(without.lastClipped);
        tf.dispose([...Object.values(ga), ...Object.values(gb)]);
      }
      expect(withSafeguard.stats.clipCount).toBe(2);
      expect(await a.W_rec.data()).toEqual(await b.W_rec.data());
      expect(await a.b.data()).toEqual(await b.b.data());
      withSafeguard.dispose();
      without.dispose();
      tf.dispose([a.W_rec, a.b, b.W_rec, b.b]);
    });
  });

  sit('works outside an optimizer: transformGradients returns the shrink gradients and says so', async () => {
    await expectNoLeak(async () => {
      const w = weights();
      const grads = { [w.W_rec.name]: tf.fill([2, 2], Number.NaN), [w.b.name]: tf.tensor1d([1, 2]) };
      const r = transformGradients(chain(safeguard({ shrink: 0.5 }), globalNormClip({ maxNorm: 1 })), grads);
      expect([r.replaced, r.clipped, r.skipReason]).toEqual([true, false, null]);
      const want = Array.from(await w.W_rec.data()).map((x) => x * 0.5);
      const got = Array.from(await r.grads![w.W_rec.name]!.data());
      got.forEach((x, i) => {
        expect(x).toBeCloseTo(want[i], 6);
      });
      expect(Array.from(await r.grads![w.b.name]!.data())).toEqual([0, 0]);
      tf.dispose([...Object.values(grads), ...Object.values(r.grads!), w.W_rec, w.b]);
    });
  });
});

describe('safeguard: decision, config and bad input', () => {
  it('fires on NaN, ±Inf and norms above its threshold only', () => {
    expect([Number.NaN, Number.POSITIVE_INFINITY, 1.0001e10, 1e10, 3].map((n) => safeguardFires(n))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(safeguardFires(5, 4)).toBe(true);
    expect(SAFEGUARD_NORM).toBe(1e10);
  });

  it('round-trips through its config (a saved optimizer rebuilds it)', () => {
    const t = chain(
      safeguard({ maxNorm: 1e8, shrink: 0.05, recurrent: ['U'] }),
      globalNormClip({ maxNorm: 2 }),
    );
    const back = transformFromConfig(transformToConfig(t));
    expect(transformToConfig(back)).toEqual(transformToConfig(t));
    expect(() => registerTransform('safeguard', () => safeguard())).toThrow(/already registered/);
  });

  it('names bad options and a chain without a recurrent matrix', async () => {
    expect(() => safeguard({ maxNorm: -1 })).toThrow(
      /safeguard: maxNorm must be a positive finite number, got -1/,
    );
    expect(() => safeguard({ shrink: Number.NaN })).toThrow(/safeguard: shrink/);
    expect(() => safeguard({ recurrent: [] })).toThrow(/recurrent must be a non-empty list/);
    await expectNoLeak(async () => {
      const v = tf.tidy(() => tf.variable(tf.zeros([2]), true, `sg_other${made}/bias`));
      const grads = { [v.name]: tf.ones([2]) };
      expect(() => transformGradients(safeguard(), grads)).toThrow(
        /no parameter is a recurrent matrix named W_rec or W_h \(got sg_other\d+\/bias\)/,
      );
      tf.dispose([v, ...Object.values(grads)]);
    });
  });
});
