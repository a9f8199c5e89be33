/**
 * The swap point between "what the model computes" and "how it is computed".
 *
 * A model (createRnn) owns its variables and its configuration; an implementation turns
 * (parameters, batch) into the loss, the gradients and the BPTT error signals. The op-by-op
 * implementation (`reference`) is built from ordinary tfjs ops and is the ground truth; fused
 * implementations (package @cliffguard/fused) must match it to float32 tolerance.
 *
 * Conventions (row vectors, as tfjs matMul is used):
 *   h_t = σ(h_{t-1} · W_rec + u_t · W_in + b),  h_0 given (zeros by default)
 *   W_in [I, H], W_rec [H, H], b [H], W_out [H, O], b_out [O]
 * This is the transpose of the paper's column-vector notation x_t = W_rec σ(x_{t-1}) + W_in u_t + b.
 */
import type { Scalar, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';

export type Activation = 'tanh' | 'sigmoid';

/**
 * Output heads (paper section 1) and their losses, identical in every implementation:
 * - 'last-softmax': softmax(h_T W_out + b_out); cross-entropy, mean over the batch.
 *     targets int32 [B] (class indices).
 * - 'softmax': softmax at every step; cross-entropy, mean over (batch, time) (masked mean when a
 *     mask is given). targets int32 [B, T].
 * - 'last-linear': h_T W_out + b_out; squared error summed over outputs, mean over the batch.
 *     targets float32 [B, O].
 * - 'sigmoid': O independent Bernoulli units per step; binary cross-entropy summed over the units,
 *     mean over (batch, time) (masked mean when a mask is given). targets float32 {0,1} [B, T, O].
 */
export type Head = 'last-softmax' | 'softmax' | 'last-linear' | 'sigmoid';

export type ParamName = 'W_in' | 'W_rec' | 'b' | 'W_out' | 'b_out';

/** The five parameters of the paper's RNN, by name (tensors or tf.Variables). */
export type RnnParams = Record<ParamName, Tensor>;

/** The static shape and kind of a model: enough for an implementation to pick its kernel. */
export interface RnnConfig {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  activation: Activation;
  head: Head;
}

/**
 * Ω (paper eq. 9-10). `weight` is α for this step (any schedule is applied by the caller).
 * - 'paper': Ω = Σ_t (‖δ_t ∂h_t/∂h_{t-1}‖² / ‖δ_t‖² − 1)², summed over time, mean over the batch.
 * - 'code': the authors' Theano code: mean over (t, b) of the same squared ratio term, rows with
 *   ‖δ_t‖² < 1e-20 excluded.
 * δ_t and h_t are held constant, so ∂Ω/∂W_rec is a first-order gradient.
 */
export interface OmegaSpec {
  variant: 'paper' | 'code';
  weight: number;
}

export interface Batch {
  /** float32 [B, T, I] */
  inputs: Tensor3D;
  /** see {@link Head} for the shape and dtype per head */
  targets: Tensor;
  /** float32 [B, T], 1 where a step counts (padded sequences); heads 'softmax' and 'sigmoid' only */
  mask?: Tensor2D;
}

export interface GradientRequest {
  /** [B, H] initial state (truncated BPTT carries the last state over); zeros when absent */
  h0?: Tensor2D;
  /** when present, α·∂Ω/∂W_rec is added to grads.W_rec and Ω's value is returned */
  omega?: OmegaSpec;
  /** return δ_t = ∂loss/∂h_t (total derivative, through later steps) as `deltas` */
  keepDeltas?: boolean;
  /** return the hidden states h_1..h_T as `states` */
  keepStates?: boolean;
}

export interface GradientResult {
  /** the task loss (Ω not included) */
  loss: Scalar;
  /** ∂loss/∂θ for every parameter, plus α·∂Ω/∂W_rec in W_rec when Ω was requested */
  grads: RnnParams;
  /** Ω's value (unweighted), when requested */
  omega?: Scalar;
  /** [B, T, H] δ_t, when requested */
  deltas?: Tensor3D;
  /** [B, T, H] h_1..h_T, when requested */
  states?: Tensor3D;
  /** [B, H] h_T, to carry into the next segment */
  lastState: Tensor2D;
}

/**
 * One way of computing the RNN. Every tensor returned is new and owned by the caller; the
 * implementation leaks nothing and never disposes its inputs.
 */
export interface RnnImplementation {
  readonly name: string;
  /** Whether this implementation can run `config` on tfjs backend `backend` ('cpu', 'wasm', ...). */
  supports(config: RnnConfig, backend: string): boolean;
  /** Inference: head outputs (probabilities for softmax/sigmoid heads, values for linear) and states. */
  forward(
    params: RnnParams,
    config: RnnConfig,
    inputs: Tensor3D,
    h0?: Tensor2D,
  ): { outputs: Tensor; states: Tensor3D };
  /** Training: loss, gradients, and on request Ω, δ_t and the states. */
  lossAndGradients(
    params: RnnParams,
    config: RnnConfig,
    batch: Batch,
    request?: GradientRequest,
  ): GradientResult;
}
