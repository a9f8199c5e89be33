import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it, vi } from 'vitest';
import { ChainedOptimizer } from './chained-optimizer.js';
import { globalNormClip } from './clipping.js';
import { globalNorm } from './global-norm.js';
import type { NamedGradient } from './gradients.js';
import {
  expectClose,
  refNorm,
  smallModel,
  snapshot,
  syncIt,
  toyData,
  values,
  variableNames,
} from './reference.helpers.js';
import { canReadSync } from './step.js';
import { withGradientClipping } from './with-gradient-clipping.js';

/** A variable whose initial tensor is not left behind (tf.variable keeps its own copy). */
function variable(vals: number[], shape?: number[], name?: string): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor(vals, shape ?? [vals.length]), true, name));
}

/** Loss Σ c_a·a + Σ c_b·b: its gradients are exactly c_a and c_b, known in plain JS. */
function linearLoss(a: tf.Variable, b: tf.Variable, ca: number[], cb: number[]): () => tf.Scalar {
  return () => tf.add(tf.sum(tf.mul(a, ca)), tf.sum(tf.mul(b, cb)));
}

describeBackends('withGradientClipping', (backend) => {
  const sit = syncIt(backend);
  sit(
    'minimize: clips by the global norm as a plain-JS reference does, and reports the pre-clip norm',
    async () => {
      await expectNoLeak(async () => {
        const a0 = values(6, 11, 1);
        const b0 = values(3, 12, 1);
        const a = variable(a0);
        const b = variable(b0);
        const ca = values(6, 13, 5);
        const cb = values(3, 14, 5);
        const f32 = (xs: number[]) => Array.from(new Float32Array(xs));
        const norm = refNorm([f32(ca), f32(cb)]);
        const maxNorm = norm / 4;
        const lr = 0.1;
        const opt = withGradientClipping(tf.train.sgd(lr), { maxNorm });
        opt.minimize(linearLoss(a, b, ca, cb));
        const scale = maxNorm / norm;
        expectClose(
          await a.data(),
          a0.map((x, i) => x - lr * scale * ca[i]),
          1e-6,
          1e-6,
        );
        expectClose(
          await b.data(),
          b0.map((x, i) => x - lr * scale * cb[i]),
          1e-6,
          1e-6,
        );
        expectClose([opt.lastGlobalNorm], [norm]);
        expect(opt.lastClipped).toBe(true);
        expect(opt.lastSkipped).toBe(false);
        opt.dispose();
        tf.dispose([a, b]);
      });
    },
  );

  sit('under the threshold the step is bit for bit the inner optimizer’s own', async () => {
    await expectNoLeak(async () => {
      const make = () => [variable(values(6, 21), [2, 3]), variable(values(3, 22))];
      const [a1, b1] = make();
      const [a2, b2] = make();
      const loss = (a: tf.Variable, b: tf.Variable) => () =>
        tf.add(tf.sum(tf.square(a)), tf.sum(tf.sin(b))) as tf.Scalar;
      const wrapped = withGradientClipping(tf.train.adam(0.05), { maxNorm: 1e6 });
      const plain = tf.train.adam(0.05);
      for (let i = 0; i < 3; i++) {
        wrapped.minimize(loss(a1, b1), false, [a1, b1]);
        plain.minimize(loss(a2, b2), false, [a2, b2]);
      }
      expect(await snapshot([a1, b1])).toEqual(await snapshot([a2, b2]));
      expect(wrapped.lastClipped).toBe(false);
      expect(wrapped.stats.clipCount).toBe(0);
      wrapped.dispose();
      plain.dispose();
      tf.dispose([a1, b1, a2, b2]);
    });
  });

  sit(
    'applyGradients with a map and with a NamedTensor[]: names, order, length kept; inputs not disposed',
    async () => {
      await expectNoLeak(async () => {
        const v = variable([1, 2], undefined, 'wgc_v');
        const w = variable([3], undefined, 'wgc_w');
        const inner = tf.train.momentum(1, 0.5);
        const opt = withGradientClipping(inner, { maxNorm: 2.5 });
        const spy = vi.spyOn(inner, 'applyGradients');
        const gv = tf.tensor1d([3, 0]);
        const gw = tf.tensor1d([4]);
        opt.applyGradients({ wgc_v: gv, wgc_w: gw });
        const asMap = spy.mock.calls[0][0] as tf.NamedTensorMap;
        expect(Array.isArray(asMap)).toBe(false);
        expect(Object.keys(asMap)).toEqual(['wgc_v', 'wgc_w']);
        expectClose(await v.data(), [1 - 1.5, 2]);
        expectClose(await w.data(), [3 - 2]);
        const list: NamedGradient[] = [
          { name: 'wgc_v', tensor: undefined },
          { name: 'wgc_w', tensor: gw },
        ];
        opt.applyGradients(list);
        const asArray = spy.mock.calls[1][0] as unknown as NamedGradient[];
        expect(asArray.map((g) => g.name)).toEqual(['wgc_v', 'wgc_w']);
        expect(asArray[0].tensor).toBeUndefined();
        expect(opt.lastGlobalNorm).toBe(4);
        expect(gv.isDisposed || gw.isDisposed).toBe(false);
        opt.dispose();
        // tfjs 4.22: MomentumOptimizer.dispose() forgets the learning-rate scalar its SGD base made.
        (inner as unknown as { c: tf.Scalar }).c.dispose();
        tf.dispose([v, w, gv, gw]);
      });
    },
  );

  sit(
    'model.fit trains with the wrapper around adam exactly like a manual clip-then-adam loop',
    async () => {
      await expectNoLeak(async () => {
        const { x, y } = toyData(32);
        const fitted = smallModel(3);
        const manual = smallModel(3);
        const maxNorm = 0.5;
        const opt = withGradientClipping(tf.train.adam(0.02), { maxNorm });
        fitted.compile({ optimizer: opt, loss: 'meanSquaredError' });
        const history = await fitted.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });

        // Reference: the same batches, gradients clipped in plain JS, then a bare adam.
        const adam = tf.train.adam(0.02);
        const vars = manual.trainableWeights.map((w) => w.read() as tf.Variable);
        for (let epoch = 0; epoch < 3; epoch++) {
          for (let start = 0; start < 32; start += 8) {
            const [xb, yb] = [tf.slice(x, [start, 0], [8, 4]), tf.slice(y, [start, 0], [8, 1])];
            const { value, grads } = tf.variableGrads(
              () => tf.mean(tf.square(tf.sub(manual.apply(xb) as tf.Tensor, yb))) as tf.Scalar,
              vars,
            );
            const arrays = vars.map((v) => grads[v.name].dataSync());
            const scale = Math.min(1, maxNorm / refNorm(arrays));
            const clipped = vars.map((v, i) => ({
              name: v.name,
              tensor: tf.tensor(
                Array.from(arrays[i], (g) => g * scale),
                v.shape,
              ),
            }));
            adam.applyGradients(clipped);
            tf.dispose([value, xb, yb, ...Object.values(grads), ...clipped.map((c) => c.tensor)]);
          }
        }
        const got = await snapshot(fitted.getWeights());
        const want = await snapshot(manual.getWeights());
        for (let i = 0; i < got.length; i++) expectClose(got[i], want[i], 1e-4, 1e-5);
        const losses = history.history.loss as number[];
        expect(losses[2]).toBeLessThan(losses[0]);
        expect(opt.stats.steps).toBe(12);
        expect(opt.stats.clipCount).toBeGreaterThan(0);
        expect(opt.iterations).toBe(12);
        opt.dispose();
        adam.dispose();
        fitted.dispose();
        manual.dispose();
        tf.dispose([x, y]);
      });
    },
    { heavy: true },
  );

  sit(
    'model.fit: adam slots stay aligned when a layer gets no gradient',
    async () => {
      await expectNoLeak(async () => {
        const input = tfl.input({ shape: [4] });
        const hidden = tfl.layers
          .dense({ units: 6, activation: 'tanh', name: 'hidden' })
          .apply(input) as tfl.SymbolicTensor;
        const out = tfl.layers.dense({ units: 1, name: 'out' }).apply(hidden) as tfl.SymbolicTensor;
        const side = tfl.layers.dense({ units: 2, name: 'side' }).apply(input) as tfl.SymbolicTensor;
        const model = tfl.model({ inputs: input, outputs: [out, side] });
        const adam = tf.train.adam(0.01);
        const opt = withGradientClipping(adam, { maxNorm: 1 });
        // The side output's loss ignores its prediction: its weights get no gradient at all.
        const ignorePrediction = (yTrue: tf.Tensor) => tf.mean(tf.mul(yTrue, 0), -1);
        const mse = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.mean(tf.square(tf.sub(yTrue, yPred)), -1);
        model.compile({ optimizer: opt, loss: [mse, ignorePrediction] });
        const spy = vi.spyOn(adam, 'applyGradients');
        const { x, y } = toyData(16);
        const ySide = tf.zeros([16, 2]);
        const sideBefore = await snapshot(model.getLayer('side').getWeights());
        await model.fit(x, [y, ySide], { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });

        const passed = spy.mock.calls[0][0] as unknown as NamedGradient[];
        const names = variableNames(model);
        expect(passed.map((g) => g.name)).toEqual(names);
        const sideIdx = names.map((n, i) => (n.includes('side') ? i : -1)).filter((i) => i >= 0);
        expect(sideIdx.length).toBe(2);
        for (const i of sideIdx) expect(passed[i].tensor).toBeUndefined();

        const slots = await adam.getWeights();
        const m = slots.slice(1, 1 + names.length);
        expect(m.map((s) => s.name)).toEqual(names.map((n) => `${n}/m`));
        for (let i = 0; i < names.length; i++) {
          const slot = Array.from(await m[i].tensor.data());
          expect(m[i].tensor.shape).toEqual(model.trainableWeights[i].shape);
          if (sideIdx.includes(i)) expect(slot.every((s) => s === 0)).toBe(true);
          else expect(slot.some((s) => s !== 0)).toBe(true);
        }
        expect(await snapshot(model.getLayer('side').getWeights())).toEqual(sideBefore);
        tf.dispose(slots[0].tensor); // adam's fresh `iter` scalar
        opt.dispose();
        model.dispose();
        tf.dispose([x, y, ySide]);
      });
    },
    { heavy: true },
  );

  sit(
    "NaN gradients under 'skip' leave every weight and slot unchanged, as if the step never happened",
    async () => {
      await expectNoLeak(async () => {
        const { x, y } = toyData(16);
        const build = () => {
          const model = smallModel(5);
          const opt = withGradientClipping(tf.train.adam(0.01), { maxNorm: 1 });
          model.compile({ optimizer: opt, loss: 'meanSquaredError' });
          return { model, opt };
        };
        const a = build();
        const b = build();
        await a.model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
        await b.model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
        const weightsBefore = await snapshot(a.model.getWeights());
        const slotsBefore = await snapshot(await a.opt.getWeights());

        // A NaN in the data makes every gradient NaN inside model.fit.
        const xBad = tf.tensor2d([[Number.NaN, 0, 0, 0]]);
        const yBad = tf.tensor2d([[1]]);
        await a.model.fit(xBad, yBad, { epochs: 1, batchSize: 1, verbose: 0 });
        // And one NaN entry among finite ones, through applyGradients.
        const names = variableNames(a.model);
        const grads = names.map((name, i) => ({
          name,
          tensor:
            i === 1
              ? tf.fill(a.model.trainableWeights[i].shape as number[], Number.NaN)
              : tf.onesLike(a.model.trainableWeights[i].read()),
        }));
        a.opt.applyGradients(grads);

        expect(a.opt.lastSkipped).toBe(true);
        expect(Number.isNaN(a.opt.lastGlobalNorm)).toBe(true);
        expect(a.opt.stats.skipCount).toBe(2);
        expect(a.opt.iterations).toBe(2);
        expect(await snapshot(a.model.getWeights())).toEqual(weightsBefore);
        expect(await snapshot(await a.opt.getWeights())).toEqual(slotsBefore);

        // The next good step matches a twin that never saw the NaN steps, bit for bit.
        await a.model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
        await b.model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
        expect(await snapshot(a.model.getWeights())).toEqual(await snapshot(b.model.getWeights()));
        for (const s of [a, b]) {
          s.opt.dispose();
          s.model.dispose();
        }
        tf.dispose([x, y, xBad, yBad, ...grads.map((g) => g.tensor)]);
      });
    },
    { heavy: true },
  );

  sit("'throw' names the offending variables and changes nothing", async () => {
    await expectNoLeak(async () => {
      const p = variable([1, 2], undefined, 'thr_p');
      const q = variable([3], undefined, 'thr_q');
      const r = variable([4], undefined, 'thr_r');
      const opt = withGradientClipping(tf.train.sgd(1), { maxNorm: 1, nonFinite: 'throw' });
      const gp = tf.tensor1d([1, Number.POSITIVE_INFINITY]);
      const gq = tf.tensor1d([0.5]);
      const gr = tf.tensor1d([Number.NaN]);
      expect(() => opt.applyGradients({ thr_p: gp, thr_q: gq, thr_r: gr })).toThrow(
        /non-finite gradient .*thr_p \(0 NaN, 1 Inf\), thr_r \(1 NaN, 0 Inf\); the step was not applied/,
      );
      expect(await snapshot([p, q, r])).toEqual([[1, 2], [3], [4]]);
      expect(opt.stats.steps).toBe(0);
      expect(opt.iterations).toBe(0);
      opt.dispose();
      tf.dispose([p, q, r, gp, gq, gr]);
    });
  });

  sit("'apply' lets a non-finite step through, as TF does (the clip makes it NaN)", async () => {
    await expectNoLeak(async () => {
      const p = variable([1, 2], undefined, 'apl_p');
      const opt = withGradientClipping(tf.train.sgd(1), { maxNorm: 1, nonFinite: 'apply' });
      const g = tf.tensor1d([Number.POSITIVE_INFINITY, 1]);
      opt.applyGradients({ apl_p: g });
      expect((await p.data()).every((v) => Number.isNaN(v))).toBe(true);
      expect(opt.lastSkipped).toBe(false);
      expect(opt.iterations).toBe(1);
      opt.dispose();
      tf.dispose([p, g]);
    });
  });

  sit('onStep and stats report every step', async () => {
    await expectNoLeak(async () => {
      const v = variable([0, 0], undefined, 'ons_v');
      const seen: Array<{ n: number; c: boolean; s: boolean; it: number }> = [];
      const opt = withGradientClipping(tf.train.sgd(0.1), {
        maxNorm: 2,
        onStep: (info) =>
          seen.push({ n: info.globalNorm, c: info.clipped, s: info.skipped, it: info.iteration }),
      });
      const steps = [
        [3, 4],
        [0.3, 0.4],
        [Number.NaN, 1],
        [6, 8],
      ];
      for (const g of steps) {
        const t = tf.tensor1d(g);
        opt.applyGradients({ ons_v: t });
        t.dispose();
      }
      expect(seen.map((s) => [s.c, s.s, s.it])).toEqual([
        [true, false, 1],
        [false, false, 2],
        [false, true, 2],
        [true, false, 3],
      ]);
      expectClose(seen.map((s) => s.n).filter(Number.isFinite), [5, 0.5, 10]);
      const st = opt.stats;
      expect([st.steps, st.count, st.clipCount, st.skipCount]).toEqual([4, 3, 2, 1]);
      expectClose([st.meanNorm, st.largestNorm], [15.5 / 3, 10]);
      opt.dispose();
      v.dispose();
    });
  });

  sit('reuses the norm globalNorm took of the same gradients, and only while it is alive', async () => {
    await expectNoLeak(async () => {
      const a0 = values(6, 41, 1);
      const ga = values(6, 42, 3);
      const gb = values(3, 43, 3);
      const kernelsOfStep = async (withKnownNorm: 'alive' | 'disposed' | 'none') => {
        const a = variable(a0, [6], `reuse_a_${withKnownNorm}`);
        const b = variable([0, 0, 0], [3], `reuse_b_${withKnownNorm}`);
        const g = { [a.name]: tf.tensor1d(ga), [b.name]: tf.tensor1d(gb) };
        const known = withKnownNorm === 'none' ? null : globalNorm(g);
        if (withKnownNorm === 'disposed') known?.dispose();
        const opt = withGradientClipping(tf.train.sgd(1), { maxNorm: 1 });
        const profile = await tf.profile(() => opt.applyGradients(g));
        const result = {
          names: profile.kernels.map((k) => k.name),
          norm: opt.lastGlobalNorm,
          a: a.dataSync(),
        };
        tf.dispose([a, b, known, ...Object.values(g)]);
        opt.dispose();
        return result;
      };
      const fresh = await kernelsOfStep('none');
      const reused = await kernelsOfStep('alive');
      const stale = await kernelsOfStep('disposed');
      expect(fresh.names).toContain('Concat');
      expect(reused.names).not.toContain('Concat');
      expect(reused.names.length).toBeLessThan(fresh.names.length);
      expect(stale.names).toEqual(fresh.names);
      // the same step either way, against the plain-JS reference
      const norm = refNorm([ga, gb]);
      for (const r of [fresh, reused, stale]) {
        expectClose([r.norm], [norm], 1e-6);
        expectClose(
          r.a,
          a0.map((w, i) => w - ga[i] / norm),
          1e-5,
        );
      }
    });
  });

  sit(
    '1000 steps leak no tensor',
    async () => {
      const a = variable(values(12, 31), [3, 4]);
      const b = variable(values(4, 32));
      const opt = withGradientClipping(tf.train.adam(0.01), { maxNorm: 0.1 });
      const loss = () => tf.sum(tf.square(tf.add(tf.matMul(tf.ones([2, 3]), a), b))) as tf.Scalar;
      opt.minimize(loss, false, [a, b]); // creates the adam slots
      await expectNoLeak(() => {
        for (let i = 0; i < 1000; i++) opt.minimize(loss, false, [a, b]);
      });
      expect(opt.stats.steps).toBe(1001);
      opt.dispose();
      tf.dispose([a, b]);
    },
    { heavy: true },
  );
});

