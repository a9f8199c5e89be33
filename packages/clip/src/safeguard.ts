/**
 * The authors' safeguard (Pascanu et al.'s code, beside Algorithm 1): when a step's gradient norm
 * is NaN/Inf or larger than float32 can be trusted with (> 1e10), the step is REPLACED by a
 * shrink of the recurrent matrix, W_rec ← W_rec − lr·0.02·W_rec, every other parameter kept.
 *
 * Its place is first in a chain, and the replacement is the step: the transforms after it (the
 * non-finite guard, the global-norm clip) see the original gradients and are bypassed when it
 * fires, so the shrink step is never clipped or skipped, as in the authors' order. The decision
 * uses the norm that every transform of the step shares (no readback of its own), and the shrink
 * gradients are only made when it fires.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertPositiveFinite } from './global-norm.js';
import type { NamedGradient } from './gradients.js';
import type { GradientTransform, Params } from './transform.js';

/** The norm above which the authors' code no longer trusts a float32 step. */
export const SAFEGUARD_NORM = 1e10;
/** The shrink factor of the safeguard step (the gradient of W_rec becomes 0.02·W_rec). */
export const SAFEGUARD_SHRINK = 0.02;
/** The parameters it shrinks by default: the RNN's W_rec and the LSTM's W_h (last name segment). */
export const SAFEGUARD_RECURRENT: readonly string[] = ['W_rec', 'W_h'];

export interface SafeguardOptions {
  /** the step is replaced when its global L2 norm is NaN/Inf or above this; default 1e10 */
  maxNorm?: number;
  /** the replacement gradient of a recurrent matrix W is shrink·W; default 0.02 */
  shrink?: number;
  /**
   * which parameters are recurrent matrices: names compared with the last `/`-segment of each
   * variable's name (`rnn_1/W_rec` → `W_rec`); default ['W_rec', 'W_h']
   */
  recurrent?: readonly string[];
}

/** Whether the safeguard replaces a step of norm `norm` (a number read back). */
export function safeguardFires(norm: number, maxNorm = SAFEGUARD_NORM): boolean {
  return !Number.isFinite(norm) || norm > maxNorm;
}

/** The same decision on the device, elementwise on a tensor of norms (a bool tensor). */
export function safeguardTriggered(norm: tf.Tensor, maxNorm = SAFEGUARD_NORM): tf.Tensor {
  return tf.logicalOr(tf.logicalNot(tf.isFinite(norm)), tf.greater(norm, maxNorm));
}

/**
 * The shrink step's gradient for one parameter: `shrink`·`recurrent` for a recurrent matrix,
 * zeros (same shape as `g`) for every other parameter (`recurrent` undefined).
 */
export function shrinkGradient(g: tf.Tensor, recurrent?: tf.Tensor, shrink = SAFEGUARD_SHRINK): tf.Tensor {
  return recurrent ? tf.mul(recurrent, shrink) : tf.zerosLike(g);
}

/** The last `/`-segment of a variable name: `ensemble_3/W_rec` → `W_rec`. */
function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** The safeguard as a gradient transform; put it first in the chain (see the file comment). */
export function safeguard(options: SafeguardOptions = {}): GradientTransform<null> {
  const maxNorm = options?.maxNorm ?? SAFEGUARD_NORM;
  const shrink = options?.shrink ?? SAFEGUARD_SHRINK;
  assertPositiveFinite(maxNorm, 'safeguard: maxNorm');
  assertPositiveFinite(shrink, 'safeguard: shrink');
  const recurrent = [...(options?.recurrent ?? SAFEGUARD_RECURRENT)];
  if (recurrent.length === 0 || recurrent.some((n) => typeof n !== 'string' || n === '')) {
    throw new TypeError(
      `safeguard: recurrent must be a non-empty list of parameter names, got ${JSON.stringify(options?.recurrent)}`,
    );
  }
  const isRecurrent = (name: string) => recurrent.includes(baseName(name));
  return {
    name: 'safeguard',
    role: 'safeguard',
    runsOnDevice: true,
    init(params) {
      if (!params.some((p) => isRecurrent(p.name))) {
        throw new RangeError(
          `safeguard: no parameter is a recurrent matrix named ${recurrent.join(' or ')} ` +
            `(got ${params.map((p) => p.name).join(', ') || 'none'}); set options.recurrent`,
        );
      }
      return null;
    },
    update(grads, state, params: Params, ctx) {
      const norm = ctx.globalNorm(grads);
      const replacement = (): NamedGradient[] =>
        grads.map((g) => {
          if (g.tensor == null) return g;
          const w = isRecurrent(g.name) ? params[g.name] : undefined;
          if (isRecurrent(g.name) && w == null) {
            throw new Error(`safeguard: the recurrent matrix '${g.name}' is not a registered tf.Variable`);
          }
          return { name: g.name, tensor: shrinkGradient(g.tensor, w, shrink) };
        });
      if (ctx.device) {
        // decided on the device: the chain selects the replacement where it fires
        const fires = safeguardTriggered(norm, maxNorm) as tf.Scalar;
        return { grads, state, replace: { when: () => false, grads: replacement, fires } };
      }
      return {
        grads,
        state,
        reads: { norm },
        replace: { when: (reads) => safeguardFires(reads.norm, maxNorm), grads: replacement },
      };
    },
    getConfig: () => ({ maxNorm, shrink, recurrent }),
  };
}
