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
  /** clipping threshold on the global norm; default 1 (the authors' `cutoff`) */
  threshold?: number;
  /** Ω weight α for SGD-CR, a number or a schedule; default 2 (the authors' code; Fig. 7 used 4) */
  alpha?: number | AlphaSchedule;
  /** default 'paper' (eq. 9, sum over time); 'code' for the authors' mean over (t, b) */
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

function assertPositive(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`paperMethod: ${what} must be a positive finite number, got ${String(value)}`);
  }
}

/** Builds the optimizer (and Ω settings) of the paper's variant `name`. Dispose `optimizer` when done. */
export function paperMethod(name: PaperMethodName, options: PaperMethodOptions): PaperMethod {
  if (!PAPER_METHODS.includes(name)) {
    throw new RangeError(
      `paperMethod: unknown method ${JSON.stringify(name)}; expected ${PAPER_METHODS.join(', ')}`,
    );
  }
  assertPositive(options?.learningRate, 'learningRate');
  const threshold = options.threshold ?? 1;
  assertPositive(threshold, 'threshold');
  const alpha = options.alpha ?? 2;
  if (typeof alpha === 'number' && !(Number.isFinite(alpha) && alpha >= 0)) {
    throw new RangeError(
      `paperMethod: alpha must be a finite number ≥ 0 or a schedule, got ${String(alpha)}`,
    );
  }
  const variant = options.omegaVariant ?? 'paper';
  if (variant !== 'paper' && variant !== 'code') {
    throw new RangeError(
      `paperMethod: omegaVariant must be 'paper' or 'code', got ${JSON.stringify(variant)}`,
    );
  }
  const sgd = tf.train.sgd(options.learningRate);
  if (name === 'SGD') return { name, optimizer: sgd, omega: null, safeguard: options.safeguard ?? false };
  return {
    name,
    optimizer: withGradientClipping(sgd, { maxNorm: threshold }),
    omega: name === 'SGD-CR' ? { alpha, variant } : null,
    safeguard: options.safeguard ?? true,
  };
}
