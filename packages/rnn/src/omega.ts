/**
 * Ω, the vanishing-gradient regulariser (paper eq. 9-10), in the authors' code's form:
 * for t = 1..T (the step to h_0 included) and batch row b,
 *   a = δ_t ⊙ σ'(h_t),   g = a · W_recᵀ  (= δ_t ∂h_t/∂h_{t−1}, row convention),
 *   r = ‖g‖² / ‖δ_t‖²,   valid when ‖δ_t‖² ≥ 1e-20,
 * 'code':  Ω = Σ_valid (r − 1)² / #valid          (mean over (t, b), as RNN.py)
 * 'paper': Ω = (1/B) Σ_b Σ_t valid (r − 1)²       (eq. 9: sum over time, mean over the batch)
 * δ_t and h_t are constants, so Ω is a function of W_rec alone and ∂Ω/∂W_rec is first order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { repeatLast } from './broadcast.js';
import type { Activation, OmegaSpec } from './implementation.js';

/** ‖δ_t‖² below this excludes a term (the authors' `bound`). */
export const OMEGA_BOUND = 1e-20;

export type OmegaVariant = OmegaSpec['variant'];

export interface OmegaOptions {
  activation: Activation;
  variant: OmegaVariant;
}

/** σ'(pre-activation) written from the output h: tanh 1 − h², sigmoid h (1 − h). */
export function activationDerivative(h: tf.Tensor, activation: Activation): tf.Tensor {
  return tf.tidy(() => (activation === 'tanh' ? tf.sub(1, tf.square(h)) : tf.mul(h, tf.sub(1, h))));
}

function assertOmegaInputs(
  W_rec: tf.Tensor,
  deltas: tf.Tensor,
  states: tf.Tensor,
  options: OmegaOptions,
): void {
  const H = W_rec.shape[0];
  if (W_rec.rank !== 2 || W_rec.shape[1] !== H) {
    throw new RangeError(`omega: W_rec must be square, got [${W_rec.shape.join(', ')}]`);
  }
  for (const [what, x] of [
    ['deltas', deltas],
    ['states', states],
  ] as const) {
    if (x.rank !== 3 || x.shape[2] !== H) {
      throw new RangeError(`omega: ${what} must be [batch, time, ${H}], got [${x.shape.join(', ')}]`);
    }
  }
  if (deltas.shape.some((d, i) => d !== states.shape[i])) {
    throw new RangeError(
      `omega: deltas [${deltas.shape.join(', ')}] and states [${states.shape.join(', ')}] differ`,
    );
  }
  if (options.variant !== 'paper' && options.variant !== 'code') {
    throw new RangeError(`omega: variant must be 'paper' or 'code', got ${JSON.stringify(options.variant)}`);
  }
  if (options.activation !== 'tanh' && options.activation !== 'sigmoid') {
    throw new RangeError(
      `omega: activation must be 'tanh' or 'sigmoid', got ${JSON.stringify(options.activation)}`,
    );
  }
}

/**
 * Ω's value (eq. 9-10) from W_rec [H, H], the BPTT error signals δ_t = ∂E/∂h_t [B, T, H] and
 * the states h_1..h_T [B, T, H]. Differentiable in W_rec (first order); the reference formula
 * every implementation is tested against.
 */
export function omega(
  W_rec: tf.Tensor,
  deltas: tf.Tensor,
  states: tf.Tensor,
  options: OmegaOptions,
): tf.Scalar {
  assertOmegaInputs(W_rec, deltas, states, options);
  return tf.tidy(() => {
    const [B, T, H] = deltas.shape;
    const a = tf.reshape(tf.mul(deltas, activationDerivative(states, options.activation)), [B * T, H]);
    const g = tf.matMul(a, W_rec as tf.Tensor2D, false, true);
    const num = tf.sum(tf.square(g), 1);
    const den = tf.sum(tf.square(tf.reshape(deltas, [B * T, H])), 1);
    const valid = tf.greaterEqual(den, OMEGA_BOUND);
    const ratio = tf.div(num, tf.where(valid, den, tf.onesLike(den)));
    const terms = tf.where(valid, tf.square(tf.sub(ratio, 1)), tf.zerosLike(ratio));
    if (options.variant === 'paper') return tf.div(tf.sum(terms), B);
    // No valid term (every δ vanished): Ω = 0 rather than the code's 0/0.
    return tf.div(tf.sum(terms), tf.maximum(tf.sum(tf.cast(valid, 'float32')), 1));
  });
}

/**
 * Ω and ∂Ω/∂W_rec with δ and h held constant, written out (no tape): with g = a W_recᵀ,
 * ∂‖g‖²/∂W_rec = 2 gᵀ a, so ∂Ω/∂W_rec = Σ_valid c · 2 (r − 1) / ‖δ‖² · 2 gᵀ a, where
 * c = 1/#valid ('code') or 1/B ('paper'). Tested against finite differences of {@link omega}.
 */
