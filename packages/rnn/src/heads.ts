/**
 * Output heads and their losses (paper section 1), written once and shared by every
 * implementation and by the LSTM. They match the authors' Theano costs:
 * last-softmax and softmax: cross-entropy, mean over the batch (and time);
 * last-linear: squared error summed over outputs, mean over the batch;
 * sigmoid (music): binary cross-entropy summed over units, mean over (batch, time).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Head } from './implementation.js';

export const HEADS: readonly Head[] = ['last-softmax', 'softmax', 'last-linear', 'sigmoid'];

/** Whether the head reads only h_T (then ∂loss/∂h_t through the head is zero for t < T). */
export function isLastStepHead(head: Head): boolean {
  return head === 'last-softmax' || head === 'last-linear';
}

/** h W_out + b_out for h of shape [B, H] or [B, T, H]. */
export function headLogits(hidden: tf.Tensor, W_out: tf.Tensor, b_out: tf.Tensor): tf.Tensor {
  if (hidden.rank === 2) return tf.add(tf.matMul(hidden as tf.Tensor2D, W_out as tf.Tensor2D), b_out);
  const [B, T, H] = hidden.shape;
  const flat = tf.add(tf.matMul(tf.reshape(hidden, [B * T, H]), W_out as tf.Tensor2D), b_out);
  return tf.reshape(flat, [B, T, (W_out as tf.Tensor2D).shape[1]]);
}

/** The head's input: h_T ([B, H]) for last-step heads, else all states ([B, T, H]). */
export function headInput(head: Head, states: tf.Tensor3D): tf.Tensor {
  if (!isLastStepHead(head)) return states;
  const [B, T, H] = states.shape;
  return tf.reshape(tf.slice(states, [0, T - 1, 0], [B, 1, H]), [B, H]);
}

/** Inference outputs: probabilities (softmax, sigmoid heads) or values (linear head). */
export function headOutputs(head: Head, hidden: tf.Tensor, W_out: tf.Tensor, b_out: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const logits = headLogits(hidden, W_out, b_out);
    if (head === 'last-linear') return logits;
    if (head === 'sigmoid') return tf.sigmoid(logits);
    return tf.softmax(logits);
  });
}

/** Per-row loss weights: 1/B (last-step heads), 1/(B·T), or mask/max(Σ mask, 1) (masked mean). */
function rowWeights(head: Head, rows: number, mask?: tf.Tensor): tf.Tensor {
  if (isLastStepHead(head) || !mask) return tf.fill([rows, 1], 1 / rows);
  const m = tf.reshape(mask, [rows, 1]);
  return tf.div(m, tf.maximum(tf.sum(m), 1));
}

/** Targets as [N, O] rows: one-hot for class heads, values otherwise. */
function targetRows(head: Head, targets: tf.Tensor, rows: number, outputs: number): tf.Tensor2D {
  if (head === 'last-softmax' || head === 'softmax') {
    return tf.oneHot(tf.cast(tf.reshape(targets, [rows]), 'int32'), outputs) as tf.Tensor2D;
  }
  return tf.reshape(targets, [rows, outputs]) as tf.Tensor2D;
}

/** Per-row losses of logits z [N, O] against target rows y [N, O]. */
function rowLosses(head: Head, z: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor {
  switch (head) {
    case 'last-softmax':
    case 'softmax':
      return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(z)), 1));
    case 'last-linear':
      return tf.sum(tf.square(tf.sub(y, z)), 1);
    case 'sigmoid':
      // −[y log σ(z) + (1−y) log(1−σ(z))] = softplus(z) − y z, stable for large |z|.
      return tf.sum(tf.sub(tf.softplus(z), tf.mul(y, z)), 1);
    default:
      throw new RangeError(`unknown head ${JSON.stringify(head)}; expected one of ${HEADS.join(', ')}`);
  }
}

/** ∂(row loss)/∂z: softmax − y, σ(z) − y, or 2 (z − y). */
function rowLossSlope(head: Head, z: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor {
  if (head === 'last-linear') return tf.mul(tf.sub(z, y), 2);
  return tf.sub(head === 'sigmoid' ? tf.sigmoid(z) : tf.softmax(z), y);
}

interface HeadRows {
  hidden2: tf.Tensor2D;
  z: tf.Tensor2D;
  y: tf.Tensor2D;
  w: tf.Tensor;
}

function headRows(
  head: Head,
  hidden: tf.Tensor,
  W_out: tf.Tensor,
  b_out: tf.Tensor,
  targets: tf.Tensor,
  mask?: tf.Tensor,
): HeadRows {
  const [Hsize, O] = (W_out as tf.Tensor2D).shape;
  const rows = hidden.size / Hsize;
  const hidden2 = tf.reshape(hidden, [rows, Hsize]) as tf.Tensor2D;
  const z = tf.add(tf.matMul(hidden2, W_out as tf.Tensor2D), b_out) as tf.Tensor2D;
  return { hidden2, z, y: targetRows(head, targets, rows, O), w: rowWeights(head, rows, mask) };
}

/**
 * The task loss of `head` from the head's input (see {@link headInput}): cross-entropy,
 * squared error or binary cross-entropy, averaged as documented on {@link Head}.
 */
export function headLoss(
  head: Head,
  hidden: tf.Tensor,
  W_out: tf.Tensor,
  b_out: tf.Tensor,
  targets: tf.Tensor,
  mask?: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => {
    const { z, y, w } = headRows(head, hidden, W_out, b_out, targets, mask);
    return tf.sum(tf.mul(tf.reshape(rowLosses(head, z, y), w.shape), w));
  });
}

/**
 * The loss and its exact first-order gradients through the head: ∂E/∂hidden (same shape as
 * `hidden`: the direct part of δ_t), ∂E/∂W_out and ∂E/∂b_out. Written out by hand (no tape),
 * so it needs no registered tfjs gradients.
 */
export function headLossAndGradients(
  head: Head,
  hidden: tf.Tensor,
  W_out: tf.Tensor,
  b_out: tf.Tensor,
  targets: tf.Tensor,
  mask?: tf.Tensor,
): { loss: tf.Scalar; dHidden: tf.Tensor; gW_out: tf.Tensor2D; gb_out: tf.Tensor1D } {
  return tf.tidy(() => {
    const { hidden2, z, y, w } = headRows(head, hidden, W_out, b_out, targets, mask);
    const loss = tf.sum(tf.mul(tf.reshape(rowLosses(head, z, y), w.shape), w)) as tf.Scalar;
    const dz = tf.mul(rowLossSlope(head, z, y), w) as tf.Tensor2D;
    return {
      loss,
      dHidden: tf.reshape(tf.matMul(dz, W_out as tf.Tensor2D, false, true), hidden.shape),
      gW_out: tf.matMul(hidden2, dz, true, false),
      gb_out: tf.sum(dz, 0) as tf.Tensor1D,
    };
  });
}
