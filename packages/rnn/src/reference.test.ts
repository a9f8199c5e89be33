import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { headInput, headLoss } from './heads.js';
import type { Batch, Head, ParamName, RnnConfig, RnnParams } from './implementation.js';
import {
  centralDifferences,
  centralDifferencesAsync,
  expectClose,
  lcg,
  type Mat,
  nested,
  type PlainRnn,
  plainLoss,
  plainOmega,
  plainRnnStates,
  randomSeq,
  type Seq,
  scalarOf,
  toRows,
} from './plain.test-helper.js';
import { referenceImplementation as ref } from './reference.js';

/*
 * Finite differences. Parameter gradients: central differences of the float32 tfjs loss with
 * ε = 1e-2. Float32 round-off in the loss (~1e-7 relative) contributes ~1e-7·|E|/ε ≈ 1e-5, the
 * truncation error is O(ε²·E''') ≈ 1e-4 relative on these O(1) weights: both far below the
 * 1e-2 tolerance. δ_t: central differences of an independent float64 plain-JS forward with
 * ε = 1e-5 (perturbing h_t in the recursion itself). Tolerance: norm-wise relative error < 1e-2.
 */
const EPS32 = 1e-2;
const EPS64 = 1e-5;
const NAMES: ParamName[] = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'];

interface Case {
  head: Head;
  activation: 'tanh' | 'sigmoid';
  masked: boolean;
  variant: 'paper' | 'code';
}

const CASES: Case[] = [
  { head: 'last-softmax', activation: 'tanh', masked: false, variant: 'paper' },
  { head: 'softmax', activation: 'tanh', masked: true, variant: 'code' },
  { head: 'last-linear', activation: 'sigmoid', masked: false, variant: 'code' },
  { head: 'sigmoid', activation: 'sigmoid', masked: true, variant: 'paper' },
];

const I = 3;
const H = 4;
const O = 3;
const B = 2;
const T = 5;

interface Fixture {
  config: RnnConfig;
  values: Record<ParamName, Float32Array>;
  shapes: Record<ParamName, number[]>;
  inputs: Seq;
  targets: number[] | Mat | Seq;
  mask?: Mat;
}

function fixture(c: Case, seed: number): Fixture {
  const rand = lcg(seed);
  const shapes: Record<ParamName, number[]> = {
    W_in: [I, H],
    W_rec: [H, H],
    b: [H],
    W_out: [H, O],
    b_out: [O],
  };
  const values = {} as Record<ParamName, Float32Array>;
  for (const n of NAMES) {
    const size = shapes[n].reduce((a, d) => a * d, 1);
    // Weights of order 1 so every gradient is comfortably above float32 noise.
    values[n] = Float32Array.from({ length: size }, () => (rand() * 2 - 1) * (n === 'W_rec' ? 0.9 : 0.8));
  }
  const inputs = randomSeq(rand, B, T, I);
  let targets: number[] | Mat | Seq;
  if (c.head === 'last-softmax') targets = [0, 2];
  else if (c.head === 'softmax')
    targets = [0, 1].map((b) => Array.from({ length: T }, (_, t) => (b + 2 * t) % O));
  else if (c.head === 'last-linear')
    targets = [0, 1].map(() => Array.from({ length: O }, () => rand() * 2 - 1));
  else targets = randomSeq(rand, B, T, O, 0, 1).map((s) => s.map((r) => r.map((v) => (v < 0.5 ? 0 : 1))));
  const mask = c.masked
    ? [
        [1, 1, 1, 1, 1],
        [1, 1, 1, 0, 0],
      ]
    : undefined;
  return {
    config: { inputSize: I, hiddenSize: H, outputSize: O, activation: c.activation, head: c.head },
    values,
    shapes,
    inputs,
    targets,
    mask,
  };
}

function tensors(f: Fixture): { params: RnnParams; batch: Batch } {
  const params = {} as RnnParams;
  for (const n of NAMES) params[n] = tf.tensor(f.values[n], f.shapes[n]);
  const classes = f.config.head === 'last-softmax' || f.config.head === 'softmax';
  const batch: Batch = {
    inputs: tf.tensor3d(f.inputs),
    targets: classes ? tf.tensor(f.targets as number[], undefined, 'int32') : tf.tensor(f.targets as Mat),
    mask: f.mask ? tf.tensor2d(f.mask) : undefined,
  };
  return { params, batch };
}

function plainModel(f: Fixture): PlainRnn {
  const v = f.values;
  return {
    W_in: toRows(v.W_in, I, H),
    W_rec: toRows(v.W_rec, H, H),
    b: Array.from(v.b),
    W_out: toRows(v.W_out, H, O),
    b_out: Array.from(v.b_out),
    activation: f.config.activation,
  };
}

