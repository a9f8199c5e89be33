import * as tf from '@tensorflow/tfjs-core';
import {
  assertPositiveFinite,
  checkNormType,
  clipScale,
  clipScaleValue,
  type NormType,
} from './global-norm.js';
import type { NamedGradient } from './gradients.js';
import type { GradientTransform } from './transform.js';

/** Multiplies every present gradient by one scale; null entries pass through. */
export function scaleGradients(grads: NamedGradient[], scale: tf.Scalar): NamedGradient[] {
  return grads.map((g) => (g.tensor == null ? g : { name: g.name, tensor: tf.mul(g.tensor, scale) }));
}

export interface GlobalNormClipOptions {
  /** The threshold: gradients are rescaled when their global norm exceeds it (paper, Algorithm 1). */
  maxNorm: number;
  /** 2 (default, the paper's L2 norm) or 'inf' (max-abs, PyTorch's `norm_type=inf`). */
  normType?: NormType;
}

/** Clip by global norm (paper, Algorithm 1; TF `global_clipnorm`): one scale for all gradients. */
export function globalNormClip(options: GlobalNormClipOptions): GradientTransform<null> {
  const { maxNorm } = options ?? ({} as GlobalNormClipOptions);
  assertPositiveFinite(maxNorm, 'globalNormClip: maxNorm');
  const normType = checkNormType(options.normType ?? 2, 'globalNormClip');
  return {
    name: 'globalNormClip',
    role: 'globalClip',
    runsOnDevice: true,
    init: () => null,
    update(grads, state, _params, ctx) {
      const norm = ctx.globalNorm(grads, normType);
      if (ctx.device) {
        // the factor as a tensor: exactly 1 under the threshold, so those gradients pass bit for bit
        const clipped = tf.greater(norm, maxNorm) as tf.Scalar;
        return { grads: scaleGradients(grads, clipScale(norm, maxNorm)), state, clipped };
      }
      if (ctx.deferrable)
        return { grads, state, reads: { norm }, rescale: (r) => clipScaleValue(r.norm, maxNorm) };
      return { grads: scaleGradients(grads, clipScale(norm, maxNorm)), state, reads: { norm } };
    },
    observe: (state, reads) => ({ state, clipped: reads.norm > maxNorm }),
    getConfig: () => ({ maxNorm, normType }),
  };
}

export interface PerTensorNormClipOptions {
  /** Each gradient tensor is rescaled on its own when its L2 norm exceeds this (Keras `clipnorm`). */
  maxNorm: number;
}

/** Per-tensor norm clip (Keras `clipnorm`, TF `clip_by_norm` on each gradient separately). */
export function perTensorNormClip(options: PerTensorNormClipOptions): GradientTransform<null> {
  const { maxNorm } = options ?? ({} as PerTensorNormClipOptions);
  assertPositiveFinite(maxNorm, 'perTensorNormClip: maxNorm');
  return {
    name: 'perTensorNormClip',
    role: 'tensorClip',
    runsOnDevice: true,
    init: () => null,
    update(grads, state, _params, ctx) {
      const scales: tf.Scalar[] = [];
      const out = grads.map((g) => {
        if (g.tensor == null) return g;
        const scale = clipScale(tf.norm(g.tensor) as tf.Scalar, maxNorm);
        scales.push(scale);
        return { name: g.name, tensor: tf.mul(g.tensor, scale) };
      });
      const minScale = (scales.length === 1 ? scales[0] : tf.min(tf.stack(scales))) as tf.Scalar;
      if (ctx.device) return { grads: out, state, clipped: tf.less(minScale, 1) as tf.Scalar };
      return { grads: out, state, reads: { minScale } };
    },
    observe: (state, reads) => ({ state, clipped: reads.minScale < 1 }),
    getConfig: () => ({ maxNorm }),
  };
}

export interface ValueClipOptions {
  /** Every gradient element is clamped to [-maxValue, maxValue] (Keras `clipvalue`). */
  maxValue: number;
}

/** Element-wise value clip (Keras `clipvalue`). It changes the gradient's direction, unlike norm clips. */
export function valueClip(options: ValueClipOptions): GradientTransform<null> {
  const { maxValue } = options ?? ({} as ValueClipOptions);
  assertPositiveFinite(maxValue, 'valueClip: maxValue');
  return {
    name: 'valueClip',
    role: 'valueClip',
    runsOnDevice: true,
    init: () => null,
    update(grads, state, _params, ctx) {
      const maxAbs = ctx.globalNorm(grads, 'inf');
      const out = grads.map((g) =>
        g.tensor == null ? g : { name: g.name, tensor: tf.clipByValue(g.tensor, -maxValue, maxValue) },
      );
      if (ctx.device) return { grads: out, state, clipped: tf.greater(maxAbs, maxValue) as tf.Scalar };
      return { grads: out, state, reads: { maxAbs } };
    },
    observe: (state, reads) => ({ state, clipped: reads.maxAbs > maxValue }),
    getConfig: () => ({ maxValue }),
  };
}
