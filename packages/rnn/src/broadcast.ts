/**
 * Exact expansions for broadcasting over size-1 axes. tfjs-backend-cpu computes a binary op
 * whose operand has a size-1 axis to broadcast element by element through index arithmetic
 * (two arrays allocated per element: about 100x slower than the same op on equal shapes, which
 * is also what it does for an operand that only lacks leading axes), and tf.where broadcasts
 * its condition with a Tile. Here the small operand is expanded first by a matMul with ones:
 * one product by 1 per element, so the values are exactly the operand's.
 */
import * as tf from '@tensorflow/tfjs-core';

/** y [..., 1] repeated along its last axis: [..., n]. */
export function repeatLast(y: tf.Tensor, n: number): tf.Tensor {
  const lead = y.shape.slice(0, -1);
  const rows = lead.reduce((p, d) => p * d, 1);
  return tf.reshape(tf.matMul(tf.reshape(y, [rows, 1]) as tf.Tensor2D, tf.ones([1, n])), [...lead, n]);
}

/** y [..., 1, C] repeated along its second-to-last axis: [..., n, C]. */
export function repeatRows(y: tf.Tensor, n: number): tf.Tensor {
  const ones = tf.ones([...new Array(y.rank - 2).fill(1), n, 1]);
  return tf.matMul(ones as tf.Tensor2D, y as tf.Tensor2D);
}

/** One value per run ([R], float32 or bool) spread over a tensor of `shape` = [R, ...]. */
export function spreadRuns(values: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const R = shape[0];
  const size = shape.reduce((p, d) => p * d, 1);
  const asFloat = values.dtype === 'float32' ? values : tf.cast(values, 'float32');
  const spread = tf.reshape(repeatLast(tf.reshape(asFloat, [R, 1]), size / R), [...shape]);
  return values.dtype === 'bool' ? tf.cast(spread, 'bool') : spread;
}
