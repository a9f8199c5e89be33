/** Tensor helpers for the kernel tests: a random RNN problem as tensors, comparisons. */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { TrainingProblem } from '../src/problem.js';
import { type ProblemOptions, randomProblem, relativeError } from './float64.js';

export interface TensorProblem {
  problem: TrainingProblem;
  params: { W_in: tf.Tensor2D; W_rec: tf.Tensor2D; b: tf.Tensor1D; W_out: tf.Tensor2D; b_out: tf.Tensor1D };
  inputs: tf.Tensor3D;
  targets: tf.Tensor;
  mask?: tf.Tensor2D;
  h0?: tf.Tensor2D;
  dispose(): void;
}

/** randomProblem's arrays as tensors of the shapes @cliffguard/rnn uses. */
export function tensorProblem(o: ProblemOptions): TensorProblem {
  const p = randomProblem(o);
  const { batch: B, time: T, inputSize: I, hiddenSize: H, outputSize: O } = p;
  const w = p.weights;
  const targetShape = { 'last-softmax': [B], softmax: [B, T], 'last-linear': [B, O], sigmoid: [B, T, O] }[
    p.head
  ];
  const t: TensorProblem = {
    problem: p,
    params: {
      W_in: tf.tensor2d(w.W_in, [I, H]),
      W_rec: tf.tensor2d(w.W_rec, [H, H]),
      b: tf.tensor1d(w.b),
      W_out: tf.tensor2d(w.W_out, [H, O]),
      b_out: tf.tensor1d(w.b_out),
    },
    inputs: tf.tensor3d(p.inputs, [B, T, I]),
    targets: tf.tensor(p.targets, targetShape, p.targets instanceof Int32Array ? 'int32' : 'float32'),
    mask: p.mask ? tf.tensor2d(p.mask, [B, T]) : undefined,
    h0: p.h0 ? tf.tensor2d(p.h0, [B, H]) : undefined,
    dispose() {
      tf.dispose([...Object.values(t.params), t.inputs, t.targets]);
      if (t.mask) t.mask.dispose();
      if (t.h0) t.h0.dispose();
    },
  };
  return t;
}

/** Norm-wise relative error of two tensors' values below `tol`. */
export async function expectTensorClose(actual: tf.Tensor, expected: tf.Tensor, tol: number, what: string) {
  expect(actual.shape, `${what} shape`).toEqual(expected.shape);
  const err = relativeError(await actual.data(), await expected.data());
  expect(err, `${what}: relative error ${err}`).toBeLessThan(tol);
}