export function omegaAndGradient(
  W_rec: tf.Tensor,
  deltas: tf.Tensor,
  states: tf.Tensor,
  options: OmegaOptions,
): { value: tf.Scalar; grad: tf.Tensor2D } {
  assertOmegaInputs(W_rec, deltas, states, options);
  return tf.tidy(() =>
    stackedOmegaAndGradient(
      W_rec,
      deltas,
      states,
      options.activation,
      [],
      omegaScale(options.variant, deltas.shape[0]),
    ),
  ) as { value: tf.Scalar; grad: tf.Tensor2D };
}

/**
 * The averaging factor c of Ω's terms from the validity mask [...runs, B·T] (‖δ‖² ≥ bound):
 * a scalar, or one factor per run ([...runs, 1]).
 */
export type OmegaScale = (valid: tf.Tensor) => tf.Tensor;

/** c = 1/B ('paper': sum over time, mean over the batch) or 1/max(#valid, 1) ('code'). */
export function omegaScale(variant: OmegaVariant, batch: number): OmegaScale {
  if (variant === 'paper') return () => tf.scalar(1 / batch);
  // No valid term (every δ vanished): Ω = 0 rather than the code's 0/0.
  return (valid) => tf.div(1, tf.maximum(tf.sum(tf.cast(valid, 'float32'), -1, valid.rank > 1), 1));
}

/**
 * {@link omegaAndGradient} on stacked operands (see RunAxes in heads.ts): W_rec [...runs, H, H],
 * δ and h [...runs, B, T, H]; value [...runs] (a scalar for no run axis), grad [...runs, H, H].
 * Call inside a tidy.
 */
export function stackedOmegaAndGradient(
  W_rec: tf.Tensor,
  deltas: tf.Tensor,
  states: tf.Tensor,
  activation: Activation,
  runs: readonly number[],
  scaleOf: OmegaScale,
): { value: tf.Tensor; grad: tf.Tensor } {
  const k = runs.length;
  const [B, T, H] = deltas.shape.slice(k);
  const a = tf.reshape(tf.mul(deltas, activationDerivative(states, activation)), [...runs, B * T, H]);
  const g = tf.matMul(a as tf.Tensor2D, W_rec as tf.Tensor2D, false, true);
  const num = tf.sum(tf.square(g), -1);
  const den = tf.sum(tf.square(tf.reshape(deltas, [...runs, B * T, H])), -1);
  const valid = tf.greaterEqual(den, OMEGA_BOUND);
  const safeDen = tf.where(valid, den, tf.onesLike(den));
  const excess = tf.where(valid, tf.sub(tf.div(num, safeDen), 1), tf.zerosLike(den));
  // A per-run factor [...runs, 1] is repeated over the rows: equal-shape products (see broadcast.ts).
  const scale = scaleOf(valid);
  const rowScale = scale.rank === 0 ? scale : repeatLast(scale, B * T);
  const value =
    k === 0
      ? tf.mul(tf.sum(tf.square(excess)), scale)
      : tf.reshape(tf.mul(tf.sum(tf.square(excess), -1, true), scale), [...runs]);
  // Per-row weight 4 c (r − 1) / ‖δ‖² (0 for excluded rows), then one [H, H] matMul per run.
  const weight = tf.reshape(tf.div(tf.mul(tf.mul(excess, 4), rowScale), safeDen), [...runs, B * T, 1]);
  const grad = tf.matMul(tf.mul(g, repeatLast(weight, H)) as tf.Tensor2D, a as tf.Tensor2D, true, false);
  return { value, grad };
}

/** α as a function of the update number (0-based). */
export type AlphaSchedule = (step: number) => number;

export type AlphaScheduleSpec =
  | { kind: 'constant'; alpha0: number }
  /** α_t = α₀ / (1 + t / timescale): the 1/t decay of the natural-task experiments (timescale 1 by default). */
  | { kind: 'inverse-time'; alpha0: number; timescale?: number };

/** Builds an α schedule: constant, or 1/t (inverse time). */
export function alphaSchedule(spec: AlphaScheduleSpec): AlphaSchedule {
  if (!(typeof spec?.alpha0 === 'number' && Number.isFinite(spec.alpha0) && spec.alpha0 >= 0)) {
    throw new RangeError(`alphaSchedule: alpha0 must be a finite number ≥ 0, got ${String(spec?.alpha0)}`);
  }
  const { alpha0 } = spec;
  if (spec.kind === 'constant') return () => alpha0;
  if (spec.kind === 'inverse-time') {
    const timescale = spec.timescale ?? 1;
    if (!(Number.isFinite(timescale) && timescale > 0)) {
      throw new RangeError(
        `alphaSchedule: timescale must be a positive finite number, got ${String(timescale)}`,
      );
    }
    return (step: number) => {
      if (!(Number.isFinite(step) && step >= 0)) {
        throw new RangeError(`alpha schedule: step must be a finite number ≥ 0, got ${String(step)}`);
      }
      return alpha0 / (1 + step / timescale);
    };
  }
  throw new RangeError(
    `alphaSchedule: kind must be 'constant' or 'inverse-time', got ${JSON.stringify((spec as { kind: unknown }).kind)}`,
  );
}
