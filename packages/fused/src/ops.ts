/**
 * The fused sequence as tfjs ops: rnnSequenceLoss (differentiable in the five parameters and
 * h0, so tf.grad and optimizer.minimize work through it) and rnnSequenceForward (inference).
 * Each is one kernel call; shapes are checked here, with errors that name the bad tensor.
 */
import {
  dispose,
  engine,
  type NamedAttrMap,
  type Scalar,
  type Tensor,
  type Tensor2D,
  type Tensor3D,
  tensor1d,
} from '@tensorflow/tfjs-core';
import type { ForwardAttrs } from './kernels/forward.js';
import type { LossAttrs } from './kernels/loss.js';
import { LOSS_OUTPUTS, RNN_FORWARD, RNN_LOSS } from './kernels/names.js';
import {
  ACTIVATIONS,
  type Activation,
  HEADS,
  type Head,
  isClassHead,
  isLastStepHead,
  type OmegaVariant,
} from './problem.js';

export interface FusedParams {
  W_in: Tensor;
  W_rec: Tensor;
  b: Tensor;
  W_out: Tensor;
  b_out: Tensor;
}

export interface SequenceOptions {
  activation: Activation;
  head: Head;
  /** [B, H] initial state; zeros when absent */
  h0?: Tensor2D;
}

export interface SequenceLossOptions extends SequenceOptions {
  /** float32 [B, T]: per-step heads only; loss = Σ mask·loss / max(Σ mask, 1) */
  mask?: Tensor2D;
  /** also compute Ω (its gradient flows to W_rec through the `omega` output) */
  omega?: OmegaVariant;
  /** return h_1..h_T and δ_1..δ_T */
  keepSequences?: boolean;
}

export interface SequenceLoss {
  /** the task loss; its gradient is ∂loss/∂θ */
  loss: Scalar;
  /** Ω's value (0 without `omega`); its gradient is ∂Ω/∂W_rec with δ_t, h_t held constant */
  omega: Scalar;
  /** h_T [B, H] (no gradient) */
  lastState: Tensor2D;
  /** h_1..h_T and δ_1..δ_T [B, T, H] with keepSequences (no gradient) */
  states?: Tensor3D;
  deltas?: Tensor3D;
}

const shape = (s: readonly number[]) => `[${s.join(', ')}]`;

function expectShape(t: Tensor | undefined, want: number[], what: string, dtype = 'float32'): void {
  if (!t) throw new TypeError(`${what} is missing; expected a ${dtype} tensor of shape ${shape(want)}`);
  if (t.isDisposed) throw new Error(`${what} has been disposed`);
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
    throw new RangeError(`${what} has shape ${shape(t.shape)}; expected ${shape(want)}`);
  }
  if (dtype !== 'any' && t.dtype !== dtype) throw new TypeError(`${what} must be ${dtype}, got ${t.dtype}`);
}

/** Sizes from the parameters and inputs; throws naming the tensor whose shape is off. */
export function checkSequence(params: FusedParams, inputs: Tensor, options: SequenceOptions): number[] {
  if (!ACTIVATIONS.includes(options.activation)) {
    throw new RangeError(
      `activation must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(options.activation)}`,
    );
  }
  if (!HEADS.includes(options.head)) {
    throw new RangeError(`head must be one of ${HEADS.join(', ')}, got ${JSON.stringify(options.head)}`);
  }
  if (inputs?.rank !== 3 || (inputs.shape[0] as number) < 1 || (inputs.shape[1] as number) < 1) {
    throw new RangeError(
      `inputs must be [batch, time, inputSize] with batch, time ≥ 1, got ${inputs ? shape(inputs.shape) : inputs}`,
    );
  }
  const [B, T, I] = inputs.shape as [number, number, number];
  expectShape(inputs, [B, T, I], 'inputs');
  if (params.W_rec?.rank !== 2) throw new RangeError('W_rec must be a square [hidden, hidden] tensor');
  const H = params.W_rec.shape[0] as number;
  if (params.W_out?.rank !== 2) throw new RangeError(`W_out must be [${H}, outputSize]`);
  const O = params.W_out.shape[1] as number;
  expectShape(params.W_in, [I, H], 'W_in');
  expectShape(params.W_rec, [H, H], 'W_rec');
  expectShape(params.b, [H], 'b');
  expectShape(params.W_out, [H, O], 'W_out');
  expectShape(params.b_out, [O], 'b_out');
  if (options.h0 !== undefined) expectShape(options.h0, [B, H], 'h0');
  return [B, T, I, H, O];
}

/** The kernels' inputs; an absent mask or h0 is an empty tensor (disposed by `done`). */
function kernelInputs(params: FusedParams, inputs: Tensor, extra: Record<string, Tensor | undefined>) {
  const named: Record<string, Tensor> = {
    W_in: params.W_in,
    W_rec: params.W_rec,
    b: params.b,
    W_out: params.W_out,
    b_out: params.b_out,
    inputs,
  };
  const empties: Tensor[] = [];
  for (const [k, v] of Object.entries(extra)) {
    if (v !== undefined) named[k] = v;
    else {
      named[k] = tensor1d([]);
      empties.push(named[k]);
    }
  }
  return { named, done: () => dispose(empties) };
}

