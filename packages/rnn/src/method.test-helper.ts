// Tests that call trainStep with a paper method: one optimizer per method, made on first use.
import type * as tf from '@tensorflow/tfjs-core';
import { methodOptimizer, type TrainingMethod } from './paper-method.js';

const made = new WeakMap<TrainingMethod, tf.Optimizer>();

/** The method's optimizer (its chain in front of SGD), the same object on every call. */
export function optimizerOf(method: TrainingMethod): tf.Optimizer {
  let o = made.get(method);
  if (!o) {
    o = methodOptimizer(method);
    made.set(method, o);
  }
  return o;
}
