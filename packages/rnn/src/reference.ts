/**
 * The op-by-op implementation: ordinary tfjs ops, explicit BPTT. The ground truth that fused
 * implementations are tested against.
 *
 * Backward pass (row convention, h_t = σ(h_{t−1} W_rec + u_t W_in + b)):
 *   direct_t = ∂loss/∂h_t through the head only (see headLossAndGradients),
 *   δ_T = direct_T,  a_t = δ_t ⊙ σ'(h_t),  δ_{t−1} = direct_{t−1} + a_t W_recᵀ,
 *   ∂W_rec = Σ_t h_{t−1}ᵀ a_t,  ∂W_in = Σ_t u_tᵀ a_t,  ∂b = Σ_t a_t.
 * Every gradient is written out by hand (head, BPTT, Ω): no tape is recorded, so nothing here can
 * be a second-order gradient, and no registered tfjs gradients are needed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { headInput, headLossAndGradients, headOutputs, isLastStepHead } from './heads.js';
import type {
  Batch,
  GradientRequest,
  GradientResult,
  RnnConfig,
  RnnImplementation,
  RnnParams,
} from './implementation.js';
import { activationDerivative, omegaAndGradient } from './omega.js';
import { validateBatch, validateInputs, validateState } from './validate.js';

const activate = (x: tf.Tensor, activation: RnnConfig['activation']): tf.Tensor2D =>
  (activation === 'tanh' ? tf.tanh(x) : tf.sigmoid(x)) as tf.Tensor2D;

/** h_1..h_T as T tensors [B, H] (inputs [B, T, I]). */
export function runRecurrence(
  params: RnnParams,
  config: RnnConfig,
  inputs: tf.Tensor3D,
  h0: tf.Tensor2D,
): tf.Tensor2D[] {
  const [B, T, I] = inputs.shape;
  const H = config.hiddenSize;
  // All input projections in one matMul, then one [B, H] slice per step (time-major).
  const timeMajor = tf.reshape(tf.transpose(inputs, [1, 0, 2]), [T * B, I]);
  const projected = tf.reshape(tf.add(tf.matMul(timeMajor, params.W_in as tf.Tensor2D), params.b), [T, B, H]);
  const steps = tf.unstack(projected, 0) as tf.Tensor2D[];
  const hs: tf.Tensor2D[] = new Array(T);
  let h = h0;
  for (let t = 0; t < T; t++) {
    h = activate(tf.add(tf.matMul(h, params.W_rec as tf.Tensor2D), steps[t]), config.activation);
    hs[t] = h;
  }
  return hs;
}

function initialState(inputs: tf.Tensor3D, config: RnnConfig, h0?: tf.Tensor2D): tf.Tensor2D {
  const B = inputs.shape[0];
  if (h0 === undefined) return tf.zeros([B, config.hiddenSize]);
  validateState(h0, B, config.hiddenSize, 'h0');
  return h0;
}

function forward(
  params: RnnParams,
  config: RnnConfig,
  inputs: tf.Tensor3D,
  h0?: tf.Tensor2D,
): { outputs: tf.Tensor; states: tf.Tensor3D } {
  validateInputs(inputs, config.inputSize);
  return tf.tidy(() => {
    const states = tf.stack(
      runRecurrence(params, config, inputs, initialState(inputs, config, h0)),
      1,
    ) as tf.Tensor3D;
    const outputs = headOutputs(config.head, headInput(config.head, states), params.W_out, params.b_out);
    return { outputs, states };
  });
}

/** Loss, ∂loss/∂W_out, ∂loss/∂b_out and direct_t = ∂loss/∂h_t through the head (null where zero). */
function headGradients(
  config: RnnConfig,
  params: RnnParams,
  batch: Batch,
  hs: tf.Tensor2D[],
  states: tf.Tensor3D,
): { loss: tf.Scalar; gW_out: tf.Tensor; gb_out: tf.Tensor; direct: (tf.Tensor2D | null)[] } {
  const T = hs.length;
  const last = isLastStepHead(config.head);
  const { loss, dHidden, gW_out, gb_out } = headLossAndGradients(
    config.head,
    last ? hs[T - 1] : states,
    params.W_out,
    params.b_out,
    batch.targets,
    batch.mask,
  );
  if (!last) return { loss, gW_out, gb_out, direct: tf.unstack(dHidden, 1) as tf.Tensor2D[] };
  const direct: (tf.Tensor2D | null)[] = new Array(T).fill(null);
  direct[T - 1] = dHidden as tf.Tensor2D;
  return { loss, gW_out, gb_out, direct };
}

