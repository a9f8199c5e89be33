/**
 * Output heads and their losses (paper section 1), written once and shared by every
 * implementation and by the LSTM. They match the authors' Theano costs:
 * last-softmax and softmax: cross-entropy, mean over the batch (and time);
 * last-linear: squared error summed over outputs, mean over the batch;
 * sigmoid (music): binary cross-entropy summed over units, mean over (batch, time).
 */
import * as tf from '@tensorflow/tfjs-core';
import { repeatLast, repeatRows } from './broadcast.js';
import type { Head } from './implementation.js';

export const HEADS: readonly Head[] = ['last-softmax', 'softmax', 'last-linear', 'sigmoid'];

/** Whether the head reads only h_T (then ∂loss/∂h_t through the head is zero for t < T). */
export function isLastStepHead(head: Head): boolean {
  return head === 'last-softmax' || head === 'last-linear';
}

/** h W_out + b_out for h of shape [B, H] or [B, T, H]. */
export function headLogits(hidden: tf.Tensor, W_out: tf.Tensor, b_out: tf.Tensor): tf.Tensor {
  return stackedHeadLogits(hidden, W_out, b_out, []);
}

/** The head's input: h_T ([B, H]) for last-step heads, else all states ([B, T, H]). */
export function headInput(head: Head, states: tf.Tensor3D): tf.Tensor {
  if (!isLastStepHead(head)) return states;
  const [B, T, H] = states.shape;
  return tf.reshape(tf.slice(states, [0, T - 1, 0], [B, 1, H]), [B, H]);
}

/** Inference outputs: probabilities (softmax, sigmoid heads) or values (linear head). */
export function headOutputs(head: Head, hidden: tf.Tensor, W_out: tf.Tensor, b_out: tf.Tensor): tf.Tensor {
  return stackedHeadOutputs(head, hidden, W_out, b_out, []);
}

/**
 * Leading run axes of stacked operands: [] for one model, [R] for an ensemble of R models whose
 * parameters are stacked along a first axis (W_out [R, H, O], b_out [R, O]). Every helper below
 * works on either; with [] it runs exactly the single model's kernels.
 */
export type RunAxes = readonly number[];

/** b_out shaped to add to [...runs, rows, O]: as it is for one model, repeated per row for stacked runs. */
function outputBias(b_out: tf.Tensor, runs: RunAxes, rows: number): tf.Tensor {
  if (runs.length === 0) return b_out;
  return repeatRows(tf.reshape(b_out, [...runs, 1, b_out.shape[b_out.rank - 1]]), rows);
}

/** Per-row loss weights: 1/B (last-step heads), 1/(B·T), or mask/max(Σ mask, 1) (masked mean). */
function rowWeights(head: Head, rows: number, runs: RunAxes, mask?: tf.Tensor): tf.Tensor {
  if (isLastStepHead(head) || !mask) return tf.fill([rows, 1], 1 / rows);
  const m = tf.reshape(mask, [...runs, rows, 1]);
  return tf.div(m, tf.maximum(runs.length === 0 ? tf.sum(m) : tf.sum(m, -2, true), 1));
}

/** Targets as [...runs, N, O] rows: one-hot for class heads, values otherwise. */
function targetRows(head: Head, targets: tf.Tensor, rows: number, outputs: number, runs: RunAxes): tf.Tensor {
  if (head === 'last-softmax' || head === 'softmax') {
    return tf.oneHot(tf.cast(tf.reshape(targets, [...runs, rows]), 'int32'), outputs);
  }
  return tf.reshape(targets, [...runs, rows, outputs]);
}

/** Per-row losses of logits z [..., N, O] against target rows y [..., N, O]. */
function rowLosses(head: Head, z: tf.Tensor, y: tf.Tensor): tf.Tensor {
  switch (head) {
    case 'last-softmax':
    case 'softmax':
      return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(z)), -1));
    case 'last-linear':
      return tf.sum(tf.square(tf.sub(y, z)), -1);
    case 'sigmoid':
      // −[y log σ(z) + (1−y) log(1−σ(z))] = softplus(z) − y z, stable for large |z|.
      return tf.sum(tf.sub(tf.softplus(z), tf.mul(y, z)), -1);
    default:
      throw new RangeError(`unknown head ${JSON.stringify(head)}; expected one of ${HEADS.join(', ')}`);
  }
}

/** ∂(row loss)/∂z: softmax − y, σ(z) − y, or 2 (z − y). */
function rowLossSlope(head: Head, z: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (head === 'last-linear') return tf.mul(tf.sub(z, y), 2);
  return tf.sub(head === 'sigmoid' ? tf.sigmoid(z) : tf.softmax(z), y);
}

