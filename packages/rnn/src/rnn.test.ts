import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { RnnImplementation } from './implementation.js';
import { createLstm } from './lstm.js';
import {
  expectClose,
  lcg,
  nested,
  plainRnnStates,
  randomSeq,
  type Seq,
  toRows,
} from './plain.test-helper.js';
import { referenceImplementation } from './reference.js';
import { getImplementation, listImplementations, registerImplementation } from './registry.js';
import { createRnn, type RnnModel } from './rnn.js';

const SIZES = { inputSize: 3, hiddenSize: 5, outputSize: 2 };

async function plainOf(model: RnnModel) {
  const w = await model.getWeights();
  const { inputSize: I, hiddenSize: H, outputSize: O } = model.config;
  return {
    W_in: toRows(w.W_in.values, I, H),
    W_rec: toRows(w.W_rec.values, H, H),
    b: Array.from(w.b.values),
    W_out: toRows(w.W_out.values, H, O),
    b_out: Array.from(w.b_out.values),
    activation: model.config.activation,
  };
}

describe('createRnn options', () => {
  it('rejects bad options with errors naming the value', () => {
    expect(() => createRnn({ ...SIZES, head: 'softmax-last' as never })).toThrow(
      /unknown head "softmax-last"/,
    );
    expect(() => createRnn({ ...SIZES, init: 'he' as never })).toThrow(/unknown init "he"/);
    expect(() => createRnn({ ...SIZES, activation: 'relu' as never })).toThrow(
      /activation must be 'tanh' or 'sigmoid', got "relu"/,
    );
    expect(() => createRnn({ ...SIZES, hiddenSize: 2.5 })).toThrow(
      /hiddenSize must be a positive integer, got 2.5/,
    );
    expect(() => createRnn({ ...SIZES, seed: 0.5 })).toThrow(/seed must be an integer/);
    expect(() => createRnn({ ...SIZES, implementation: 'nope' })).toThrow(
      /no RNN implementation named "nope"; registered: reference/,
    );
  });
});

