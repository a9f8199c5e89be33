/**
 * The fused sequence's tfjs kernels by name, and the names of their inputs, outputs and tables:
 *   CliffguardRnnForward: inference, outputs [head outputs, states]
 *   CliffguardRnnLoss:    training, outputs [loss, Ω, h_T, ∂W_in, ∂W_rec, ∂b, ∂W_out, ∂b_out,
 *                         ∂Ω/∂W_rec, ∂h_0, states, δ] (states and δ empty unless kept)
 *   CliffguardRnnEnsembleLoss (webgpu only) and CliffguardRnnEnsembleStep: R stacked runs.
 * One file per kernel beside this one (forward.ts, loss.ts, ensembleLoss.ts, ensembleStep.ts).
 */
import { RECORD_ROWS } from '@cliffguard/rnn';

export const RNN_FORWARD = 'CliffguardRnnForward';
export const RNN_LOSS = 'CliffguardRnnLoss';
export const RNN_ENSEMBLE_STEP = 'CliffguardRnnEnsembleStep';
/**
 * webgpu only: the loss pass of R stacked runs in one set of dispatches (the update then runs as
 * tfjs ops on the device). Inputs as CliffguardRnnEnsembleStep's, with `runs` the same table
 * (ENSEMBLE_RUN_COLUMNS; only α and the Ω variant are read); outputs loss [R], Ω [R] (NaN without
 * Ω) and the five stacked gradients. See ensembleLoss.ts.
 */
export const RNN_ENSEMBLE_LOSS = 'CliffguardRnnEnsembleLoss';

/**
 * webgpu only: one update of R stacked runs whose parameters live in ONE packed state buffer
 * [R·P + 6·R] (per run W_in | W_rec | b | W_out | b_out, row-major; then the last record [6, R]).
 * Inputs: state, inputs [R, B, T, I], targets, mask (empty: none), runs (ENSEMBLE_RUN_COLUMNS),
 * and optionally shapes: float32 [R, 2], row r = (T_r, activation code: 0 tanh, 1 sigmoid) with
 * 1 ≤ T_r ≤ T, for runs of different lengths and activations in one step (absent or empty: every
 * run T steps and attrs.activation). Run r reads only the first T_r steps of its inputs, per-step
 * targets and mask (the rest is padding) and trains as it would alone on that slice: a last-step
 * head reads S_{T_r}, a per-step head has T_r rows a sequence (mean over B·T_r, or the mask's sum
 * over those steps), Ω's terms and its 'code' normalisation count only those steps.
 * attrs: activation, head, hiddenSize, outputSize. Outputs: the next state and the record
 * [6, R] (ENSEMBLE_STATS). Three dispatches whatever R: the persistent sequence program, the
 * packed update, the record's copy. See webgpu/packed.ts.
 */
export const RNN_ENSEMBLE_PACKED_STEP = 'CliffguardRnnEnsemblePackedStep';

/** Names of CliffguardRnnLoss's outputs, in order. */
export const LOSS_OUTPUTS = [
  'loss',
  'omega',
  'lastState',
  'W_in',
  'W_rec',
  'b',
  'W_out',
  'b_out',
  'omegaGrad',
  'h0',
  'states',
  'deltas',
] as const;

/**
 * The kernels' inputs by name (targets for CliffguardRnnLoss only). mask and h0 are always
 * present (so the gradient can save them); an empty tensor (size 0) means "none".
 */
export const LOSS_INPUTS = [
  'W_in',
  'W_rec',
  'b',
  'W_out',
  'b_out',
  'inputs',
  'targets',
  'mask',
  'h0',
] as const;

/**
 * Columns of CliffguardRnnEnsembleStep's `runs` input [R, 5], one row per run: α (Ω's weight),
 * the clip threshold (+Inf: no clip, plain SGD), the SGD learning rate, the safeguard (1 on) and
 * Ω (0 none, 1 'paper', 2 'code').
 */
export const ENSEMBLE_RUN_COLUMNS = ['alpha', 'maxNorm', 'learningRate', 'safeguard', 'omega'] as const;

/**
 * Rows of CliffguardRnnEnsembleStep's statistics [6, R]: @cliffguard/rnn's RECORD_ROWS, so the
 * kernel's record is the ensemble's record as it is.
 */
export const ENSEMBLE_STATS = RECORD_ROWS;
