/**
 * The paper's training variants by name (section 4): SGD, SGD-C (norm clipping, Algorithm 1)
 * and SGD-CR (clipping + Ω, eq. 9-10), each ONE value: a chain of @cliffguard/clip transforms in
 * front of tf.train.sgd, a learning rate and Ω. The engines recognise that chain
 * (`compilePaperMethod`) and run it inside their kernels; any other chain runs op by op.
 */
import {
  ChainedOptimizer,
  chain,
  type GradientTransform,
  globalNormClip,
  nonFiniteGuard,
  SAFEGUARD_NORM,
  SAFEGUARD_SHRINK,
  safeguard,
  type TransformConfig,
  transformToConfig,
} from '@cliffguard/clip';
import * as tf from '@tensorflow/tfjs-core';
import type { StepOmega } from './model-update.js';
import type { AlphaSchedule, OmegaVariant } from './omega.js';

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

/**
 * A training method, optax-style: a chain of gradient transforms (@cliffguard/clip plugins) in
 * front of an inner optimizer, a learning rate, and Ω (SGD-CR's regulariser) or none. Plain data
 * plus transforms: it holds no tensors, so one method can train many runs (`createTrainer`).
 * `paperMethod` makes the paper's three; write your own for AutoClip, AGC, Adam and so on.
 */
export interface TrainingMethod {
  /** a label for records and messages ('SGD-CR', 'AutoClip + Adam', ...) */
  readonly name: string;
  readonly learningRate: number;
  /** the transforms applied to the gradients before the inner optimizer, first to last */
  readonly chain: GradientTransform;
  /** Ω's weight α and normalisation for SGD-CR (RNN only); null without Ω */
  readonly omega: StepOmega | null;
  /** the inner optimizer for the learning rate; default `tf.train.sgd` (the paper's, no momentum) */
  readonly optimizer?: (learningRate: number) => tf.Optimizer;
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

/**
 * The paper's chain for these settings, in the authors' order: the safeguard (whose shrink step
 * replaces a broken step, never clipped or skipped), the clip wrapper's non-finite skip, then
 * Algorithm 1's global-norm clip. SGD without the safeguard is the empty chain.
 */
function paperChain(m: PaperMethodSettings): GradientTransform {
  const parts: GradientTransform[] = [];
  if (m.safeguard) parts.push(safeguard());
  if (m.clips) parts.push(nonFiniteGuard({ policy: 'skip' }), globalNormClip({ maxNorm: m.maxNorm }));
  return chain(...parts);
}

/** The paper's variant `name` as a {@link TrainingMethod}: its chain, learning rate and Ω. */
export function paperMethod(name: PaperMethodName, options: PaperMethodOptions): TrainingMethod {
  const m = resolvePaperMethod(name, options);
  return Object.freeze({
    name,
    learningRate: m.learningRate,
    chain: paperChain(m),
    omega: m.usesOmega ? { alpha: m.alpha, variant: m.omegaVariant } : null,
  });
}

/**
 * A method's optimizer: its chain in front of its inner optimizer (a ChainedOptimizer), or the
 * inner optimizer alone for the empty chain (plain SGD: no readback a step). Yours to dispose.
 */
export function methodOptimizer(method: TrainingMethod, who = 'methodOptimizer'): tf.Optimizer {
  checkMethod(method, who);
  const inner = (method.optimizer ?? tf.train.sgd)(method.learningRate);
  if (method.chain.transforms?.length === 0) return inner;
  return new ChainedOptimizer(inner, method.chain);
}

/** Checks that `method` has what a trainer needs, naming what is missing. */
export function checkMethod(method: unknown, who: string): asserts method is TrainingMethod {
  const m = method as TrainingMethod;
  if (m == null || typeof m !== 'object') {
    throw new TypeError(
      `${who}: method must be a TrainingMethod (from paperMethod(...)), got ${String(method)}`,
    );
  }
  assertPositive(m.learningRate, 'method.learningRate', who);
  if (m.chain == null || typeof m.chain.update !== 'function') {
    throw new TypeError(
      `${who}: method.chain must be a GradientTransform (chain(...)), got ${String(m.chain)}`,
    );
  }
  if (m.optimizer !== undefined && typeof m.optimizer !== 'function') {
    throw new TypeError(
      `${who}: method.optimizer must be a function of the learning rate (lr) => tf.Optimizer, got ${String(m.optimizer)}`,
    );
  }
}

/** One leaf of a chain as `{ name, config }`. */
function leavesOf(t: GradientTransform): TransformConfig[] {
  return t.transforms ? t.transforms.flatMap(leavesOf) : [transformToConfig(t)];
}

/** Whether a leaf is the safeguard with the constants the fused kernels have built in. */
function isKernelSafeguard(leaf: TransformConfig): boolean {
  const c = leaf.config as { maxNorm?: number; shrink?: number; recurrent?: string[] };
  return (
    leaf.name === 'safeguard' &&
    c.maxNorm === SAFEGUARD_NORM &&
    c.shrink === SAFEGUARD_SHRINK &&
    (c.recurrent ?? []).includes('W_rec')
  );
}

/**
 * Recognises the paper's update in a method, whoever built it: SGD (the inner optimizer left as
 * default) behind the empty chain, the safeguard alone, or [safeguard,] the 'skip' non-finite
 * guard and an L2 global-norm clip. Returns the settings the compiled ensemble engines (the fused
 * kernels, the reference's stacked update) run inside one step, or null: such a method is
 * stepped op by op with its own optimizer.
 */
export function compilePaperMethod(method: TrainingMethod): PaperMethodSettings | null {
  if (method.optimizer !== undefined) return null;
  const leaves = leavesOf(method.chain);
  const guarded = leaves.length > 0 && isKernelSafeguard(leaves[0]);
  const rest = guarded ? leaves.slice(1) : leaves;
  let maxNorm = Number.POSITIVE_INFINITY;
  if (rest.length === 2) {
    const [guard, clip] = rest;
    const clipConfig = clip.config as { maxNorm: number; normType?: unknown };
    const paperClip =
      guard.name === 'nonFiniteGuard' &&
      (guard.config as { policy?: unknown }).policy === 'skip' &&
      clip.name === 'globalNormClip' &&
      (clipConfig.normType ?? 2) === 2;
    if (!paperClip) return null;
    maxNorm = clipConfig.maxNorm;
  } else if (rest.length !== 0) {
    return null;
  }
  const clips = rest.length === 2;
  const omega = method.omega;
  if (omega && !clips) return null; // the paper has no SGD + Ω
  const name: PaperMethodName = !clips ? 'SGD' : omega ? 'SGD-CR' : 'SGD-C';
  return {
    name,
    learningRate: method.learningRate,
    maxNorm: clips ? maxNorm : 1,
    alpha: omega?.alpha ?? 2,
    omegaVariant: omega?.variant ?? 'paper',
    safeguard: guarded,
    clips,
    usesOmega: omega != null,
  };
}
