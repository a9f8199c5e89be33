// tfjs-core alone registers no gradients; tfjs-layers' bundle registers tfjs-core's (as a user's
// `@tensorflow/tfjs` does).
import '@tensorflow/tfjs-layers';
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { HEADS } from './heads.js';
import type { Activation, Head, ParamName, RnnImplementation } from './implementation.js';
import { createLstm, type LstmModel } from './lstm.js';
import {
  expectClose,
  lcg,
  type Mat,
  matmulRow,
  type PlainLstm,
  type PlainRnn,
  plainLstmStates,
  plainRnnStates,
  randomSeq,
  type Seq,
  sigmoid,
  toRows,
} from './plain.test-helper.js';
import { referenceImplementation } from './reference.js';
import { createRnn, type RnnModel } from './rnn.js';

/*
 * tf.grad / tf.variableGrads through model.forward (the reference implementation: tfjs ops
 * end to end) against central differences of an independent float64 plain-JS forward pass
 * (plain.test-helper.ts) built from the same weights. The loss is L = Σ outputs ⊙ R with fixed
 * random R, so every output entry (probabilities, values) feeds the gradient.
 *
 * Float64 differences with ε = 1e-6 have truncation error O(ε²) ≈ 1e-12 and round-off
 * ≈ 1e-16/ε = 1e-10; the float32 tfjs gradient carries ~1e-6 relative error after T = 3 steps.
 * Tolerance: norm-wise relative error < 1e-4 per parameter (a wrong gradient, a dropped time
 * step or a transposed weight is off by O(1)).
 */
const EPS = 1e-6;
const TOL = 1e-4;
const I = 2;
const H = 3;
const O = 2;
const B = 2;
const T = 3;
const RNN_PARAMS: ParamName[] = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'];
const ACTIVATIONS: Activation[] = ['tanh', 'sigmoid'];

const isLast = (head: Head) => head === 'last-softmax' || head === 'last-linear';