/** The package's float32 loss for the fixture's current values (for finite differences). */
function tfLoss(f: Fixture, h0?: tf.Tensor2D): Promise<number> {
  const loss = tf.tidy(() => {
    const { params, batch } = tensors(f);
    const { states } = ref.forward(params, f.config, batch.inputs, h0);
    const { head } = f.config;
    return headLoss(head, headInput(head, states), params.W_out, params.b_out, batch.targets, batch.mask);
  });
  return scalarOf(loss);
}

describeBackends('referenceImplementation', (backend) => {
  for (const c of CASES) {
    const title = `${c.head} head, ${c.activation}${c.masked ? ', masked' : ''}`;

    it(`${title}: states, outputs and loss match a plain-JS forward`, async () => {
      await expectNoLeak(async () => {
        const f = fixture(c, 11);
        const { params, batch } = tensors(f);
        const { outputs, states } = ref.forward(params, f.config, batch.inputs);
        const plain = plainRnnStates(plainModel(f), f.inputs);
        expectClose(await states.data(), plain.flat(2), 1e-5, 'states');
        const r = ref.lossAndGradients(params, f.config, batch);
        const want = plainLoss(
          c.head,
          plain,
          plainModel(f).W_out,
          f.values.b_out as unknown as number[],
          f.targets,
          f.mask,
        );
        expect((await r.loss.data())[0]).toBeCloseTo(want, 5);
        const lastStep = c.head.startsWith('last');
        expect(outputs.shape).toEqual(lastStep ? [B, O] : [B, T, O]);
        const o = Array.from(await outputs.data());
        if (c.head !== 'last-linear') for (const p of o) expect(p > 0 && p < 1).toBe(true);
        tf.dispose([
          outputs,
          states,
          r as unknown as tf.TensorContainer,
          params as unknown as tf.TensorContainer,
        ]);
        tf.dispose(batch as unknown as tf.TensorContainer);
      });
    });

    it.skipIf(backend.software)(
      `${title}: every parameter gradient matches central finite differences (float32, ε=1e-2) [skipped on software adapters: slow]`,
      async () => {
        await expectNoLeak(async () => {
          const f = fixture(c, 23);
          const { params, batch } = tensors(f);
          const r = ref.lossAndGradients(params, f.config, batch);
          for (const n of NAMES) {
            const fd = await centralDifferencesAsync(f.values[n], EPS32, () => tfLoss(f));
            expectClose(await r.grads[n].data(), fd, 1e-2, `${backend.name} ${title} ∂E/∂${n}`);
          }
          tf.dispose([r as unknown as tf.TensorContainer, params as unknown as tf.TensorContainer]);
          tf.dispose(batch as unknown as tf.TensorContainer);
        });
      },
    );

    it(`${title}: δ_t = ∂E/∂h_t matches finite differences of a float64 plain-JS forward`, async () => {
      await expectNoLeak(async () => {
        const f = fixture(c, 37);
        const { params, batch } = tensors(f);
        const r = ref.lossAndGradients(params, f.config, batch, { keepDeltas: true });
        const deltas = await nested<Seq>(r.deltas!);
        const p = plainModel(f);
        const fd: number[] = [];
        for (let b = 0; b < B; b++) {
          for (let t = 0; t < T; t++) {
            for (let j = 0; j < H; j++) {
              const lossAt = (e: number) =>
                plainLoss(
                  c.head,
                  plainRnnStates(p, f.inputs, undefined, (tt, bb, h) => {
                    if (tt === t && bb === b) h[j] += e;
                  }),
                  p.W_out,
                  p.b_out,
                  f.targets,
                  f.mask,
                );
              fd.push((lossAt(EPS64) - lossAt(-EPS64)) / (2 * EPS64));
            }
          }
        }
        expectClose(deltas.flat(2), fd, 1e-2, 'δ');
        // δ_t at every step is non-zero, even for last-step heads (through the recursion).
        expect(Math.min(...deltas.map((s) => Math.max(...s.map((d) => Math.hypot(...d)))))).toBeGreaterThan(
          1e-4,
        );
        tf.dispose([r as unknown as tf.TensorContainer, params as unknown as tf.TensorContainer]);
        tf.dispose(batch as unknown as tf.TensorContainer);
      });
    });

    it.skipIf(backend.software)(
      `${title}: with Ω (${c.variant}), ∂W_rec = FD of E + α·FD of Ω with δ and h frozen; the rest unchanged [skipped on software adapters: slow]`,
      async () => {
        await expectNoLeak(async () => {
          const alpha = 0.7;
          const f = fixture(c, 41);
          const { params, batch } = tensors(f);
          const plain = ref.lossAndGradients(params, f.config, batch);
          const r = ref.lossAndGradients(params, f.config, batch, {
            omega: { variant: c.variant, weight: alpha },
            keepDeltas: true,
            keepStates: true,
          });
          const deltas = await nested<Seq>(r.deltas!);
          const states = await nested<Seq>(r.states!);
          const wRec = Array.from(f.values.W_rec);
          const omegaAt = () => plainOmega(toRows(wRec, H, H), deltas, states, c.activation, c.variant);
          expect((await r.omega!.data())[0]).toBeCloseTo(omegaAt(), 4);
          const fdOmega = centralDifferences(wRec, EPS64, omegaAt);
          const fdLoss = await centralDifferencesAsync(f.values.W_rec, EPS32, () => tfLoss(f));
          const want = fdLoss.map((g, i) => g + alpha * fdOmega[i]);
          expectClose(await r.grads.W_rec.data(), want, 1e-2, 'W_rec with Ω');
          // The Ω term really changes W_rec's gradient here, and nothing else.
          expect(Math.hypot(...fdOmega)).toBeGreaterThan(1e-3);
          for (const n of NAMES.filter((x) => x !== 'W_rec')) {
            expect(Array.from(await r.grads[n].data())).toEqual(Array.from(await plain.grads[n].data()));
          }
          expect((await r.loss.data())[0]).toBe((await plain.loss.data())[0]);
          tf.dispose([r as unknown as tf.TensorContainer, plain as unknown as tf.TensorContainer]);
          tf.dispose([params as unknown as tf.TensorContainer, batch as unknown as tf.TensorContainer]);
        });
      },
    );
  }

  it.skipIf(backend.software)(
    'starts from a given h0 and returns h_T as lastState [skipped on software adapters: slow]',
    async () => {
      await expectNoLeak(async () => {
        const c = CASES[0];
        const f = fixture(c, 5);
        const { params, batch } = tensors(f);
        const h0: Mat = [
          [0.5, -0.2, 0.1, 0.3],
          [-0.4, 0.2, 0.0, 0.6],
        ];
        const h0t = tf.tensor2d(h0);
        const r = ref.lossAndGradients(params, f.config, batch, { h0: h0t, keepStates: true });
        const plain = plainRnnStates(plainModel(f), f.inputs, h0);
        expectClose(await r.states!.data(), plain.flat(2), 1e-5, 'states from h0');
        expectClose(
          await r.lastState.data(),
          plain.flatMap((s) => s[T - 1]),
          1e-5,
          'lastState',
        );
        // The gradient with h0 matches finite differences too (h0 is a constant input).
        const fd = await centralDifferencesAsync(f.values.W_rec, EPS32, () => tfLoss(f, h0t));
        expectClose(await r.grads.W_rec.data(), fd, 1e-2, 'W_rec from h0');
        const badH0 = tf.zeros([3, H]) as tf.Tensor2D;
        expect(() => ref.lossAndGradients(params, f.config, batch, { h0: badH0 })).toThrow(
          /h0 has shape \[3, 4\]; expected \[2, 4\]/,
        );
        tf.dispose([r as unknown as tf.TensorContainer, h0t, badH0, params as unknown as tf.TensorContainer]);
        tf.dispose(batch as unknown as tf.TensorContainer);
      });
    },
  );

  it('rejects batches whose shapes do not fit the config, naming the shapes', async () => {
    await expectNoLeak(() => {
      const f = fixture(CASES[1], 3);
      const { params, batch } = tensors(f);
      const wide = tf.zeros([B, T, I + 1]) as tf.Tensor3D;
      expect(() => ref.lossAndGradients(params, f.config, { ...batch, inputs: wide })).toThrow(
        /inputs have shape \[2, 5, 4\]; expected \[batch, time, 3\]/,
      );
      const wrongTargets = tf.zeros([B], 'int32');
      expect(() => ref.lossAndGradients(params, f.config, { ...batch, targets: wrongTargets })).toThrow(
        /targets have shape \[2\]; head 'softmax' expects \[2, 5\]/,
      );
      expect(() =>
        ref.lossAndGradients(params, f.config, batch, { omega: { variant: 'code', weight: Number.NaN } }),
      ).toThrow(/omega.weight/);
      tf.dispose([
        wide,
        wrongTargets,
        params as unknown as tf.TensorContainer,
        batch as unknown as tf.TensorContainer,
      ]);
    });
  });
});
