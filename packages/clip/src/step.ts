import * as tf from '@tensorflow/tfjs-core';
import { knownNorm, type NormType, normOfTensors } from './global-norm.js';
import { type GradientMap, type Gradients, type NamedGradient, presentTensors } from './gradients.js';
import type {
  GradientTransform,
  ParamInfo,
  Params,
  PluginState,
  ReadValues,
  StepContext,
} from './transform.js';

/** The array `applyGradients` receives, or the map, as one named list in the same order. */
export function toNamedList(variableGradients: unknown, who: string): NamedGradient[] {
  if (Array.isArray(variableGradients)) {
    return variableGradients.map((g, i) => {
      if (g == null || g instanceof tf.Tensor || typeof g.name !== 'string') {
        throw new TypeError(
          `${who}: entry ${i} is not a {name, tensor} pair (got ${String(g)}); ` +
            'expected a NamedTensorMap or the NamedTensor[] that model.fit passes',
        );
      }
      return g as NamedGradient;
    });
  }
  if (variableGradients == null || typeof variableGradients !== 'object') {
    throw new TypeError(
      `${who}: expected a NamedTensorMap or a NamedTensor[], got ${String(variableGradients)}`,
    );
  }
  const map = variableGradients as GradientMap;
  return Object.keys(map).map((name) => ({ name, tensor: map[name] }));
}

/** Back to the caller's form: built-in optimizers key their slots by position in it. */
export function fromNamedList(list: NamedGradient[], asArray: boolean): GradientMap | NamedGradient[] {
  if (asArray) return list;
  const map: GradientMap = {};
  for (const g of list) map[g.name] = g.tensor;
  return map;
}

export function paramInfos(list: NamedGradient[], params: Params): ParamInfo[] {
  return list.map((g) => ({ name: g.name, shape: [...(g.tensor?.shape ?? params[g.name]?.shape ?? [])] }));
}

/** Per-step memo of global norms, so every transform that asks about one list shares one norm. */
function stepContext(iteration: number, device = false): StepContext {
  const memo = new Map<NamedGradient[], Map<NormType, tf.Scalar>>();
  return {
    iteration,
    // in device mode nothing is read back, so there is no deferred factor either
    deferrable: !device,
    device,
    globalNorm(grads, normType = 2) {
      let byType = memo.get(grads);
      if (!byType) {
        byType = new Map();
        memo.set(grads, byType);
      }
      let norm = byType.get(normType);
      if (!norm) {
        const tensors = presentTensors(grads, 'globalNorm');
        norm = knownNorm(tensors, normType) ?? normOfTensors(tensors, normType);
        byType.set(normType, norm);
      }
      return norm;
    },
  };
}

/**
 * Whether a step may read a tensor synchronously (`dataSync`) on this backend. Not on webgpu: in
 * Node tfjs cannot at all (no OffscreenCanvas), and in Chromium (tfjs-backend-webgpu 4.22,
 * SwiftShader) its OffscreenCanvas read returned a wrong value and then lost the device (see
 * docs/toolchain.md), so a clip decided on it could use a wrong norm. Device mode needs no read.
 */
export function canReadSync(backend = tf.getBackend()): boolean {
  return backend !== 'webgpu';
}

function assertSyncReadback(): void {
  if (!canReadSync()) {
    throw new Error(
      'a step needs one synchronous readback (applyGradients is synchronous in tfjs), which the webgpu ' +
        'backend cannot give reliably (no OffscreenCanvas in Node; wrong values in Chromium): use device mode ' +
        "(mode 'auto' or 'device', with plugins that run on the device and no onStep), or cpu/wasm/webgl",
    );
  }
}

/**
 * Reads the step's scalars back in ONE transfer (stacked), the input norm first: the only
 * readback of a step (a GPU stalls on each one).
 */
function readBack(
  inputNorm: tf.Scalar,
  reads: Record<string, tf.Scalar>,
): { norm: number; values: ReadValues } {
  const unique: tf.Tensor[] = [inputNorm];
  const index: Record<string, number> = {};
  for (const [key, t] of Object.entries(reads)) {
    if (!(t instanceof tf.Tensor) || t.size !== 1) {
      const got = t instanceof tf.Tensor ? `a tensor of shape [${t.shape}]` : String(t);
      throw new TypeError(`transform read '${key}' must be a scalar tensor, got ${got}`);
    }
    let i = unique.indexOf(t);
    if (i < 0) i = unique.push(t) - 1;
    index[key] = i;
  }
  assertSyncReadback();
  const asFloat = (t: tf.Tensor) => tf.reshape(t.dtype === 'float32' ? t : tf.cast(t, 'float32'), []);
  const data = unique.length === 1 ? inputNorm.dataSync() : tf.stack(unique.map(asFloat)).dataSync();
  const values: Record<string, number> = {};
  for (const [key, i] of Object.entries(index)) values[key] = data[i] as number;
  return { norm: data[0] as number, values };
}

/** What a step decided, before anything is committed. */
export interface StepPlan {
  /** Pre-transform global norm (L2, or the chain's global clip's norm type: see ChainedOptimizer). */
  norm: number;
  /** The transform's state after the step. */
  state: PluginState;
  clipped: boolean;
  skipReason: string | null;
  /** whether a transform (the safeguard) replaced the step: the gradients are its replacement */
  replaced: boolean;
}

/**
 * Runs `update`, the single readback, `veto` and `observe` inside one tidy scope. Returns the
 * transformed list (empty when vetoed; it may alias input tensors) and the plan. Nothing outside
 * is changed, so an error (a 'throw' guard) leaves everything as it was.
 */
