/**
 * One model's update (the trainer's per-model engine; `trainStep` in trainer.ts is its one-line
 * form): forward, loss, BPTT gradients (+ α·∂Ω/∂W_rec, eq. 9-10), then `optimizer.applyGradients`
 * for any tf.Optimizer — for the paper's methods the ChainedOptimizer of @cliffguard/clip whose
 * chain holds the safeguard, the non-finite guard and Algorithm 1's clip. Every tensor lives
 * inside one tf.tidy; the step's numbers come back in ONE batched readback.
 */
import {
  canReadSync,
  globalNorm,
  SAFEGUARD_SHRINK,
  safeguardFires,
  safeguardTriggered,
  selectWhole,
  shrinkGradient,
} from '@cliffguard/clip';
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './implementation.js';
import type { RecurrentModel } from './model.js';
import type { AlphaSchedule, OmegaVariant } from './omega.js';

/** Ω in a training step: weight α (a number or a schedule of the update number) and variant. */
export interface StepOmega {
  alpha: number | AlphaSchedule;
  /** 'paper' (default: sum over time, eq. 9) or 'code' (the authors' mean over (t, b)) */
  variant?: OmegaVariant;
}

export interface TrainStepOptions {
  /** add α·∂Ω/∂W_rec to W_rec's gradient before the optimizer sees it (SGD-CR); RNN only */
  omega?: StepOmega | null;
  /** the update number, needed by an α schedule */
  step?: number;
  /**
   * The authors' safeguard for an optimizer whose chain lacks @cliffguard/clip's `safeguard`
   * plugin (the paper's methods have it in their chain): when the pre-clip norm is NaN/Inf or
   * > 1e10, the step is replaced by a shrink of the recurrent matrix, W_rec ← W_rec − lr·0.02·W_rec,
   * every other parameter kept. The shrink step replaces the clipped step: it bypasses a clip
   * wrapper (it goes to the wrapper's inner optimizer) and is never clipped or skipped. Decided
   * on the host on cpu and wasm (a scalar readback there is a copy) and with a clip wrapper
   * (which reads its norm back anyway); on the device for a plain optimizer on a GPU backend.
   */
  safeguard?: boolean;
}

/** What one step did, as plain numbers. */
export interface StepRecord {
  /** the task loss (Ω not included) */
  loss: number;
  /** the global L2 norm of the gradients handed to the optimizer (Ω term included), before any clipping */
  norm: number;
  /** Ω's value (unweighted), or null when Ω was not computed */
  omega: number | null;
  /** the α used (0 without Ω) */
  alpha: number;
  /** the optimizer's `lastClipped` after the step (a clipping wrapper sets it); false otherwise */
  clipped: boolean;
  /** the optimizer's `lastSkipped` after the step (a non-finite guard sets it); false otherwise */
  skipped: boolean;
  /** whether the safeguard replaced the step */
  safeguarded: boolean;
}

/**
 * The gradient after the safeguard, decided on the device: where `broken` (broadcast), the
 * shrink step's gradient (0.02·`recurrent` for the recurrent matrix, 0 for every other parameter,
 * `recurrent` undefined); `g` elsewhere. For the paths that cannot read the norm back (a plain
 * optimizer on a GPU, the stacked update of R runs); the plugin decides on the host.
 */
export function safeguardGradient(g: tf.Tensor, broken: tf.Tensor, recurrent?: tf.Tensor): tf.Tensor {
  const shrink = shrinkGradient(g, recurrent);
  // One decision for the whole step: selectWhole spares tf.where's Tile of the scalar condition.
  return broken.size === 1 ? selectWhole(broken, shrink, g) : tf.where(broken, shrink, g);
}

/**
 * Whether reading a scalar back is as cheap as an op: on cpu and wasm tensors live in JavaScript
 * or WebAssembly memory, so `dataSync` is a copy; a GPU backend would stall its queue instead.
 */
function readsAreFree(backend = tf.getBackend()): boolean {
  return backend === 'cpu' || backend === 'wasm';
}

/** α for update `step` (a number, or a schedule evaluated at `step`), checked; null without Ω. */
export function resolveAlpha(
  omega: StepOmega | null | undefined,
  step: number | undefined,
  who = 'trainStep',
): number | null {
  if (!omega) return null;
  let alpha: number;
  if (typeof omega.alpha === 'function') {
    if (step === undefined) {
      throw new RangeError(`${who}: an α schedule needs options.step (the update number)`);
    }
    alpha = omega.alpha(step);
  } else {
    alpha = omega.alpha;
  }
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0) {
    throw new RangeError(`${who}: α must be a finite number ≥ 0, got ${String(alpha)}`);
  }
  return alpha;
}

function readFlag(optimizer: tf.Optimizer, key: 'lastClipped' | 'lastSkipped' | 'lastReplaced'): boolean {
  const v = (optimizer as unknown as Record<string, unknown>)[key];
  return v === true;
}

/**
 * The optimizer that takes the safeguard's shrink step: a clip wrapper's inner optimizer (the
 * shrink step bypasses the clip, as in the authors' code), else `optimizer` itself.
 */