interface HeadRows {
  hidden2: tf.Tensor;
  z: tf.Tensor;
  y: tf.Tensor;
  w: tf.Tensor;
}

function headRows(
  head: Head,
  hidden: tf.Tensor,
  W_out: tf.Tensor,
  b_out: tf.Tensor,
  targets: tf.Tensor,
  mask: tf.Tensor | undefined,
  runs: RunAxes,
): HeadRows {
  const [Hsize, O] = W_out.shape.slice(-2);
  const rows = hidden.size / Hsize / runs.reduce((n, r) => n * r, 1);
  const hidden2 = tf.reshape(hidden, [...runs, rows, Hsize]);
  const z = tf.add(tf.matMul(hidden2, W_out as tf.Tensor2D), outputBias(b_out, runs, rows));
  return { hidden2, z, y: targetRows(head, targets, rows, O, runs), w: rowWeights(head, rows, runs, mask) };
}

/** Σ over rows of row loss × row weight: a scalar, or one loss per run ([...runs]). */
function weightedLoss(head: Head, rowsOf: HeadRows, runs: RunAxes): tf.Tensor {
  const { z, y, w } = rowsOf;
  const perRow = tf.mul(tf.reshape(rowLosses(head, z, y), [...z.shape.slice(0, -1), 1]), w);
  return runs.length === 0 ? tf.sum(perRow) : tf.sum(perRow, [-2, -1]);
}

/** {@link headLogits} on stacked operands (see {@link RunAxes}): hidden [...runs, B, H] or [...runs, B, T, H]. */
export function stackedHeadLogits(
  hidden: tf.Tensor,
  W_out: tf.Tensor,
  b_out: tf.Tensor,
  runs: RunAxes,
): tf.Tensor {
  const k = runs.length;
  if (hidden.rank === k + 2) {
    return tf.add(
      tf.matMul(hidden as tf.Tensor2D, W_out as tf.Tensor2D),
      outputBias(b_out, runs, hidden.shape[k]),
    );
  }
  const [Hsize, O] = W_out.shape.slice(-2);
  const [B, T] = hidden.shape.slice(k, -1);
  const flat = tf.add(
    tf.matMul(tf.reshape(hidden, [...runs, B * T, Hsize]), W_out as tf.Tensor2D),
    outputBias(b_out, runs, B * T),
  );
  return tf.reshape(flat, [...runs, B, T, O]);
}

/** {@link headOutputs} on stacked operands (see {@link RunAxes}): probabilities or values. */
export function stackedHeadOutputs(
  head: Head,
  hidden: tf.Tensor,
  W_out: tf.Tensor,
  b_out: tf.Tensor,
  runs: RunAxes,
): tf.Tensor {
  return tf.tidy(() => {
    const logits = stackedHeadLogits(hidden, W_out, b_out, runs);
    if (head === 'last-linear') return logits;
    if (head === 'sigmoid') return tf.sigmoid(logits);
    return tf.softmax(logits);
  });
}

/**
 * {@link headLossAndGradients} on stacked operands (see {@link RunAxes}): per-run losses
 * [...runs], dHidden like `hidden`, gW_out [...runs, H, O], gb_out [...runs, O].
 */
export function stackedHeadLossAndGradients(
  head: Head,
  hidden: tf.Tensor,
  W_out: tf.Tensor,
  b_out: tf.Tensor,
  targets: tf.Tensor,
  mask: tf.Tensor | undefined,
  runs: RunAxes,
): { loss: tf.Tensor; dHidden: tf.Tensor; gW_out: tf.Tensor; gb_out: tf.Tensor } {
  return tf.tidy(() => {
    const rowsOf = headRows(head, hidden, W_out, b_out, targets, mask, runs);
    const { hidden2, z, y, w } = rowsOf;
    // Row weights repeated over the outputs: an equal-shape product (see broadcast.ts).
    const dz = tf.mul(rowLossSlope(head, z, y), repeatLast(w, z.shape[z.rank - 1]));
    return {
      loss: weightedLoss(head, rowsOf, runs),
      dHidden: tf.reshape(tf.matMul(dz, W_out as tf.Tensor2D, false, true), hidden.shape),
      gW_out: tf.matMul(hidden2, dz, true, false),
      gb_out: tf.sum(dz, runs.length),
    };
  });
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
  return tf.tidy(
    () => weightedLoss(head, headRows(head, hidden, W_out, b_out, targets, mask, []), []) as tf.Scalar,
  );
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
  return stackedHeadLossAndGradients(head, hidden, W_out, b_out, targets, mask, []) as {
    loss: tf.Scalar;
    dHidden: tf.Tensor;
    gW_out: tf.Tensor2D;
    gb_out: tf.Tensor1D;
  };
}
