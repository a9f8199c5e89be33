// The LSTM trains with tfjs autodiff; tfjs-layers' bundle registers tfjs-core's gradients.
import '@tensorflow/tfjs-layers';
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { headInput, headLoss } from './heads.js';
import type { Batch, Head } from './implementation.js';
import { createLstm, type LstmModel } from './lstm.js';
import {
  centralDifferencesAsync,
  expectClose,
  lcg,
  type Mat,
  nested,
  type PlainLstm,
  plainLoss,
  plainLstmStates,
  randomSeq,
  type Seq,
  scalarOf,
  toRows,
} from './plain.test-helper.js';
import { trainStep } from './trainer.js';

const I = 3;
const H = 3;
const O = 2;
const B = 2;
const T = 4;

async function plainOf(m: LstmModel): Promise<PlainLstm> {
  const w = await m.getWeights();
  return {
    W_x: toRows(w.W_x.values, I, 4 * H),
    W_h: toRows(w.W_h.values, H, 4 * H),
    b: Array.from(w.b.values),
    W_out: toRows(w.W_out.values, H, O),
    b_out: Array.from(w.b_out.values),
  };
}

function fixture(head: Head, seed: number) {
  const rand = lcg(seed);
  const inputs = randomSeq(rand, B, T, I);
  const targets: number[] | Seq =
    head === 'last-softmax'
      ? [1, 0]
      : randomSeq(rand, B, T, O, 0, 1).map((s) => s.map((r) => r.map((v) => (v < 0.5 ? 0 : 1))));
  const mask: Mat | undefined =
    head === 'sigmoid'
      ? [
          [1, 1, 1, 1],
          [1, 1, 0, 0],
        ]
      : undefined;
  const batch: Batch = {
    inputs: tf.tensor3d(inputs),
    targets:
      head === 'last-softmax' ? tf.tensor1d(targets as number[], 'int32') : tf.tensor3d(targets as Seq),
    mask: mask ? tf.tensor2d(mask) : undefined,
  };
  return { inputs, targets, mask, batch };
}

const disposeBatch = (b: Batch) => tf.dispose([b.inputs, b.targets, ...(b.mask ? [b.mask] : [])]);

describeBackends('createLstm', (backend) => {
  for (const head of ['last-softmax', 'sigmoid'] as const) {
    it.skipIf(backend.software)(
      `${head}: states match a plain-JS LSTM; gradients match central differences (float32, ε=1e-2) [skipped on software adapters: slow]`,
      async () => {
        await expectNoLeak(async () => {
          const m = createLstm({ inputSize: I, hiddenSize: H, outputSize: O, head, init: 'glorot', seed: 3 });
          const f = fixture(head, 5);
          const p = await plainOf(m);
          const r = m.lossAndGradients(f.batch, { keepStates: true });
          expectClose(await r.states!.data(), plainLstmStates(p, f.inputs).flat(2), 1e-5, 'states');
          const want = plainLoss(head, plainLstmStates(p, f.inputs), p.W_out, p.b_out, f.targets, f.mask);
          expect((await r.loss.data())[0]).toBeCloseTo(want, 5);
          const weights = await m.getWeights();
          const lossNow = () =>
            scalarOf(
              tf.tidy(() => {
                m.setWeights(weights);
                const { states } = m.forward(f.batch.inputs);
                const v = m.variables;
                return headLoss(
                  head,
                  headInput(head, states),
                  v.W_out,
                  v.b_out,
                  f.batch.targets,
                  f.batch.mask,
                );
              }),
            );
          for (const k of ['W_x', 'W_h', 'b', 'W_out', 'b_out'] as const) {
            const fd = await centralDifferencesAsync(weights[k].values, 1e-2, lossNow);
            expectClose(await r.grads[k].data(), fd, 1e-2, `∂E/∂${k}`);
          }
          tf.dispose(r as unknown as tf.TensorContainer);
          disposeBatch(f.batch);
          m.dispose();
        });
      },
    );
  }

  it('δ_t = ∂E/∂h_t matches finite differences of a float64 plain-JS LSTM', async () => {
    await expectNoLeak(async () => {
      const head = 'sigmoid';
      const m = createLstm({ inputSize: I, hiddenSize: H, outputSize: O, head, seed: 8 });
      const f = fixture(head, 9);
      const p = await plainOf(m);
      const r = m.lossAndGradients(f.batch, { keepDeltas: true });
      const fd: number[] = [];
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          for (let j = 0; j < H; j++) {
            const at = (e: number) =>
              plainLoss(
                head,
                plainLstmStates(p, f.inputs, (tt, bb, h) => {
                  if (tt === t && bb === b) h[j] += e;
                }),
                p.W_out,
                p.b_out,
                f.targets,
                f.mask,
              );
            fd.push((at(1e-5) - at(-1e-5)) / 2e-5);
          }
        }
      }
      expectClose((await nested<Seq>(r.deltas!)).flat(2), fd, 1e-2, 'δ');
      tf.dispose(r as unknown as tf.TensorContainer);
      disposeBatch(f.batch);
      m.dispose();
    });
  });

  it.skipIf(backend.software)(
    'carries (h, c) across segments; refuses Ω; trains with SGD [skipped on software adapters: slow]',
    async () => {
      await expectNoLeak(async () => {
        const inputs = randomSeq(lcg(4), B, 6, I);
        const whole = createLstm({ inputSize: I, hiddenSize: H, outputSize: O, seed: 2 });
        const seg = createLstm({ inputSize: I, hiddenSize: H, outputSize: O, seed: 2, carryState: true });
        const x = tf.tensor3d(inputs);
        const a = tf.tensor3d(inputs.map((s) => s.slice(0, 3)));
        const c = tf.tensor3d(inputs.map((s) => s.slice(3)));
        const full = whole.forward(x);
        const s1 = seg.forward(a);
        const s2 = seg.forward(c);
        const wanted = (await nested<Seq>(full.states)).map((s) => s.slice(3));
        expectClose(await s2.states.data(), wanted.flat(2), 1e-5, 'segment 2');
        expect(seg.carriedState!.length).toBe(2);
        const targets = tf.tensor1d([0, 1], 'int32');
        expect(() =>
          seg.lossAndGradients({ inputs: a, targets }, { omega: { variant: 'code', weight: 1 } }),
        ).toThrow(/does not apply to the LSTM/);
        const m = { optimizer: tf.train.sgd(0.5) };
        whole.carryState = false;
        const first = await trainStep(whole, { inputs: x, targets }, m.optimizer);
        let last = first;
        for (let i = 0; i < 15; i++) last = await trainStep(whole, { inputs: x, targets }, m.optimizer);
        expect(last.loss).toBeLessThan(first.loss);
        await expect(
          trainStep(whole, { inputs: x, targets }, m.optimizer, { omega: { alpha: 1 } }),
        ).rejects.toThrow(/LSTM/);
        tf.dispose([
          x,
          a,
          c,
          targets,
          full.outputs,
          full.states,
          s1.outputs,
          s1.states,
          s2.outputs,
          s2.states,
        ]);
        m.optimizer.dispose();
        whole.dispose();
        seg.dispose();
      });
    },
  );
});
