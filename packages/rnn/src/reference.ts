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
import {
  headInput,
  headOutputs,
  isLastStepHead,
  type RunAxes,
  stackedHeadLossAndGradients,
} from './heads.js';
import type {
  Batch,
  GradientRequest,
  GradientResult,
  RnnConfig,
  RnnImplementation,
  RnnParams,
} from './implementation.js';
import { activationDerivative, type OmegaScale, omegaScale, stackedOmegaAndGradient } from './omega.js';
import { validateBatch, validateInputs, validateState } from './validate.js';

const activate = (x: tf.Tensor, activation: RnnConfig['activation']): tf.Tensor =>
  activation === 'tanh' ? tf.tanh(x) : tf.sigmoid(x);

/** h_1..h_T as T tensors [B, H] (inputs [B, T, I]). */
export function runRecurrence(
  params: RnnParams,
  config: RnnConfig,
  inputs: tf.Tensor3D,
  h0: tf.Tensor2D,
): tf.Tensor2D[] {
  return stackedRecurrence(params, config.activation, inputs, h0, []) as tf.Tensor2D[];
}

/**
 * {@link runRecurrence} on stacked operands (see {@link RunAxes}): inputs [...runs, B, T, I],
 * h0 [...runs, B, H], W_in [...runs, I, H], W_rec [...runs, H, H], b broadcastable to
 * [...runs, T·B, H]; returns T tensors [...runs, B, H]. Batched matMuls: one kernel per op for
 * all runs together.
 */
export function stackedRecurrence(
  params: Pick<RnnParams, 'W_in' | 'W_rec' | 'b'>,
  activation: RnnConfig['activation'],
  inputs: tf.Tensor,
  h0: tf.Tensor,
  runs: RunAxes,
): tf.Tensor[] {
  const k = runs.length;
  const [B, T, I] = inputs.shape.slice(k);
  const H = params.W_rec.shape[params.W_rec.rank - 1];
  // All input projections in one matMul on time-major inputs [T, ...runs, B, I], then one
  // [...runs, B, H] slice per step. With run axes, the matMul's batch axes [T, ...runs]
  // broadcast against W_in's [...runs].
  const timeMajor = tf.transpose(inputs, [k + 1, ...runs.map((_, i) => i), k, k + 2]);
  const projected =
    k === 0
      ? tf.reshape(
          tf.add(
            tf.matMul(tf.reshape(timeMajor, [T * B, I]) as tf.Tensor2D, params.W_in as tf.Tensor2D),
            params.b,
          ),
          [T, B, H],
        )
      : tf.add(tf.matMul(timeMajor as tf.Tensor2D, params.W_in as tf.Tensor2D), params.b);
  const steps = timeSlices(projected, 0);
  const hs: tf.Tensor[] = new Array(T);
  let h = h0;
  for (let t = 0; t < T; t++) {
    h = activate(tf.add(tf.matMul(h as tf.Tensor2D, params.W_rec as tf.Tensor2D), steps[t]), activation);
    hs[t] = h;
  }
  return hs;
}

/**
 * The slices of `x` along `axis` (that axis removed): tf.unstack, except where it is slow. On
 * wasm every Slice first copies its whole input out of the heap (readSync), so T slices cost T
 * full copies; on cpu a slice along an inner axis copies element by element. A gather reads
 * only what it returns. The values are the same either way.
 *
 * Differentiable by tfjs on every backend: unstack's gradient is a stack; the gather is wrapped
 * in {@link sliceAt}, whose gradient is a zero padding, because tfjs's own gradient of a gather
 * needs an UnsortedSegmentSum kernel, which the wasm backend does not have.
 */
export function timeSlices(x: tf.Tensor, axis: number): tf.Tensor[] {
  if (axis === 0 && tf.getBackend() !== 'wasm') return tf.unstack(x, 0);
  return Array.from({ length: x.shape[axis] }, (_, t) => sliceAt(x, t, axis));
}

/**
 * x's slice t along `axis`, that axis removed: a gather forward (bit for bit what tf.gather
 * returns); backward, dy zero-padded back to x's shape (a PadV2 kernel, registered on cpu, wasm
 * and webgpu) instead of tf.gather's UnsortedSegmentSum. The T slices of one tensor thus cost T
 * paddings of its size in a backward pass; the forward pass is unchanged.
 */
function sliceAt(x: tf.Tensor, t: number, axis: number): tf.Tensor {
  const shape = x.shape.filter((_, i) => i !== axis);
  const kept = x.shape.map((d, i) => (i === axis ? 1 : d));
  const paddings = x.shape.map((d, i): [number, number] => (i === axis ? [t, d - t - 1] : [0, 0]));
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.reshape(tf.gather(inputs[0] as tf.Tensor, [t], axis), shape),
    gradFunc: (dy: tf.Tensor) => tf.pad(tf.reshape(dy, kept), paddings),
  }))(x);
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
  head: RnnConfig['head'],
  params: Pick<RnnParams, 'W_out' | 'b_out'>,
  batch: { targets: tf.Tensor; mask?: tf.Tensor },
  hs: tf.Tensor[],
  states: tf.Tensor,
  runs: RunAxes,
): { loss: tf.Tensor; gW_out: tf.Tensor; gb_out: tf.Tensor; direct: (tf.Tensor | null)[] } {
  const T = hs.length;
  const last = isLastStepHead(head);
  const { loss, dHidden, gW_out, gb_out } = stackedHeadLossAndGradients(
    head,
    last ? hs[T - 1] : states,
    params.W_out,
    params.b_out,
    batch.targets,
    batch.mask,
    runs,
  );
  if (!last) return { loss, gW_out, gb_out, direct: timeSlices(dHidden, runs.length + 1) };
  const direct: (tf.Tensor | null)[] = new Array(T).fill(null);
  direct[T - 1] = dHidden;
  return { loss, gW_out, gb_out, direct };
}

