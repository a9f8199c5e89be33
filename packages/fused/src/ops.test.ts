import { withGradientClipping } from '@cliffguard/clip';
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { loss64, reference64, relativeError } from '../test/float64.js';
import { tensorProblem } from '../test/tensors.js';
import { rnnSequenceForward, rnnSequenceLoss } from './index.js';

const PARAMS = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const;

describeBackends('rnnSequenceLoss under tf.grad', (backend) => {
  for (const head of ['last-softmax', 'sigmoid'] as const) {
    it(`${head}: tf.grads of 3·loss + 0.5·Ω equal the float64 gradients (h0 included)`, async () => {
      await expectNoLeak(async () => {
        const t = tensorProblem({
          batch: 3,
          time: 5,
          inputSize: 4,
          hiddenSize: 6,
          outputSize: 3,
          activation: 'tanh',
          head,
          omega: 'code',
          h0: true,
          mask: head === 'sigmoid',
        });
        const want = reference64(t.problem);
        const options = { activation: 'tanh' as const, head, omega: 'code' as const, mask: t.mask };
        const f = (
          W_in: tf.Tensor,
          W_rec: tf.Tensor,
          b: tf.Tensor,
          W_out: tf.Tensor,
          b_out: tf.Tensor,
          h0: tf.Tensor,
        ) => {
          const r = rnnSequenceLoss({ W_in, W_rec, b, W_out, b_out }, t.inputs, t.targets, {
            ...options,
            h0: h0 as tf.Tensor2D,
          });
          r.lastState.dispose();
          return tf.add(tf.mul(r.loss, 3), tf.mul(r.omega, 0.5)) as tf.Scalar;
        };
        const p = t.params;
        const { value, grads } = tf.valueAndGrads(f)([p.W_in, p.W_rec, p.b, p.W_out, p.b_out, t.h0!]);
        expect(Math.abs((await value.data())[0] - (3 * want.loss + 0.5 * want.omega))).toBeLessThan(1e-4);
        for (const [i, k] of PARAMS.entries()) {
          const expected = want.grads[k].map((v, j) => 3 * v + (k === 'W_rec' ? 0.5 * want.omegaGrad[j] : 0));
          expect(relativeError(await grads[i].data(), expected), k).toBeLessThan(3e-5);
        }
        expect(
          relativeError(
            await grads[5].data(),
            want.h0Grad.map((v) => 3 * v),
          ),
          'h0',
        ).toBeLessThan(3e-5);
        tf.dispose([value, ...grads]);
        t.dispose();
      });
    });
  }

  // @cliffguard/clip reads the norm back synchronously, which webgpu cannot do outside a browser
  it.skipIf(backend.name === 'webgpu')(
    `trains through optimizer.minimize wrapped by withGradientClipping (global norm, Algorithm 1)${backend.name === 'webgpu' ? ' (skipped: the clip wrapper needs a synchronous readback, which webgpu in Node lacks)' : ''}`,
    async () => {
      await expectNoLeak(async () => {
        const t = tensorProblem({
          batch: 4,
          time: 6,
          inputSize: 5,
          hiddenSize: 7,
          outputSize: 4,
          activation: 'sigmoid',
          head: 'softmax',
          oneHot: true,
          scale: 2,
        });
        const want = reference64(t.problem);
        const vars = Object.fromEntries(
          PARAMS.map((k) => [k, tf.variable(t.params[k], true, `fused_${backend.name}_${k}`)]),
        );
        const maxNorm = 0.05;
        const lr = 0.5;
        const optimizer = withGradientClipping(tf.train.sgd(lr), { maxNorm });
        const cost = optimizer.minimize(() => {
          const r = rnnSequenceLoss(
            { W_in: vars.W_in, W_rec: vars.W_rec, b: vars.b, W_out: vars.W_out, b_out: vars.b_out },
            t.inputs,
            t.targets,
            { activation: 'sigmoid', head: 'softmax' },
          );
          tf.dispose([r.omega, r.lastState]);
          return r.loss;
        }, true);
        expect(Math.abs((await cost!.data())[0] - want.loss)).toBeLessThan(1e-5);
        const norm = Math.sqrt(PARAMS.reduce((s, k) => s + want.grads[k].reduce((a, v) => a + v * v, 0), 0));
        expect(norm).toBeGreaterThan(maxNorm);
        for (const k of PARAMS) {
          const before = t.problem.weights[k];
          const expected = want.grads[k].map((g, i) => before[i] - (lr * maxNorm * g) / norm);
          expect(relativeError(await vars[k].data(), expected), k).toBeLessThan(1e-5);
        }
        cost!.dispose();
        optimizer.dispose();
        tf.dispose(Object.values(vars));
        t.dispose();
      });
    },
  );

  it('differentiates with respect to the inputs too (an embedding before the RNN): central differences', async () => {
    await expectNoLeak(async () => {
      const t = tensorProblem({
        batch: 2,
        time: 3,
        inputSize: 2,
        hiddenSize: 3,
        outputSize: 2,
        activation: 'tanh',
        head: 'last-linear',
      });
      const g = tf.grad((u: tf.Tensor) => {
        const r = rnnSequenceLoss(t.params, u as tf.Tensor3D, t.targets, {
          activation: 'tanh',
          head: 'last-linear',
        });
        tf.dispose([r.omega, r.lastState]);
        return r.loss;
      });
      const du = g(t.inputs);
      const x = Float64Array.from(t.problem.inputs) as unknown as Float32Array;
      const fd = Array.from(x, (_, i) => {
        const keep = x[i];
        x[i] = keep + 1e-6;
        const up = loss64({ ...t.problem, inputs: x });
        x[i] = keep - 1e-6;
        const down = loss64({ ...t.problem, inputs: x });
        x[i] = keep;
        return (up - down) / 2e-6;
      });
      expect(relativeError(await du.data(), fd)).toBeLessThan(1e-4);
      du.dispose();
      t.dispose();
    });
  });

  it('rnnSequenceForward gives the float64 outputs and states', async () => {
    await expectNoLeak(async () => {
      const t = tensorProblem({
        batch: 2,
        time: 4,
        inputSize: 3,
        hiddenSize: 5,
        outputSize: 3,
        activation: 'sigmoid',
        head: 'softmax',
        h0: true,
      });
      const want = reference64(t.problem);
      const { outputs, states } = rnnSequenceForward(t.params, t.inputs, {
        activation: 'sigmoid',
        head: 'softmax',
        h0: t.h0,
      });
      expect(outputs.shape).toEqual([2, 4, 3]);
      expect(relativeError(await outputs.data(), want.outputs)).toBeLessThan(3e-5);
      expect(relativeError(await states.data(), want.states)).toBeLessThan(3e-5);
      tf.dispose([outputs, states]);
      t.dispose();
    });
  });
});