describeBackends('createRnn', () => {
  it('derives activation and init from each other', async () => {
    await expectNoLeak(() => {
      const a = createRnn({ ...SIZES, init: 'sigmoid' });
      const b = createRnn({ ...SIZES, activation: 'sigmoid' });
      const c = createRnn({ ...SIZES });
      expect([a.config.activation, b.config.init, c.config.init, c.config.activation, c.config.head]).toEqual(
        ['sigmoid', 'sigmoid', 'smart-tanh', 'tanh', 'last-softmax'],
      );
      for (const m of [a, b, c]) m.dispose();
    });
  });
  it('exposes named trainable variables of the documented shapes; dispose frees everything', async () => {
    await expectNoLeak(async () => {
      const m = createRnn({ ...SIZES, head: 'softmax', init: 'glorot', seed: 1 });
      const shapes = Object.fromEntries(Object.entries(m.variables).map(([k, v]) => [k, v.shape]));
      expect(shapes).toEqual({ W_in: [3, 5], W_rec: [5, 5], b: [5], W_out: [5, 2], b_out: [2] });
      for (const [k, v] of Object.entries(m.variables)) {
        expect(v.trainable).toBe(true);
        expect(v.name.endsWith(`/${k}`)).toBe(true);
      }
      const other = createRnn({ ...SIZES, seed: 1 });
      expect(other.variables.W_rec.name).not.toBe(m.variables.W_rec.name);
      m.dispose();
      other.dispose();
      expect(m.isDisposed).toBe(true);
      const x = tf.zeros([1, 1, 3]) as tf.Tensor3D;
      expect(() => m.forward(x)).toThrow(/disposed/);
      x.dispose();
    });
  });

  it('forward gives {outputs, states} equal to a plain-JS forward of its weights', async () => {
    await expectNoLeak(async () => {
      const m = createRnn({ ...SIZES, head: 'softmax', init: 'basic-tanh', seed: 4 });
      const inputs = randomSeq(lcg(2), 2, 4, 3);
      const x = tf.tensor3d(inputs);
      const { outputs, states } = m.forward(x);
      expect(outputs.shape).toEqual([2, 4, 2]);
      const plain = plainRnnStates(await plainOf(m), inputs);
      expectClose(await states.data(), plain.flat(2), 1e-5, 'states');
      const sums = (await nested<Seq>(outputs)).flat(1).map((p) => p[0] + p[1]);
      for (const s of sums) expect(s).toBeCloseTo(1, 5);
      tf.dispose([x, outputs, states]);
      m.dispose();
    });
  });

  it('validates inputs and targets with errors that name the shapes', async () => {
    await expectNoLeak(() => {
      const m = createRnn({ ...SIZES, head: 'last-linear', seed: 1 });
      const bad = tf.zeros([2, 4, 7]) as tf.Tensor3D;
      const flat = tf.zeros([2, 3]) as unknown as tf.Tensor3D;
      const good = tf.zeros([2, 4, 3]) as tf.Tensor3D;
      const targets = tf.zeros([2, 3]);
      const ints = tf.zeros([2, 2], 'int32');
      const fit = tf.zeros([2, 2]);
      expect(() => m.forward(bad)).toThrow(
        /inputs have shape \[2, 4, 7\]; expected \[batch, time, 3\] \(inputSize 3\)/,
      );
      expect(() => m.forward(flat)).toThrow(/inputs have shape \[2, 3\]/);
      expect(() => m.lossAndGradients({ inputs: good, targets })).toThrow(
        /targets have shape \[2, 3\]; head 'last-linear' expects \[2, 2\] for inputs \[2, 4, 3\]/,
      );
      expect(() => m.lossAndGradients({ inputs: good, targets: ints })).toThrow(
        /needs float32 targets, got int32/,
      );
      expect(() => m.lossAndGradients({ inputs: good, targets: fit, mask: ints as tf.Tensor2D })).toThrow(
        /mask applies to the per-step heads/,
      );
      tf.dispose([bad, flat, good, targets, ints, fit]);
      m.dispose();
    });
  });

  it('carries the hidden state across segments (truncated BPTT) when asked, and resets it', async () => {
    await expectNoLeak(async () => {
      const inputs = randomSeq(lcg(5), 2, 6, 3);
      const full = createRnn({ ...SIZES, head: 'softmax', init: 'basic-tanh', seed: 9 });
      const seg = createRnn({ ...SIZES, head: 'softmax', init: 'basic-tanh', seed: 9, carryState: true });
      const x = tf.tensor3d(inputs);
      const { outputs: o, states: whole } = full.forward(x);
      const wholeStates = await nested<Seq>(whole);
      const first = tf.tensor3d(inputs.map((s) => s.slice(0, 3)));
      const second = tf.tensor3d(inputs.map((s) => s.slice(3)));
      const targets = tf.zeros([2, 3], 'int32');
      // Segment 1 by lossAndGradients, segment 2 by forward: both carry.
      const r1 = seg.lossAndGradients({ inputs: first, targets }, { keepStates: true });
      const r2 = seg.forward(second);
      expectClose(await r1.states!.data(), wholeStates.map((s) => s.slice(0, 3)).flat(2), 1e-6, 'segment 1');
      expectClose(await r2.states.data(), wholeStates.map((s) => s.slice(3)).flat(2), 1e-5, 'segment 2');
      expect(seg.carriedState).not.toBeNull();
      // Not carrying: starts from zeros and leaves the carried state alone.
      seg.carryState = false;
      const r3 = seg.forward(first);
      expectClose(await r3.states.data(), wholeStates.map((s) => s.slice(0, 3)).flat(2), 1e-6, 'fresh start');
      expectClose(
        await seg.carriedState![0].data(),
        wholeStates.flatMap((s) => s[5]),
        1e-5,
        'kept',
      );
      // A different batch size while carrying is an error that says what to do.
      seg.carryState = true;
      const one = tf.tensor3d([inputs[0]]);
      expect(() => seg.forward(one)).toThrow(
        /carried state has batch 2 but this batch has 1 rows; call resetState\(\)/,
      );
      seg.resetState();
      expect(seg.carriedState).toBeNull();
      const r4 = seg.forward(one);
      expectClose(await r4.states.data(), wholeStates[0].flat(), 1e-5, 'after reset');
      tf.dispose([x, o, whole, first, second, targets, r2.outputs, r2.states, r3.outputs, r3.states, one]);
      tf.dispose([r4.outputs, r4.states, r1 as unknown as tf.TensorContainer]);
      full.dispose();
      seg.dispose();
    });
  });

  it('getWeights/setWeights round-trip plain data; bad data changes nothing', async () => {
    await expectNoLeak(async () => {
      const a = createRnn({ ...SIZES, seed: 1 });
      const b = createRnn({ ...SIZES, seed: 2 });
      const wa = await a.getWeights();
      b.setWeights(wa);
      const wb = await b.getWeights();
      for (const k of Object.keys(wa)) expect(wb[k].values).toEqual(wa[k].values);
      // getWeights hands out copies.
      wb.W_rec.values[0] = 123;
      expect((await b.getWeights()).W_rec.values[0]).toBe(wa.W_rec.values[0]);
      const nan = { ...wa, b: { shape: [5], values: Float32Array.from([0, 0, Number.NaN, 0, 0]) } };
      expect(() => b.setWeights(nan)).toThrow(/setWeights: b\[2\] is NaN; weights must be finite/);
      const wrong = { ...wa, W_rec: { shape: [4, 4], values: new Float32Array(16) } };
      expect(() => b.setWeights(wrong)).toThrow(/W_rec has shape \[4,4\] with 16 values; expected \[5, 5\]/);
      expect(() => b.setWeights({ ...wa, W_x: wa.b })).toThrow(/unknown parameter\(s\) W_x/);
      const { b: _, ...missing } = wa;
      expect(() => b.setWeights(missing)).toThrow(/missing parameter b/);
      const after = await b.getWeights();
      for (const k of Object.keys(wa)) expect(after[k].values).toEqual(wa[k].values);
      a.dispose();
      b.dispose();
    });
  });

  it('the same seed gives bit-identical variables', async () => {
    await expectNoLeak(async () => {
      for (const init of ['smart-tanh', 'orthogonal'] as const) {
        const a = createRnn({ ...SIZES, init, seed: 11 });
        const b = createRnn({ ...SIZES, init, seed: 11 });
        const [wa, wb] = [await a.getWeights(), await b.getWeights()];
        for (const k of Object.keys(wa)) expect(wb[k].values).toEqual(wa[k].values);
        a.dispose();
        b.dispose();
      }
    });
  });

  it('delegates to a registered implementation, and refuses one that does not support the backend', async () => {
    await expectNoLeak(async () => {
      let calls = 0;
      const counting: RnnImplementation = {
        name: 'counting-test',
        supports: (config) => config.hiddenSize < 10,
        forward: (...args) => {
          calls++;
          return referenceImplementation.forward(...args);
        },
        lossAndGradients: (...args) => {
          calls++;
          return referenceImplementation.lossAndGradients(...args);
        },
      };
      registerImplementation(counting);
      expect(listImplementations()).toContain('counting-test');
      expect(getImplementation('counting-test')).toBe(counting);
      const m = createRnn({ ...SIZES, implementation: 'counting-test' });
      const x = tf.zeros([1, 2, 3]) as tf.Tensor3D;
      const { outputs, states } = m.forward(x);
      expect(calls).toBe(1);
      expect(m.implementation.name).toBe('counting-test');
      const big = createRnn({ ...SIZES, hiddenSize: 12, implementation: counting });
      const x2 = tf.zeros([1, 2, 3]) as tf.Tensor3D;
      expect(() => big.forward(x2)).toThrow(
        /'counting-test' does not support this model \(12 units.*use model.useImplementation\('reference'\)/,
      );
      big.useImplementation('reference');
      const r = big.forward(x2);
      expect(calls).toBe(1);
      expect(() => registerImplementation({ ...counting, name: 'reference' })).toThrow(
        /'reference' is taken/,
      );
      expect(() => registerImplementation({ name: 'x' } as never)).toThrow(
        /needs a non-empty name and the functions/,
      );
      tf.dispose([x, x2, outputs, states, r.outputs, r.states]);
      m.dispose();
      big.dispose();
    });
  });
});

describeBackends('without registered tfjs gradients', () => {
  it('the RNN needs none (its gradients are written out); the LSTM says what to import', async () => {
    await expectNoLeak(async () => {
      expect(tf.getGradient('Tanh')).toBeUndefined();
      const rnn = createRnn({ ...SIZES, seed: 1 });
      const lstm = createLstm({ ...SIZES, seed: 1 });
      const batch = { inputs: tf.zeros([2, 3, 3]) as tf.Tensor3D, targets: tf.tensor1d([0, 1], 'int32') };
      const r = rnn.lossAndGradients(batch, { omega: { variant: 'paper', weight: 1 } });
      expect(Number.isFinite((await r.loss.data())[0])).toBe(true);
      expect(() => lstm.lossAndGradients(batch)).toThrow(
        /no gradient is registered for .*import '@tensorflow\/tfjs'/,
      );
      tf.dispose([batch.inputs, batch.targets, r as unknown as tf.TensorContainer]);
      rnn.dispose();
      lstm.dispose();
    });
  });
});
