import type * as tf from '@tensorflow/tfjs-core';
import { ChainedOptimizer, type StepInfo, type StepMode } from './chained-optimizer.js';
import { globalNormClip } from './clipping.js';
import { assertPositiveFinite, describeValue, type NormType } from './global-norm.js';
import { checkNonFinitePolicy, type NonFinitePolicy, nonFiniteGuard } from './guard.js';

export interface GradientClippingOptions {
  /** Clip threshold on the global norm (paper, Algorithm 1). Required, positive and finite. */
  maxNorm: number;
  /** 2 (default) or 'inf' (max-abs). */
  normType?: NormType;
  /** NaN/Inf gradients: 'skip' (default: nothing changes, counted), 'throw', or 'apply' (as TF). */
  nonFinite?: NonFinitePolicy;
  /**
   * Called at every step with its norm and whether it was clipped or skipped, before the step
   * changes anything (an error it throws leaves weights and slots as they were). Host mode only.
   */
  onStep?: (info: StepInfo) => void;
  /** Where decisions are made: 'auto' (default: on the device on GPU backends), 'host' or 'device'. */
  mode?: StepMode;
}

const KNOWN = new Set(['maxNorm', 'normType', 'nonFinite', 'onStep', 'mode']);

/**
 * Wraps any tfjs optimizer so that it clips gradients by their global norm first:
 * `model.compile({ optimizer: withGradientClipping(tf.train.adam(1e-3), { maxNorm: 1 }), ... })`.
 * It is the chain `nonFiniteGuard → globalNormClip` in front of `inner`.
 */
export function withGradientClipping(
  inner: tf.Optimizer,
  options: GradientClippingOptions,
): ChainedOptimizer {
  // tf.Optimizer's instanceof is duck-typed and throws on undefined: test the shape first
  if (inner == null || typeof (inner as tf.Optimizer).applyGradients !== 'function') {
    throw new TypeError(
      `withGradientClipping(inner, options): inner must be a tf.Optimizer such as tf.train.adam(1e-3), got ${describeValue(inner)}`,
    );
  }
  if (options == null || typeof options !== 'object') {
    throw new TypeError(
      `withGradientClipping: expected options { maxNorm, ... }, got ${describeValue(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new TypeError(`withGradientClipping: unknown option '${key}'; expected ${[...KNOWN].join(', ')}`);
    }
  }
  assertPositiveFinite(options.maxNorm, 'withGradientClipping: maxNorm');
  const policy = checkNonFinitePolicy(options.nonFinite ?? 'skip', 'withGradientClipping');
  const clip = globalNormClip({ maxNorm: options.maxNorm, normType: options.normType });
  // the guard judges the norm the clip uses: with 'inf', finite values are never 'non-finite'
  const guard = nonFiniteGuard({ policy, normType: options.normType ?? 2 });
  return new ChainedOptimizer(inner, [guard, clip], {
    onStep: options.onStep,
    mode: options.mode,
  });
}