function innerOptimizer(optimizer: tf.Optimizer): tf.Optimizer {
  const inner = (optimizer as unknown as { inner?: unknown }).inner;
  // (tf.Optimizer's instanceof is duck-typed and throws on undefined)
  return inner != null && inner instanceof tf.Optimizer ? inner : optimizer;
}

/** A device-mode ChainedOptimizer's last-step tensor [norm, clipped, skipped, replaced], else null. */
function deviceFlags(optimizer: tf.Optimizer): tf.Tensor | null {
  const t = (optimizer as unknown as { lastStepTensor?: unknown }).lastStepTensor;
  return t instanceof tf.Tensor ? t : null;
}

/** The recurrent matrix the safeguard shrinks: W_rec (RNN) or W_h (LSTM). */
function recurrentKey(model: Pick<RecurrentModel, 'kind'>): string {
  return model.kind === 'lstm' ? 'W_h' : 'W_rec';
}

/**
 * One update of `model` on `batch` with `optimizer`. The gradients reach the optimizer as a
 * NamedTensorMap keyed by the variables' registered names, in the model's parameter order.
 */
export async function modelUpdate(
  model: Pick<RecurrentModel, 'kind' | 'variables' | 'lossAndGradients'>,
  batch: Batch,
  optimizer: tf.Optimizer,
  options: TrainStepOptions = {},
): Promise<StepRecord> {
  if (optimizer == null || typeof (optimizer as tf.Optimizer).applyGradients !== 'function') {
    throw new TypeError(
      `trainStep needs a tf.Optimizer (something with applyGradients), got ${String(optimizer)}`,
    );
  }
  const alpha = resolveAlpha(options.omega, options.step);
  const variant = options.omega?.variant ?? 'paper';
  if (variant !== 'paper' && variant !== 'code') {
    throw new RangeError(
      `trainStep: omega.variant must be 'paper' or 'code', got ${JSON.stringify(variant)}`,
    );
  }
  const safeguard = options.safeguard ?? false;
  // The clip wrapper reads its norm back anyway, so its step's safeguard is decided on the host too.
  const inner = innerOptimizer(optimizer);
  let shrunk = false;
  const packed = tf.tidy(() => {
    const result = model.lossAndGradients(batch, alpha === null ? {} : { omega: { variant, weight: alpha } });
    const keys = Object.keys(model.variables);
    const variables = model.variables as Record<string, tf.Variable>;
    let grads = keys.map((k) => (result.grads as Record<string, tf.Tensor>)[k]);
    const norm = globalNorm(grads);
    let bad: tf.Tensor = tf.scalar(0);
    const named = (list: tf.Tensor[]) => Object.fromEntries(keys.map((k, i) => [variables[k].name, list[i]]));
    if (safeguard && (readsAreFree() || (inner !== optimizer && canReadSync()))) {
      // Decided on the host: an untouched step then costs no op at all, where device-side
      // selects are 35 of a P100 step's 66 kernels.
      shrunk = safeguardFires(norm.dataSync()[0]);
      bad = tf.scalar(shrunk ? 1 : 0);
    } else if (safeguard && inner !== optimizer) {
      throw new Error(
        "trainStep: the safeguard option with a clip wrapper decides on the host, which webgpu cannot do reliably; put @cliffguard/clip's safeguard() first in the optimizer's chain instead (paperMethod's chains have it)",
      );
    } else if (safeguard) {
      // A plain optimizer (no clip to bypass): the shrink step selected on the device.
      const broken = safeguardTriggered(norm);
      const shrink = recurrentKey(model);
      grads = grads.map((g, i) =>
        safeguardGradient(g, broken, keys[i] === shrink ? variables[keys[i]] : undefined),
      );
      bad = tf.cast(broken, 'float32');
    }
    if (shrunk) {
      // The authors' order: the shrink step REPLACES the clipped step (W_rec ← W_rec − lr·0.02·W_rec),
      // so it goes to the inner optimizer, past the clip and the non-finite guard.
      const w = variables[recurrentKey(model)];
      inner.applyGradients({ [w.name]: tf.mul(w, SAFEGUARD_SHRINK) });
    } else {
      optimizer.applyGradients(named(grads));
    }
    // a device-mode clip chain's own flags ([norm, clipped, skipped, replaced]) come back in the same transfer
    const flags = deviceFlags(optimizer) ?? tf.tensor1d([Number.NaN, -1, -1, -1]);
    return tf.concat([tf.stack([result.loss, norm, result.omega ?? tf.scalar(Number.NaN), bad]), flags]);
  });
  const [loss, norm, omega, bad, , clippedOnDevice, skippedOnDevice, replacedOnDevice] = await packed.data();
  packed.dispose();
  const flag = (onDevice: number, key: 'lastClipped' | 'lastSkipped' | 'lastReplaced') =>
    onDevice < 0 ? readFlag(optimizer, key) : onDevice === 1;
  return {
    loss,
    norm,
    omega: alpha === null ? null : omega,
    alpha: alpha ?? 0,
    clipped: !shrunk && flag(clippedOnDevice, 'lastClipped'),
    skipped: !shrunk && flag(skippedOnDevice, 'lastSkipped'),
    // by trainStep's own safeguard option, or by the safeguard plugin in the optimizer's chain
    safeguarded: bad === 1 || (!shrunk && flag(replacedOnDevice, 'lastReplaced')),
  };
}