/** Head outputs ([B, O] or [B, T, O]) and states h_1..h_T ([B, T, H]) in one kernel call. */
export function rnnSequenceForward(
  params: FusedParams,
  inputs: Tensor3D,
  options: SequenceOptions,
): { outputs: Tensor; states: Tensor3D } {
  checkSequence(params, inputs, options);
  const attrs: ForwardAttrs = { activation: options.activation, head: options.head };
  const { named, done } = kernelInputs(params, inputs, { h0: options.h0 });
  let outs: Tensor[];
  try {
    outs = engine().runKernel(RNN_FORWARD, named, attrs as unknown as NamedAttrMap) as Tensor[];
  } finally {
    done();
  }
  const [outputs, states] = outs;
  return { outputs, states: states as Tensor3D };
}

/** Checks targets and mask for a head; returns the target dtype to pass on. */
function checkTargets(
  head: Head,
  targets: Tensor,
  mask: Tensor | undefined,
  B: number,
  T: number,
  O: number,
): void {
  const want = { 'last-softmax': [B], softmax: [B, T], 'last-linear': [B, O], sigmoid: [B, T, O] }[head];
  expectShape(targets, want, `targets of head '${head}'`, 'any');
  if (
    isClassHead(head) ? targets.dtype !== 'int32' && targets.dtype !== 'float32' : targets.dtype !== 'float32'
  ) {
    throw new TypeError(
      `targets of head '${head}' must be ${isClassHead(head) ? 'int32 class indices' : 'float32'}, got ${targets.dtype}`,
    );
  }
  if (mask !== undefined) {
    if (isLastStepHead(head))
      throw new RangeError(
        `a mask applies to the per-step heads 'softmax' and 'sigmoid' only, not '${head}'`,
      );
    expectShape(mask, [B, T], 'mask');
  }
}

/** Runs CliffguardRnnLoss; every output tensor comes back (the caller disposes what it drops). */
export function runLossKernel(
  params: FusedParams,
  inputs: Tensor3D,
  targets: Tensor,
  options: SequenceLossOptions & { omegaWeight?: number },
): Record<(typeof LOSS_OUTPUTS)[number], Tensor> {
  const [B, T, , , O] = checkSequence(params, inputs, options);
  checkTargets(options.head, targets, options.mask, B, T, O);
  if (options.omega !== undefined && options.omega !== 'paper' && options.omega !== 'code') {
    throw new RangeError(`omega must be 'paper' or 'code', got ${JSON.stringify(options.omega)}`);
  }
  if (options.omegaWeight !== undefined && !Number.isFinite(options.omegaWeight)) {
    throw new RangeError(`omega weight (α) must be a finite number, got ${String(options.omegaWeight)}`);
  }
  const attrs: LossAttrs = {
    activation: options.activation,
    head: options.head,
    omega: options.omega ?? 'none',
    omegaWeight: options.omegaWeight ?? 0,
    combine: options.omega !== undefined && options.omegaWeight !== undefined,
    keepSequences: options.keepSequences ?? false,
  };
  const { named, done } = kernelInputs(params, inputs, { targets, mask: options.mask, h0: options.h0 });
  let outs: Tensor[];
  try {
    outs = engine().runKernel(RNN_LOSS, named, attrs as unknown as NamedAttrMap) as Tensor[];
  } finally {
    done();
  }
  return Object.fromEntries(LOSS_OUTPUTS.map((n, i) => [n, outs[i]])) as Record<
    (typeof LOSS_OUTPUTS)[number],
    Tensor
  >;
}

/**
 * The task loss of a whole sequence (and Ω on request) as one differentiable op:
 * `tf.grad(p => rnnSequenceLoss(p, ...).loss)` or `optimizer.minimize(() => ...)` get ∂loss/∂θ
 * from the fused backward pass; add `omega.mul(α)` to the objective for SGD-CR (eq. 9-10).
 */
export function rnnSequenceLoss(
  params: FusedParams,
  inputs: Tensor3D,
  targets: Tensor,
  options: SequenceLossOptions,
): SequenceLoss {
  const out = runLossKernel(params, inputs, targets, options);
  const result: SequenceLoss = {
    loss: out.loss as Scalar,
    omega: out.omega as Scalar,
    lastState: out.lastState as Tensor2D,
  };
  const drop: Tensor[] = [out.W_in, out.W_rec, out.b, out.W_out, out.b_out, out.omegaGrad, out.h0];
  if (options.keepSequences) {
    result.states = out.states as Tensor3D;
    result.deltas = out.deltas as Tensor3D;
  } else {
    drop.push(out.states, out.deltas);
  }
  for (const t of drop) t.dispose();
  return result;
}
