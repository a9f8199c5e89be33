import * as tf from '@tensorflow/tfjs-core';
import { checkNormType, type NormType } from './global-norm.js';
import type { NamedGradient } from './gradients.js';
import type { GradientTransform } from './transform.js';

/**
 * What to do with a step whose gradients hold NaN or Inf (or whose norm overflows float32):
 * - 'skip': apply nothing (no weight, no optimizer slot, no iteration changes), count it;
 * - 'throw': raise an error naming the offending variables, change nothing;
 * - 'apply': apply it anyway, as TF does (a global-norm clip then makes every entry NaN).
 */
export type NonFinitePolicy = 'skip' | 'throw' | 'apply';

const POLICIES: readonly NonFinitePolicy[] = ['skip', 'throw', 'apply'];

/** Throws unless `policy` is a NonFinitePolicy; `who` and `option` name the call and its option. */
export function checkNonFinitePolicy(policy: unknown, who: string, option = 'nonFinite'): NonFinitePolicy {
  if (!POLICIES.includes(policy as NonFinitePolicy)) {
    throw new RangeError(
      `${who}: ${option} must be one of 'skip', 'throw', 'apply', got ${typeof policy === 'string' ? JSON.stringify(policy) : String(policy)}`,
    );
  }
  return policy as NonFinitePolicy;
}

export interface NonFiniteGuardOptions {
  /** Default 'skip'. */
  policy?: NonFinitePolicy;
  /**
   * The norm whose finiteness decides: 2 (default; a finite gradient whose L2 norm overflows
   * float32 counts as broken, as a global L2 clip could not scale it) or 'inf' (max-abs: only NaN
   * or Inf values count, for a chain that clips by the max-abs norm).
   */
  normType?: NormType;
}

export interface NonFiniteGuardState {
  [key: string]: number;
  /** Steps whose gradient norm was NaN or Inf. */
  nonFiniteSteps: number;
}

/** Per-variable diagnosis, computed only on the failure path (its readbacks cost nothing normally). */
function describeNonFinite(grads: NamedGradient[]): string {
  const bad: string[] = [];
  for (const g of grads) {
    if (g.tensor == null) continue;
    const [nan, inf, sumSquares] = tf
      .tidy(() => {
        const x = tf.cast(g.tensor!, 'float32');
        const counts = [tf.sum(tf.cast(tf.isNaN(x), 'float32')), tf.sum(tf.cast(tf.isInf(x), 'float32'))];
        return tf.stack([...counts, tf.sum(tf.square(x))]);
      })
      .dataSync();
    if (nan > 0 || inf > 0) bad.push(`${g.name} (${nan} NaN, ${inf} Inf)`);
    else if (!Number.isFinite(sumSquares))
      bad.push(`${g.name} (finite values, but its sum of squares overflows float32)`);
  }
  return bad.length > 0
    ? bad.join(', ')
    : 'none on its own: the sum of squares over all variables overflows float32';
}

/**
 * The non-finite guard: checks the global norm of its input (one number, read back together
 * with every other transform's reads) and skips, rejects or lets through a broken step.
 * A NaN or Inf anywhere makes the norm non-finite, so the norm alone decides.
 */
export function nonFiniteGuard(options: NonFiniteGuardOptions = {}): GradientTransform<NonFiniteGuardState> {
  const policy = checkNonFinitePolicy(options?.policy ?? 'skip', 'nonFiniteGuard', 'policy');
  const normType = checkNormType(options?.normType ?? 2, 'nonFiniteGuard');
  return {
    name: 'nonFiniteGuard',
    role: 'nonFiniteGuard',
    // 'throw' must stop the step on the host; 'skip' undoes it on the device, 'apply' needs nothing
    runsOnDevice: policy !== 'throw',
    init: () => ({ nonFiniteSteps: 0 }),
    update(grads, state, _params, ctx) {
      const norm = ctx.globalNorm(grads, normType);
      if (!ctx.device) return { grads, state, reads: { norm } };
      // device mode: the step is undone on the device where the norm is not finite ('skip'); the
      // count of such steps is the optimizer's skipCount (readStats), not this state's
      return policy === 'skip' ? { grads, state, keep: tf.isFinite(norm) as tf.Scalar } : { grads, state };
    },
    veto(_state, reads, grads) {
      if (Number.isFinite(reads.norm) || policy === 'apply') return null;
      if (policy === 'skip') return `non-finite gradient norm (${reads.norm})`;
      throw new Error(
        `nonFiniteGuard: non-finite gradient (global norm ${reads.norm}) in ${describeNonFinite(grads)}; ` +
          'the step was not applied',
      );
    },
    observe: (state, reads) => ({
      state: { nonFiniteSteps: state.nonFiniteSteps + (Number.isFinite(reads.norm) ? 0 : 1) },
    }),
    getConfig: () => ({ policy, normType }),
  };
}