export function runStep(
  transform: GradientTransform,
  list: NamedGradient[],
  state: PluginState,
  params: Params,
  iteration: number,
  reportNorm: NormType = 2,
): { grads: NamedGradient[]; plan: StepPlan } {
  let plan: StepPlan | undefined;
  const grads = tf.tidy(() => {
    const ctx = stepContext(iteration);
    const r = transform.update(list, state, params, ctx);
    const { norm, values } = readBack(ctx.globalNorm(list, reportNorm), r.reads ?? {});
    if (r.replace?.when(values)) {
      // The replacement is the step: no veto, no rescale, the bypassed transforms do not observe.
      const replacement = r.replace.grads();
      const observed = transform.observe?.(r.state, values, { skipped: false, replaced: true });
      plan = { norm, state: observed?.state ?? r.state, clipped: false, skipReason: null, replaced: true };
      return replacement as unknown as tf.TensorContainer;
    }
    const skipReason = transform.veto?.(r.state, values, list) ?? null;
    const observed = transform.observe?.(r.state, values, { skipped: skipReason != null });
    plan = {
      norm,
      state: observed?.state ?? r.state,
      clipped: observed?.clipped === true,
      skipReason,
      replaced: false,
    };
    if (skipReason != null) return [];
    // A deferred global factor (see TransformResult.rescale): nothing to do when it is 1.
    const factor = r.rescale ? r.rescale(values) : 1;
    const out =
      factor === 1
        ? r.grads
        : r.grads.map((g) => (g.tensor == null ? g : { name: g.name, tensor: tf.mul(g.tensor, factor) }));
    return out as unknown as tf.TensorContainer;
  }) as unknown as NamedGradient[];
  return { grads, plan: plan! };
}

/** What `transformGradients` returns. */
export interface TransformedGradients<G> {
  /** The transformed gradients in the input's form, or null when the step was vetoed. Yours to dispose. */
  grads: G | null;
  /** The transform's new state: pass it to the next call. */
  state: PluginState;
  /** Pre-transform global L2 norm. */
  norm: number;
  clipped: boolean;
  skipReason: string | null;
  /** whether the safeguard (or another replacing transform) replaced the step */
  replaced: boolean;
}

/**
 * Runs a transform (or chain) on gradients outside any optimizer, for a custom training loop.
 * Pass `state` from the previous call (omit it the first time). Returned tensors are always new
 * (unchanged ones are cheap clones), so dispose all of them; the input is left alone.
 */
export function transformGradients<G extends Exclude<Gradients, Array<tf.Tensor | null | undefined>>>(
  transform: GradientTransform,
  grads: G,
  state?: PluginState,
): TransformedGradients<G> {
  const list = toNamedList(grads, 'transformGradients');
  presentTensors(list, 'transformGradients');
  const params = tf.engine().registeredVariables as Params;
  const start = state === undefined ? transform.init(paramInfos(list, params)) : state;
  const inputs = new Set(list.map((g) => g.tensor));
  const { grads: out, plan } = runStep(transform, list, start, params, 0);
  const owned = out.map((g) =>
    g.tensor != null && inputs.has(g.tensor) ? { name: g.name, tensor: tf.clone(g.tensor) } : g,
  );
  return {
    grads: plan.skipReason == null ? (fromNamedList(owned, Array.isArray(grads)) as G) : null,
    state: plan.state,
    norm: plan.norm,
    clipped: plan.clipped && plan.skipReason == null,
    skipReason: plan.skipReason,
    replaced: plan.replaced,
  };
}

/** What a device-mode step decided, as tensors the caller owns (see `runDeviceStep`). */
export interface DeviceStepPlan {
  /** Pre-transform global L2 norm. */
  norm: tf.Scalar;
  /** false where the step must be undone; absent when nothing in the chain can veto */
  keep?: tf.Scalar;
  /** whether a transform clipped, the step being applied (bool) */
  clipped: tf.Scalar;
  /** whether the safeguard's replacement is the step (bool) */
  replaced: tf.Scalar;
  /** The transform's state after the step (device-capable transforms keep it as it was). */
  state: PluginState;
}

/**
 * Device mode: runs `update` with no readback and no veto/observe; every decision stays a tensor.
 * Returns the transformed list (it may alias input tensors) and the plan's tensors, all kept
 * outside the tidy scope: the caller disposes them.
 */
export function runDeviceStep(
  transform: GradientTransform,
  list: NamedGradient[],
  state: PluginState,
  params: Params,
  iteration: number,
  reportNorm: NormType = 2,
): { grads: NamedGradient[]; plan: DeviceStepPlan } {
  let planState: PluginState = state;
  const out = tf.tidy(() => {
    const ctx = stepContext(iteration, true);
    const r = transform.update(list, state, params, ctx);
    planState = r.state;
    const no = tf.scalar(false, 'bool');
    const applied = r.keep ?? tf.scalar(true, 'bool');
    return {
      grads: r.grads,
      // a clone: the norm may be one the caller took of the same tensors (knownNorm) and still uses
      norm: tf.clone(ctx.globalNorm(list, reportNorm)),
      ...(r.keep ? { keep: r.keep } : {}),
      clipped: tf.logicalAnd(r.clipped ?? no, applied),
      replaced: r.replaced ?? no,
    } as unknown as tf.TensorContainer;
  }) as unknown as {
    grads: NamedGradient[];
    norm: tf.Scalar;
    keep?: tf.Scalar;
    clipped: tf.Scalar;
    replaced: tf.Scalar;
  };
  const { grads, ...tensors } = out;
  return { grads, plan: { ...tensors, state: planState } };
}