describeBackends('withGradientClipping without a synchronous readback', (backend) => {
  it.skipIf(canReadSync(backend.name))(
    'in host mode explains why it cannot step (runs only on webgpu outside a browser; the default, device mode, steps: device-mode.test.ts)',
    async () => {
      await expectNoLeak(() => {
        const v = variable([1], undefined, 'nosync_v');
        const opt = new ChainedOptimizer(tf.train.sgd(0.1), [globalNormClip({ maxNorm: 1 })], {
          mode: 'host',
        });
        const g = tf.tensor1d([2]);
        expect(() => opt.applyGradients({ nosync_v: g })).toThrow(
          /which the webgpu backend cannot give reliably \(no OffscreenCanvas in Node; wrong values in Chromium\)/,
        );
        expect(opt.stats.steps).toBe(0);
        opt.dispose();
        tf.dispose([v, g]);
      });
    },
  );
});

describe('withGradientClipping: bad input', () => {
  it('names the bad value', () => {
    const sgd = tf.train.sgd(0.1);
    expect(() => withGradientClipping(sgd, { maxNorm: 0 })).toThrow(
      /maxNorm must be a positive finite number, got 0/,
    );
    expect(() => withGradientClipping(sgd, { maxNorm: Number.NaN })).toThrow(/got NaN/);
    expect(() => withGradientClipping(sgd, {} as { maxNorm: number })).toThrow(/got undefined/);
    expect(() => withGradientClipping(sgd, { maxNorm: 1, nonFinite: 'ignore' as 'skip' })).toThrow(
      /withGradientClipping: nonFinite must be one of 'skip', 'throw', 'apply', got "ignore"/,
    );
    expect(() => withGradientClipping(sgd, { maxNorm: 1, clipnorm: 1 } as { maxNorm: number })).toThrow(
      /unknown option 'clipnorm'/,
    );
    expect(() => withGradientClipping({} as tf.Optimizer, { maxNorm: 1 })).toThrow(
      /inner must be a tf.Optimizer/,
    );
    const opt = withGradientClipping(sgd, { maxNorm: 1 });
    expect(() => opt.applyGradients({})).toThrow(/gradient set is empty \(0 entries/);
    expect(() => opt.applyGradients([{ name: 'x', tensor: undefined }])).toThrow(/gradient set is empty/);
    const t = tf.scalar(1);
    expect(() => opt.applyGradients([t] as unknown as NamedGradient[])).toThrow(
      /entry 0 is not a \{name, tensor\} pair/,
    );
    expect(() => withGradientClipping(opt, { maxNorm: 1 })).toThrow(/inner is itself a ChainedOptimizer/);
    t.dispose();
    opt.dispose();
  });

  it('names the function called, the type of a wrong value, and what was expected', () => {
    const sgd = tf.train.sgd(0.1);
    expect(() => withGradientClipping(sgd, { maxNorm: '1' as unknown as number })).toThrow(
      'withGradientClipping: maxNorm must be a positive finite number, got the string "1" (write 1, a number)',
    );
    expect(() => withGradientClipping(undefined as unknown as tf.Optimizer, { maxNorm: 1 })).toThrow(
      'withGradientClipping(inner, options): inner must be a tf.Optimizer such as tf.train.adam(1e-3), got undefined',
    );
    expect(() => withGradientClipping(sgd, { maxNorm: 1, onStep: 1 as unknown as () => void })).toThrow(
      'ChainedOptimizer: onStep must be a function (info) => void, got number 1',
    );
  });
});

describeBackends("withGradientClipping with normType 'inf'", (backend) => {
  const sit = syncIt(backend);
  sit(
    'reports the max-abs norm it clips by, and applies finite gradients whose L2 norm overflows',
    async () => {
      await expectNoLeak(async () => {
        const v = variable([1, 2], undefined, `inf_v_${backend.name}`);
        const opt = withGradientClipping(tf.train.sgd(0.5), { maxNorm: 1, normType: 'inf' });
        const g = tf.tensor1d([3e19, -1]); // finite; its L2 norm overflows float32
        opt.applyGradients({ [v.name]: g });
        expect([opt.lastSkipped, opt.lastClipped]).toEqual([false, true]);
        expect(opt.lastGlobalNorm).toBe(Math.fround(3e19));
        expect(opt.stats.largestNorm).toBe(Math.fround(3e19));
        // clipped to max-abs 1: w − 0.5·g/3e19
        expectClose(await v.data(), [1 - 0.5, 2 + 0.5 / 3e19], 1e-6);
        const nan = tf.tensor1d([Number.NaN, 1]);
        opt.applyGradients({ [v.name]: nan });
        expect(opt.lastSkipped).toBe(true);
        opt.dispose();
        tf.dispose([v, g, nan]);
      });
    },
  );
});

describeBackends('withGradientClipping: a callback that throws', (backend) => {
  const sit = syncIt(backend);
  sit('leaves weights, optimizer slots and statistics as they were', async () => {
    await expectNoLeak(async () => {
      const v = variable([1, -2], undefined, `cb_v_${backend.name}`);
      let calls = 0;
      const opt = withGradientClipping(tf.train.adam(0.1), {
        maxNorm: 1,
        mode: 'host',
        onStep: () => {
          calls += 1;
          if (calls === 2) throw new Error('callback failed');
        },
      });
      const g = tf.tensor1d([3, 4]);
      opt.applyGradients({ [v.name]: g });
      const weights = Array.from(await v.data());
      const slots = await opt.getWeights();
      const slotValues = await Promise.all(slots.map(async (w) => Array.from(await w.tensor.data())));
      const stats = opt.stats;
      expect(() => opt.applyGradients({ [v.name]: g })).toThrow('callback failed');
      expect(Array.from(await v.data())).toEqual(weights);
      const after = await opt.getWeights();
      expect(await Promise.all(after.map(async (w) => Array.from(await w.tensor.data())))).toEqual(
        slotValues,
      );
      expect([opt.stats, opt.iterations]).toEqual([stats, 1]);
      opt.dispose();
      tf.dispose([v, g]);
    });
  });
});
