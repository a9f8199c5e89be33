/**
 * The paper's training variants by name (section 4): SGD, SGD-C (norm clipping, Algorithm 1)
 * and SGD-CR (clipping + Ω, eq. 9-10), built from tf.train.sgd and @cliffguard/clip.
 */
import { withGradientClipping } from '@cliffguard/clip';
import * as tf from '@tensorflow/tfjs-core';
import type { AlphaSchedule, OmegaVariant } from './omega.js';
import type { StepOmega } from './train-step.js';

export type PaperMethodName = 'SGD' | 'SGD-C' | 'SGD-CR';
export const PAPER_METHODS: readonly PaperMethodName[] = ['SGD', 'SGD-C', 'SGD-CR'];

export interface PaperMethodOptions {
  /** SGD learning rate, no momentum (the paper's synthetic tasks use 0.01) */
  learningRate: number;
  /** Algorithm 1's threshold on the global norm; default 1 (the authors' `cutoff`) */
  maxNorm?: number;
  /** Ω weight α for SGD-CR, a number or a schedule; default 2 (the authors' code; Fig. 7 used 4) */
  alpha?: number | AlphaSchedule;
  /**
   * default 'code' (the authors' normalisation, mean over (t, b), with which their runs were made);
   * 'paper' for eq. 9 as printed (sum over time), whose gradient at initialisation is about T
   * times larger: with α = 4 on temporal order it is 100-300x the task gradient, so nearly every
   * SGD-CR step is clipped and the task signal scaled down accordingly
   */
  omegaVariant?: OmegaVariant;
  /** the authors' shrink-step safeguard; default true for SGD-C/SGD-CR (their code has it with clipping) */
  safeguard?: boolean;
}

/** What {@link trainStep} needs for one of the paper's variants: `trainStep(model, batch, m.optimizer, m)`. */
export interface PaperMethod {
  name: PaperMethodName;
  optimizer: tf.Optimizer;
  omega: StepOmega | null;
  safeguard: boolean;
}

/** A paper variant's settings, checked and with defaults filled in (no optimizer). */
export interface PaperMethodSettings {
  name: PaperMethodName;
  learningRate: number;
  maxNorm: number;
  alpha: number | AlphaSchedule;
  omegaVariant: OmegaVariant;
  safeguard: boolean;
  /** SGD-C and SGD-CR clip by global norm (Algorithm 1) behind a non-finite guard */
  clips: boolean;
  /** SGD-CR adds α·∂Ω/∂W_rec */
  usesOmega: boolean;
}

function assertPositive(value: unknown, what: string, who: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${who}: ${what} must be a positive finite number, got ${String(value)}`);
  }
}

/** Checks `name` and `options` and fills in the defaults; `who` starts the error messages. */
export function resolvePaperMethod(
  name: PaperMethodName,
  options: PaperMethodOptions,
  who = 'paperMethod',
): PaperMethodSettings {
  if (!PAPER_METHODS.includes(name)) {
    throw new RangeError(
      `${who}: unknown method ${JSON.stringify(name)}; expected ${PAPER_METHODS.join(', ')}`,
    );
  }
  assertPositive(options?.learningRate, 'learningRate', who);
  const maxNorm = options.maxNorm ?? 1;
  assertPositive(maxNorm, 'maxNorm', who);
  const alpha = options.alpha ?? 2;
  if (typeof alpha === 'number' ? !(Number.isFinite(alpha) && alpha >= 0) : typeof alpha !== 'function') {
    throw new RangeError(`${who}: alpha must be a finite number ≥ 0 or a schedule, got ${String(alpha)}`);
  }
  const omegaVariant = options.omegaVariant ?? 'code';
  if (omegaVariant !== 'paper' && omegaVariant !== 'code') {
    throw new RangeError(
      `${who}: omegaVariant must be 'paper' or 'code', got ${JSON.stringify(omegaVariant)}`,
    );
  }
  const clips = name !== 'SGD';
  return {
    name,
    learningRate: options.learningRate,
    maxNorm,
    alpha,
    omegaVariant,
    // The authors' code has the safeguard with clipping.
    safeguard: options.safeguard ?? clips,
    clips,
    usesOmega: name === 'SGD-CR',
  };
}

/** Builds the optimizer (and Ω settings) of the paper's variant `name`. Dispose `optimizer` when done. */
export function paperMethod(name: PaperMethodName, options: PaperMethodOptions): PaperMethod {
  const m = resolvePaperMethod(name, options);
  const sgd = tf.train.sgd(m.learningRate);
  if (!m.clips) return { name, optimizer: sgd, omega: null, safeguard: m.safeguard };
  return {
    name,
    optimizer: withGradientClipping(sgd, { maxNorm: m.maxNorm }),
    omega: m.usesOmega ? { alpha: m.alpha, variant: m.omegaVariant } : null,
    safeguard: m.safeguard,
  };
}