function lossAndGradients(
  params: RnnParams,
  config: RnnConfig,
  batch: Batch,
  request: GradientRequest = {},
): GradientResult {
  validateBatch(batch, config);
  validateOmegaSpec(request.omega);
  return tf.tidy(() => {
    const inputs = batch.inputs;
    const [B, T, I] = inputs.shape;
    const H = config.hiddenSize;
    const h0 = initialState(inputs, config, request.h0);
    const hs = runRecurrence(params, config, inputs, h0);
    const states = tf.stack(hs, 1) as tf.Tensor3D;
    const { loss, gW_out, gb_out, direct } = headGradients(config, params, batch, hs, states);

    // BPTT: δ_{t−1} = direct_{t−1} + (δ_t ⊙ σ'(h_t)) W_recᵀ.
    const slopes = tf.unstack(activationDerivative(states, config.activation), 1);
    const as: tf.Tensor[] = new Array(T);
    const deltas: tf.Tensor[] = new Array(T);
    let delta = direct[T - 1] as tf.Tensor;
    for (let t = T - 1; t >= 0; t--) {
      deltas[t] = delta;
      as[t] = tf.mul(delta, slopes[t]);
      if (t > 0) {
        const back = tf.matMul(as[t] as tf.Tensor2D, params.W_rec as tf.Tensor2D, false, true);
        const d = direct[t - 1];
        delta = d === null ? back : tf.add(d, back);
      }
    }
    const a = tf.reshape(tf.stack(as, 1), [B * T, H]);
    const previous = tf.reshape(tf.stack([h0, ...hs.slice(0, T - 1)], 1), [B * T, H]);
    let gW_rec: tf.Tensor = tf.matMul(previous, a, true, false);
    const gW_in = tf.matMul(tf.reshape(inputs, [B * T, I]), a, true, false);
    const gb = tf.sum(a, 0);

    const deltas3 = request.omega || request.keepDeltas ? (tf.stack(deltas, 1) as tf.Tensor3D) : undefined;
    const result: GradientResult = {
      loss,
      grads: { W_in: gW_in, W_rec: gW_rec, b: gb, W_out: gW_out, b_out: gb_out },
      lastState: hs[T - 1],
    };
    if (request.omega) {
      const { value, grad } = omegaAndGradient(params.W_rec, deltas3!, states, {
        activation: config.activation,
        variant: request.omega.variant,
      });
      // Added before any clipping, as the authors' code does.
      gW_rec = tf.add(gW_rec, tf.mul(grad, request.omega.weight));
      result.grads.W_rec = gW_rec;
      result.omega = value;
    }
    if (request.keepDeltas) result.deltas = deltas3;
    if (request.keepStates) result.states = states;
    return result as unknown as tf.TensorContainer;
  }) as unknown as GradientResult;
}

function validateOmegaSpec(spec: GradientRequest['omega']): void {
  if (spec === undefined) return;
  if (spec.variant !== 'paper' && spec.variant !== 'code') {
    throw new RangeError(`omega.variant must be 'paper' or 'code', got ${JSON.stringify(spec.variant)}`);
  }
  if (typeof spec.weight !== 'number' || !Number.isFinite(spec.weight)) {
    throw new RangeError(`omega.weight (α) must be a finite number, got ${String(spec.weight)}`);
  }
}

/** The op-by-op reference implementation: supports every config on every backend. */
export const referenceImplementation: RnnImplementation = {
  name: 'reference',
  supports: () => true,
  forward,
  lossAndGradients,
};