/** What {@link stackedLossAndGradients} returns: the task loss and gradients, and Ω's parts when asked. */
export interface StackedGradients {
  /** task loss: a scalar, or [...runs] */
  loss: tf.Tensor;
  /** task gradients (Ω not included), each [...runs, ...parameter shape] */
  grads: RnnParams;
  /** Ω's value ([...runs]) and ∂Ω/∂W_rec ([...runs, H, H]) with δ and h held constant, when asked */
  omega?: { value: tf.Tensor; grad: tf.Tensor };
  /** δ_t [...runs, B, T, H] when Ω or `keepDeltas` asked for them */
  deltas?: tf.Tensor;
  /** h_1..h_T [...runs, B, T, H] */
  states: tf.Tensor;
  /** h_T [...runs, B, H] */
  lastState: tf.Tensor;
}

/**
 * Forward, head and explicit BPTT on stacked operands (see {@link RunAxes}); the body of the
 * reference's lossAndGradients and of the batched ensemble step. `omegaScale` (when given)
 * turns Ω on and says how Ω's terms are averaged (see {@link omegaScale}). Call inside a tidy.
 *
 * BPTT: δ_{t−1} = direct_{t−1} + (δ_t ⊙ σ'(h_t)) W_recᵀ.
 */
export function stackedLossAndGradients(
  params: RnnParams,
  head: RnnConfig['head'],
  activation: RnnConfig['activation'],
  batch: { inputs: tf.Tensor; targets: tf.Tensor; mask?: tf.Tensor },
  h0: tf.Tensor,
  runs: RunAxes,
  request: { omegaScale?: OmegaScale; keepDeltas?: boolean } = {},
): StackedGradients {
  const k = runs.length;
  const inputs = batch.inputs;
  const [B, T, I] = inputs.shape.slice(k);
  const H = params.W_rec.shape[params.W_rec.rank - 1];
  const hs = stackedRecurrence(params, activation, inputs, h0, runs);
  const states = tf.stack(hs, k + 1);
  const { loss, gW_out, gb_out, direct } = headGradients(head, params, batch, hs, states, runs);

  const as: tf.Tensor[] = new Array(T);
  const deltas: tf.Tensor[] = new Array(T);
  let delta = direct[T - 1] as tf.Tensor;
  for (let t = T - 1; t >= 0; t--) {
    deltas[t] = delta;
    // σ'(h_t) step by step: cheaper than slicing one [..., T, ...] tensor (see timeSlices).
    as[t] = tf.mul(delta, activationDerivative(hs[t], activation));
    if (t > 0) {
      const back = tf.matMul(as[t] as tf.Tensor2D, params.W_rec as tf.Tensor2D, false, true);
      const d = direct[t - 1];
      delta = d === null ? back : tf.add(d, back);
    }
  }
  // ∂W_rec = Σ_t h_{t−1}ᵀ a_t, ∂W_in = Σ_t u_tᵀ a_t, ∂b = Σ_t a_t: one matMul each over all (b, t).
  const a = tf.reshape(tf.stack(as, k + 1), [...runs, B * T, H]);
  const previous = tf.reshape(tf.stack([h0, ...hs.slice(0, T - 1)], k + 1), [...runs, B * T, H]);
  const gW_rec = tf.matMul(previous as tf.Tensor2D, a as tf.Tensor2D, true, false);
  const flatInputs: tf.Tensor = tf.reshape(inputs, [...runs, B * T, I]);
  const gW_in = tf.matMul(flatInputs as tf.Tensor2D, a as tf.Tensor2D, true, false);
  const gb = tf.sum(a, k);

  const result: StackedGradients = {
    loss,
    grads: { W_in: gW_in, W_rec: gW_rec, b: gb, W_out: gW_out, b_out: gb_out },
    states,
    lastState: hs[T - 1],
  };
  if (request.omegaScale || request.keepDeltas) result.deltas = tf.stack(deltas, k + 1);
  if (request.omegaScale) {
    result.omega = stackedOmegaAndGradient(
      params.W_rec,
      result.deltas!,
      states,
      activation,
      runs,
      request.omegaScale,
    );
  }
  return result;
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
    const h0 = initialState(batch.inputs, config, request.h0);
    const { omega: spec } = request;
    const r = stackedLossAndGradients(params, config.head, config.activation, batch, h0, [], {
      omegaScale: spec ? omegaScale(spec.variant, batch.inputs.shape[0]) : undefined,
      keepDeltas: request.keepDeltas,
    });
    const result: GradientResult = {
      loss: r.loss as tf.Scalar,
      grads: r.grads,
      lastState: r.lastState as tf.Tensor2D,
    };
    if (spec && r.omega) {
      // Added before any clipping, as the authors' code does.
      result.grads.W_rec = tf.add(r.grads.W_rec, tf.mul(r.omega.grad, spec.weight));
      result.omega = r.omega.value as tf.Scalar;
    }
    if (request.keepDeltas) result.deltas = r.deltas as tf.Tensor3D;
    if (request.keepStates) result.states = r.states as tf.Tensor3D;
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
