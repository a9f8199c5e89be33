/**
 * The array-level description of one fused pass: shapes, weights and batch as plain typed arrays,
 * independent of tfjs. The tfjs kernels read their tensors into a SequenceProblem, hand it to a
 * SequenceEngine (WebAssembly SIMD or JavaScript) and wrap the arrays that come back.
 *
 * Conventions (row vectors, as @cliffguard/rnn): h_t = σ(h_{t-1} W_rec + u_t W_in + b), h_0 = h0
 * or zeros; W_in [I, H], W_rec [H, H], b [H], W_out [H, O], b_out [O]; every array is row-major
 * and batch-major ([B][T][...]) exactly as the tensors are.
 */

import { type Activation, HEADS, type Head, type OmegaVariant } from '@cliffguard/rnn';

// The model's vocabulary has one home, @cliffguard/rnn; the engines speak it.
export type { Activation, Head, OmegaVariant } from '@cliffguard/rnn';
export { HEADS, OMEGA_BOUND } from '@cliffguard/rnn';

export const ACTIVATIONS: readonly Activation[] = ['tanh', 'sigmoid'];

export interface SequenceShape {
  batch: number;
  time: number;
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  activation: Activation;
  head: Head;
}

export interface SequenceWeights {
  W_in: Float32Array;
  W_rec: Float32Array;
  b: Float32Array;
  W_out: Float32Array;
  b_out: Float32Array;
}

export interface SequenceProblem extends SequenceShape {
  weights: SequenceWeights;
  /** [B][T][I] */
  inputs: Float32Array;
  /** [B][H]; zeros when absent */
  h0?: Float32Array;
}

export interface TrainingProblem extends SequenceProblem {
  /** class indices (Int32Array) for softmax heads, values (Float32Array) for the others; see Head */
  targets: Int32Array | Float32Array;
  /** [B][T], per-step heads only: loss = Σ mask·loss / max(Σ mask, 1) */
  mask?: Float32Array;
  /** compute Ω and ∂Ω/∂W_rec */
  omega?: OmegaVariant;
  /**
   * α: with `omega`, return grads.W_rec = ∂loss/∂W_rec + α·∂Ω/∂W_rec computed in one product
   * (omegaGrad then stays empty). Without it ∂Ω/∂W_rec comes back on its own.
   */
  omegaWeight?: number;
  /** return h_1..h_T and δ_1..δ_T ([B][T][H]) */
  keepSequences?: boolean;
}

export interface SequenceOutputs {
  /** head outputs: [B][O] (last-step heads) or [B][T][O]: probabilities, or values for last-linear */
  outputs: Float32Array;
  /** h_1..h_T, [B][T][H] */
  states: Float32Array;
}

export interface SequenceGradients {
  /** the task loss (Ω not included) */
  loss: number;
  /** Ω's value, unweighted (0 without omega) */
  omega: number;
  /** number of (t, b) rows that entered Ω */
  omegaRows: number;
  /** ∂loss/∂θ (W_rec plus α·∂Ω/∂W_rec when omegaWeight was given) */
  grads: SequenceWeights;
  /** ∂Ω/∂W_rec with δ_t and h_t held constant, [H][H] (empty without omega or with omegaWeight) */
  omegaGrad: Float32Array;
  /** ∂loss/∂h_0, [B][H] */
  h0Grad: Float32Array;
  /** h_T, [B][H] */
  lastState: Float32Array;
  /** h_1..h_T and δ_1..δ_T, [B][T][H], when keepSequences */
  states?: Float32Array;
  deltas?: Float32Array;
}

export interface EngineCallOptions {
  /**
   * Results may be views of the engine's own memory, valid only until its next call (no copy):
   * for a caller that copies them at once, such as the wasm backend writing its output tensors.
   */
  views?: boolean;
}