/** The head's inference outputs for one state h: probabilities or values. */
function plainOutput(head: Head, h: number[], W_out: Mat, b_out: number[]): number[] {
  const z = matmulRow(h, W_out).map((v, k) => v + b_out[k]);
  if (head === 'last-linear') return z;
  if (head === 'sigmoid') return z.map(sigmoid);
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

/** L = Σ outputs ⊙ R for outputs [B, O] (last-step heads) or [B, T, O], R flat in that order. */
function plainScalarLoss(head: Head, states: Seq, W_out: Mat, b_out: number[], R: number[]): number {
  const rows = isLast(head) ? states.map((seq) => seq[seq.length - 1]) : states.flat();
  let sum = 0;
  rows.forEach((h, r) => {
    plainOutput(head, h, W_out, b_out).forEach((v, k) => {
      sum += v * R[r * O + k];
    });
  });
  return sum;
}

/** ∂L/∂x_i by central differences of the float64 function f over a copy of `values`. */
function differences(values: ArrayLike<number>, f: (x: number[]) => number): number[] {
  const x = Array.from(values);
  return x.map((keep, i) => {
    x[i] = keep + EPS;
    const up = f(x);
    x[i] = keep - EPS;
    const down = f(x);
    x[i] = keep;
    return (up - down) / (2 * EPS);
  });
}

function fixture(head: Head, seed: number) {
  const rand = lcg(seed);
  const inputs = randomSeq(rand, B, T, I);
  const R = Array.from({ length: (isLast(head) ? B : B * T) * O }, () => 2 * rand() - 1);
  const rShape = isLast(head) ? [B, O] : [B, T, O];
  return { inputs, R, rShape };
}

/**
 * Uniform weights in [−1, 1): O(1) entries everywhere (the paper's inits make some gradients
 * tiny at these sizes, e.g. a sparse W_rec), so every parameter's gradient is well above round-off.
 */
function setRandomWeights(model: RnnModel | LstmModel, seed: number): void {
  const rand = lcg(seed);
  const weights: Record<string, { shape: number[]; values: Float32Array }> = {};
  for (const [name, v] of Object.entries(model.variables as Record<string, tf.Variable>)) {
    weights[name] = { shape: v.shape, values: Float32Array.from({ length: v.size }, () => 2 * rand() - 1) };
  }
  model.setWeights(weights);
}

async function plainRnnOf(model: RnnModel): Promise<PlainRnn> {
  const w = await model.getWeights();
  return {
    W_in: toRows(w.W_in.values, I, H),
    W_rec: toRows(w.W_rec.values, H, H),
    b: Array.from(w.b.values),
    W_out: toRows(w.W_out.values, H, O),
    b_out: Array.from(w.b_out.values),
    activation: model.config.activation,
  };
}

/** The float64 loss as a function of one parameter's (or the inputs') flat values. */
function rnnLossOf(p: PlainRnn, head: Head, inputs: Seq, R: number[], which: ParamName | 'inputs') {
  return (x: number[]): number => {
    const q: PlainRnn = { ...p };
    let u = inputs;
    if (which === 'inputs') u = Array.from({ length: B }, (_, b) => toRows(x.slice(b * T * I), T, I));
    else if (which === 'b' || which === 'b_out') q[which] = x;
    else q[which] = toRows(x, which === 'W_in' ? I : H, which === 'W_out' ? O : H);
    return plainScalarLoss(head, plainRnnStates(q, u), q.W_out, q.b_out, R);
  };
}

describeBackends('tf.grad through model.forward (reference implementation)', (backend) => {
  for (const head of HEADS) {
    for (const activation of ACTIVATIONS) {
      it(`${head}, ${activation}: tf.variableGrads and tf.grad (inputs) match float64 central differences`, async () => {
        await expectNoLeak(async () => {
          const model = createRnn({
            inputSize: I,
            hiddenSize: H,
            outputSize: O,
            head,
            activation,
          });
          setRandomWeights(model, 5);
          expect(model.implementation.name).toBe('reference');
          const f = fixture(head, 17);
          const x = tf.tensor3d(f.inputs);
          const R = tf.tensor(f.R, f.rShape);
          const loss = (inputs: tf.Tensor3D) => tf.sum(tf.mul(model.forward(inputs).outputs, R)) as tf.Scalar;

          const { value, grads } = tf.variableGrads(() => loss(x));
          const dx = tf.grad((inputs: tf.Tensor) => loss(inputs as tf.Tensor3D))(x);

          const p = await plainRnnOf(model);
          expect((await value.data())[0]).toBeCloseTo(
            rnnLossOf(p, head, f.inputs, f.R, 'W_in')(p.W_in.flat()),
            5,
          );
          for (const name of RNN_PARAMS) {
            const variable = model.variables[name];
            const g = grads[variable.name];
            expect(g, `a gradient for ${variable.name}`).toBeDefined();
            const values = await variable.data();
            const fd = differences(values, rnnLossOf(p, head, f.inputs, f.R, name));
            expect(Math.hypot(...fd), `∂L/∂${name} is not zero`).toBeGreaterThan(1e-3);
            expectClose(await g.data(), fd, TOL, `${backend.name} ${head} ${activation} ∂L/∂${name}`);
          }
          const fdInputs = differences(f.inputs.flat(2), rnnLossOf(p, head, f.inputs, f.R, 'inputs'));
          expectClose(await dx.data(), fdInputs, TOL, `${backend.name} ${head} ${activation} ∂L/∂inputs`);

          tf.dispose([x, R, value, dx, ...Object.values(grads)]);
          model.dispose();
        });
      });
    }
  }

  it('the LSTM: tf.variableGrads through forward matches float64 central differences', async () => {
    await expectNoLeak(async () => {
      const head: Head = 'sigmoid';
      const model: LstmModel = createLstm({ inputSize: I, hiddenSize: H, outputSize: O, head });
      setRandomWeights(model, 6);
      const f = fixture(head, 23);
      const x = tf.tensor3d(f.inputs);
      const R = tf.tensor(f.R, f.rShape);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(model.forward(x).outputs, R)) as tf.Scalar,
      );
      const w = await model.getWeights();
      const p: PlainLstm = {
        W_x: toRows(w.W_x.values, I, 4 * H),
        W_h: toRows(w.W_h.values, H, 4 * H),
        b: Array.from(w.b.values),
        W_out: toRows(w.W_out.values, H, O),
        b_out: Array.from(w.b_out.values),
      };
      const lossOf = (name: keyof PlainLstm) => (v: number[]) => {
        const q: PlainLstm = { ...p };
        if (name === 'b' || name === 'b_out') q[name] = v;
        else q[name] = toRows(v, name === 'W_x' ? I : H, name === 'W_out' ? O : 4 * H);
        return plainScalarLoss(head, plainLstmStates(q, f.inputs), q.W_out, q.b_out, f.R);
      };
      expect((await value.data())[0]).toBeCloseTo(lossOf('b')(p.b), 5);
      for (const name of ['W_x', 'W_h', 'b', 'W_out', 'b_out'] as const) {
        const variable = model.variables[name];
        const fd = differences(w[name].values, lossOf(name));
        expect(Math.hypot(...fd), `∂L/∂${name} is not zero`).toBeGreaterThan(1e-3);
        expectClose(await grads[variable.name].data(), fd, TOL, `${backend.name} LSTM ∂L/∂${name}`);
      }
      tf.dispose([x, R, value, ...Object.values(grads)]);
      model.dispose();
    });
  });

  it('a forward that runs a kernel without a gradient on the weights fails tf.grad with an error saying what to do', async () => {
    await expectNoLeak(async () => {
      // Stands in for the fused implementation, whose CliffguardRnnForward kernel (inference
      // only) has no gradient: StridedSlice has none in tfjs-core either.
      const inferenceOnly: RnnImplementation = {
        ...referenceImplementation,
        name: 'inference-only',
        forward: (params, config, inputs, h0) =>
          tf.tidy(() => {
            const W_rec = tf.stridedSlice(params.W_rec, [0, 0], params.W_rec.shape);
            return referenceImplementation.forward({ ...params, W_rec }, config, inputs, h0);
          }),
      };
      const model = createRnn({ inputSize: I, hiddenSize: H, outputSize: O, head: 'softmax' });
      const x = tf.tensor3d(fixture('softmax', 3).inputs);
      const before = model.forward(x);
      model.useImplementation(inferenceOnly);
      const after = model.forward(x);
      expect(Array.from(await after.outputs.data())).toEqual(Array.from(await before.outputs.data()));
      // A failed tf.grad leaves its loss and the tape's saved tensors behind (tfjs's doing, not
      // the model's); `failing` hands them back so that the leak check stays exact.
      const failing =
        (differentiate: (loss: (u: tf.Tensor) => tf.Scalar) => unknown, loss: (u: tf.Tensor) => tf.Scalar) =>
        () => {
          let y: tf.Tensor | undefined;
          try {
            differentiate((u) => {
              y = loss(u);
              return y as tf.Scalar;
            });
          } finally {
            y?.dispose();
            for (const node of tf.engine().state.activeTape ?? []) tf.dispose(node.saved ?? []);
          }
        };
      const outputsLoss = (u: tf.Tensor) => tf.sum(model.forward(u as tf.Tensor3D).outputs) as tf.Scalar;
      const statesLoss = (u: tf.Tensor) => tf.sum(model.forward(u as tf.Tensor3D).states) as tf.Scalar;
      expect(failing((loss) => tf.variableGrads(() => loss(x)), outputsLoss)).toThrow(
        /^tfjs cannot differentiate model.forward: the 'inference-only' implementation ran it with StridedSlice on backend '\w+', and no gradient is registered for it. Differentiate the 'reference' implementation \(model.useImplementation\('reference'\)\), or take the gradients from model.lossAndGradients/,
      );
      expect(failing((loss) => tf.grad(loss)(x), statesLoss)).toThrow(
        /^tfjs cannot differentiate model.forward/,
      );
      // Only when the gradient would go through it: a loss that ignores forward's results works.
      const { value, grads } = tf.variableGrads(() => {
        model.forward(x);
        return tf.sum(tf.square(model.variables.W_out)) as tf.Scalar;
      });
      expect(Object.keys(grads)).toEqual([model.variables.W_out.name]);
      // and tf.grad through the reference again works on the same model
      model.useImplementation('reference');
      const back = tf.variableGrads(() => tf.sum(model.forward(x).outputs) as tf.Scalar);
      expect(Object.keys(back.grads).sort()).toEqual(RNN_PARAMS.map((n) => model.variables[n].name).sort());
      tf.dispose([x, before.outputs, before.states, after.outputs, after.states, value, back.value]);
      tf.dispose([...Object.values(grads), ...Object.values(back.grads)]);
      model.dispose();
    });
  });
});