/** One way of running the fused pass over typed arrays. */
export interface SequenceEngine {
  readonly name: string;
  forward(problem: SequenceProblem, options?: EngineCallOptions): SequenceOutputs;
  train(problem: TrainingProblem, options?: EngineCallOptions): SequenceGradients;
  /** Independent passes (an ensemble of runs); `each` gets every result in turn. */
  trainMany(
    problems: TrainingProblem[],
    each: (result: SequenceGradients, index: number) => void,
    options?: EngineCallOptions,
  ): void;
}

export function isLastStepHead(head: Head): boolean {
  return head === 'last-softmax' || head === 'last-linear';
}

export function isClassHead(head: Head): boolean {
  return head === 'last-softmax' || head === 'softmax';
}

/** Number of target entries a head expects. */
export function targetLength(s: SequenceShape): number {
  switch (s.head) {
    case 'last-softmax':
      return s.batch;
    case 'softmax':
      return s.batch * s.time;
    case 'last-linear':
      return s.batch * s.outputSize;
    case 'sigmoid':
      return s.batch * s.time * s.outputSize;
  }
}

function checkLength(what: string, a: ArrayLike<number> | undefined, n: number, shape: string): void {
  if (!a || a.length !== n) {
    throw new RangeError(`${what} has ${a ? a.length : 'no'} entries; expected ${n} (${shape})`);
  }
}

/** Checks sizes, names and array lengths; throws naming the bad value and what was expected. */
export function validateProblem(p: SequenceProblem | TrainingProblem, training: boolean): void {
  for (const k of ['batch', 'time', 'inputSize', 'hiddenSize', 'outputSize'] as const) {
    if (!Number.isInteger(p[k]) || p[k] < 1) throw new RangeError(`${k} must be an integer ≥ 1, got ${p[k]}`);
  }
  if (!ACTIVATIONS.includes(p.activation)) {
    throw new RangeError(
      `activation must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(p.activation)}`,
    );
  }
  if (!HEADS.includes(p.head)) {
    throw new RangeError(`head must be one of ${HEADS.join(', ')}, got ${JSON.stringify(p.head)}`);
  }
  const { batch: B, time: T, inputSize: I, hiddenSize: H, outputSize: O } = p;
  const w = p.weights;
  checkLength('W_in', w.W_in, I * H, `[${I}, ${H}]`);
  checkLength('W_rec', w.W_rec, H * H, `[${H}, ${H}]`);
  checkLength('b', w.b, H, `[${H}]`);
  checkLength('W_out', w.W_out, H * O, `[${H}, ${O}]`);
  checkLength('b_out', w.b_out, O, `[${O}]`);
  checkLength('inputs', p.inputs, B * T * I, `[${B}, ${T}, ${I}]`);
  if (p.h0) checkLength('h0', p.h0, B * H, `[${B}, ${H}]`);
  if (!training) return;
  const q = p as TrainingProblem;
  checkLength('targets', q.targets, targetLength(q), `head '${q.head}'`);
  if (isClassHead(q.head)) {
    if (!(q.targets instanceof Int32Array))
      throw new TypeError(`head '${q.head}' needs Int32Array class targets`);
    for (let i = 0; i < q.targets.length; i++) {
      const y = q.targets[i];
      if (y < 0 || y >= O) throw new RangeError(`targets[${i}] = ${y} is not a class index in [0, ${O})`);
    }
  } else if (!(q.targets instanceof Float32Array)) {
    throw new TypeError(`head '${q.head}' needs Float32Array targets`);
  }
  if (q.mask) {
    if (isLastStepHead(q.head))
      throw new RangeError(`a mask applies to the per-step heads only, not '${q.head}'`);
    checkLength('mask', q.mask, B * T, `[${B}, ${T}]`);
  }
  if (q.omega !== undefined && q.omega !== 'paper' && q.omega !== 'code') {
    throw new RangeError(`omega must be 'paper' or 'code', got ${JSON.stringify(q.omega)}`);
  }
  if (q.omegaWeight !== undefined && !Number.isFinite(q.omegaWeight)) {
    throw new RangeError(`omegaWeight (α) must be a finite number, got ${String(q.omegaWeight)}`);
  }
}
