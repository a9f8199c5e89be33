import * as tf from '@tensorflow/tfjs-core';
import { type NormType, selectWhole } from './global-norm.js';
import type { NamedGradient } from './gradients.js';

/** Plugin state: plain data only (JSON), so it can be saved with the model and restored. */
export type PluginState = null | boolean | number | string | PluginState[] | { [key: string]: PluginState };

/** What `init` learns about each trainable parameter. */
export interface ParamInfo {
  name: string;
  shape: number[];
}

/** The model's variables by name (tfjs's own registry), for transforms that look at weights (AGC). */
export type Params = Readonly<Record<string, tf.Variable>>;

/** Shared services for one optimizer step; every tensor made in a step is freed after it. */
export interface StepContext {
  /** The inner optimizer's iteration count before this step. */
  readonly iteration: number;
  /**
   * True when nothing after this transform looks at its output before the readback (it is the
   * last of the chain): it may then return its input with a `rescale` instead of multiplying.
   */
  readonly deferrable: boolean;
  /**
   * True in device mode (the default on GPU backends): nothing is read back, so `veto` and
   * `observe` do not run; a transform that declared `runsOnDevice` returns its decisions as
   * tensors instead (`keep`, `clipped`, `replace.fires`).
   */
  readonly device: boolean;
  /**
   * The global norm of a gradient list, computed once per list object and norm type, so a
   * guard and a clip that see the same list share one norm. Owned by the step: do not dispose.
   */
  globalNorm(grads: NamedGradient[], normType?: NormType): tf.Scalar;
}

/** What `update` returns: the new gradients, the new state, and scalars to read back. */
export interface TransformResult<S> {
  grads: NamedGradient[];
  state: S;
  /**
   * Scalars the transform wants as numbers after the step. All transforms' reads are read back
   * together in ONE transfer per step, then handed to `veto` and `observe`.
   */
  reads?: Record<string, tf.Scalar>;
  /**
   * Only when `ctx.deferrable`: one factor for all output gradients, computed from the read
   * numbers after the readback and applied only when it is not 1. A global-norm clip uses it
   * so that an unclipped step costs no multiplications at all.
   */
  rescale?: (reads: ReadValues) => number;
  /**
   * A replacement of the whole step (the authors' safeguard): when `when(reads)` is true after the
   * readback, `grads()` (made then, inside the step's scope) is the step, no veto applies, and the
   * transforms after this one are bypassed (they neither veto nor observe).
   */
  replace?: StepReplacement;
  /** Device mode: a bool scalar, false when the step must not be applied (it is undone on the device). */
  keep?: tf.Scalar;
  /** Device mode: a bool scalar, true when this transform rescaled or clamped the gradients. */
  clipped?: tf.Scalar;
  /** Device mode: a bool scalar, true when a replacement (the safeguard) is the step. */
  replaced?: tf.Scalar;
}

/** See {@link TransformResult.replace}. */
export interface StepReplacement {
  when(reads: ReadValues): boolean;
  grads(): NamedGradient[];
  /** Device mode: the same decision as a bool scalar (then `grads()` is made every step and selected). */
  fires?: tf.Scalar;
}

/** The numbers read back for one transform, by the keys it asked for. */
export type ReadValues = Readonly<Record<string, number>>;

/** How a step ended, as `observe` sees it. */
export interface StepOutcome {
  /** True when some transform vetoed the step: no weight and no optimizer slot changed. */
  skipped: boolean;
  /** True when a transform (the safeguard) replaced the step: see TransformResult.replace. */
  replaced?: boolean;
}

/**
 * What a transform does to the gradient, for spotting conflicting clips in one chain:
 * two transforms with the same role conflict, and so do 'globalClip' and 'tensorClip'
 * (as Keras refuses `clipnorm` together with `global_clipnorm`).
 */
export type TransformRole =
  | 'globalClip'
  | 'tensorClip'
  | 'valueClip'
  | 'unitClip'
  | 'nonFiniteGuard'
  | 'safeguard';

/**
 * One gradient transform (an optimizer plugin), shaped like optax's `init`/`update`:
 * explicit state in, explicit state out, no hidden fields. A step runs in three phases:
 * 1. `update` on tensors (no readback allowed: it would stall a GPU);
 * 2. one readback of every transform's `reads`; `veto` may then cancel the step;
 * 3. `observe` folds the numbers into the state (norm histories, counters).
 */
export interface GradientTransform<S extends PluginState = PluginState> {
  /** Registered name, used by `transformFromConfig` (camelCase: tfjs rewrites snake_case). */
  readonly name: string;
  readonly role?: TransformRole;
  /** The transforms inside a chain (for conflict checks); absent for a single transform. */
  readonly transforms?: readonly GradientTransform[];
  /**
   * True when the transform works without a readback (device mode): its `update` returns its
   * decisions as tensors when `ctx.device`, and nothing it needs is left to `veto`/`observe`.
   * Absent or false: the step reads back (host mode), on every backend.
   */
  readonly runsOnDevice?: boolean;
  init(params: ParamInfo[]): S;
  update(grads: NamedGradient[], state: S, params: Params, ctx: StepContext): TransformResult<S>;
  /** A reason to skip the whole step, or null. May throw (the step then changes nothing). */
  veto?(state: S, reads: ReadValues, grads: NamedGradient[]): string | null;
  observe?(state: S, reads: ReadValues, outcome: StepOutcome): { state: S; clipped?: boolean };
  /** Plain-data options that `transformFromConfig` rebuilds this transform from. */
  getConfig(): tf.serialization.ConfigDict;
}

/** A transform as plain data: `{ name, config }`. */
export interface TransformConfig {
  name: string;
  config: tf.serialization.ConfigDict;
}

export function transformToConfig(t: GradientTransform): TransformConfig {
  return { name: t.name, config: t.getConfig() };
}

/** Every leaf transform of a (possibly nested) chain, in order. */
export function flattenTransforms(t: GradientTransform): GradientTransform[] {
  return t.transforms ? t.transforms.flatMap(flattenTransforms) : [t];
}

const CONFLICTING_ROLES: ReadonlyArray<readonly [TransformRole, TransformRole]> = [
  ['globalClip', 'tensorClip'],
];

/** Throws when two transforms of one chain would clip the same thing twice. */
export function assertNoConflicts(transforms: readonly GradientTransform[]): void {
  const leaves = transforms.flatMap(flattenTransforms);
  for (let i = 0; i < leaves.length; i++) {
    for (let j = i + 1; j < leaves.length; j++) {
      const a = leaves[i].role;
      const b = leaves[j].role;
      if (a == null || b == null) continue;
      const clash =
        a === b || CONFLICTING_ROLES.some(([x, y]) => (a === x && b === y) || (a === y && b === x));
      if (clash) {
        throw new Error(
          `chain: transforms '${leaves[i].name}' (#${i}, ${a}) and '${leaves[j].name}' (#${j}, ${b}) conflict: ` +
            'each would set the gradient scale on its own; keep one of them',
        );
      }
    }
  }
}

function assertTransform(t: unknown, i: number): asserts t is GradientTransform {
  const ok =
    t != null &&
    typeof (t as GradientTransform).name === 'string' &&
    typeof (t as GradientTransform).init === 'function' &&
    typeof (t as GradientTransform).update === 'function' &&
    typeof (t as GradientTransform).getConfig === 'function';
  if (!ok) {
    throw new TypeError(
      `chain: argument #${i} is not a GradientTransform (name, init, update, getConfig), got ${String(t)}`,
    );
  }
}

function readsOf(all: ReadValues, i: number): ReadValues {
  const prefix = `${i}/`;
  const out: Record<string, number> = {};
  for (const key of Object.keys(all)) if (key.startsWith(prefix)) out[key.slice(prefix.length)] = all[key];
  return out;
}

/**
 * A chain keeps each member's input gradients between `update` and `veto` (the guard names the
 * variables it rejects), keyed by the state array `update` returned, which `veto` receives.
 */
interface ChainStepMemo {
  inputs: NamedGradient[][];
  /** the member that may replace the step (the first with a `replace`), or -1 */
  replacer: number;
}
const memos = new WeakMap<object, ChainStepMemo>();

/**
 * The chain's decisions in device mode, as tensors: the members' `keep` (all must hold) and
 * `clipped` (any), and a replacement (the safeguard) selected where it fires, which then bypasses
 * the members after it: kept, never clipped.
 */
function deviceDecisions(
  results: readonly TransformResult<PluginState>[],
  replacer: number,
): Pick<TransformResult<PluginState>, 'keep' | 'clipped' | 'replaced'> {
  const all = (flags: tf.Scalar[], op: 'and' | 'or') =>
    flags.length === 0
      ? undefined
      : (flags.reduce((a, b) => (op === 'and' ? tf.logicalAnd(a, b) : tf.logicalOr(a, b))) as tf.Scalar);
  const keep = all(
    results.flatMap((r) => (r.keep ? [r.keep] : [])),
    'and',
  );
  const clipped = all(
    results.flatMap((r) => (r.clipped ? [r.clipped] : [])),
    'or',
  );
  const fires = replacer >= 0 ? results[replacer].replace?.fires : undefined;
  if (!fires) return { keep, clipped };
  return {
    keep: keep ? (tf.logicalOr(fires, keep) as tf.Scalar) : undefined,
    clipped: clipped ? (tf.logicalAnd(tf.logicalNot(fires), clipped) as tf.Scalar) : undefined,
    replaced: fires,
  };
}

/**
 * Composes transforms left to right into one (optax's `chain`); its state is the list of the
 * members' states. Refuses conflicting clips (see `TransformRole`).
 */
export function chain(...transforms: GradientTransform[]): GradientTransform<PluginState[]> {
  transforms.forEach(assertTransform);
  assertNoConflicts(transforms);
  const self: GradientTransform<PluginState[]> = {
    name: 'chain',
    transforms,
    runsOnDevice: transforms.every((t) => t.runsOnDevice === true),
    init: (params) => transforms.map((t) => t.init(params)),
    update(grads, state, params, ctx) {
      const inputs: NamedGradient[][] = [];
      const states: PluginState[] = [];
      const results: TransformResult<PluginState>[] = [];
      const reads: Record<string, tf.Scalar> = {};
      let g = grads;
      let rescale: ((values: ReadValues) => number) | undefined;
      let replace: StepReplacement | undefined;
      let replacer = -1;
      const last = transforms.length - 1;
      transforms.forEach((t, i) => {
        inputs.push(g);
        const deferrable = ctx.deferrable && i === last;
        const r = t.update(g, state[i], params, deferrable === ctx.deferrable ? ctx : { ...ctx, deferrable });
        if (r.rescale && !deferrable) {
          throw new Error(
            `chain: transform '${t.name}' returned a rescale although ctx.deferrable was false`,
          );
        }
        g = r.grads;
        results.push(r);
        states.push(r.state);
        for (const [key, value] of Object.entries(r.reads ?? {})) reads[`${i}/${key}`] = value;
        if (r.rescale) {
          const own = r.rescale;
          rescale = (values) => own(readsOf(values, i));
        }
        if (r.replace && replacer < 0) {
          const own = r.replace;
          replacer = i;
          replace = { when: (values) => own.when(readsOf(values, i)), grads: own.grads };
        }
      });
      if (ctx.device) {
        const decided = deviceDecisions(results, replacer);
        const fires = decided.replaced;
        if (fires && replace) {
          // the replacement where it fires, the rest of the chain's output elsewhere
          const instead = replace.grads();
          g = g.map((x, j) =>
            x.tensor == null ? x : { name: x.name, tensor: selectWhole(fires, instead[j].tensor!, x.tensor) },
          );
        }
        return { grads: g, state: states, ...decided };
      }
      // The new state array is unique to this step: it keys the members' inputs for `veto`.
      memos.set(states, { inputs, replacer });
      return { grads: g, state: states, reads, rescale, ...(replace ? { replace } : {}) };
    },
    veto(state, reads) {
      const memo = memos.get(state);
      for (let i = 0; i < transforms.length; i++) {
        const reason = transforms[i].veto?.(state[i], readsOf(reads, i), memo?.inputs[i] ?? []);
        if (reason != null) return reason;
      }
      return null;
    },
    observe(state, reads, outcome) {
      let clipped = false;
      // A replaced step bypassed the members after the one that replaced it: they keep their state.
      const replacer = memos.get(state)?.replacer ?? -1;
      const bypassedFrom = outcome.replaced && replacer >= 0 ? replacer + 1 : transforms.length;
      const states = transforms.map((t, i) => {
        if (!t.observe || i >= bypassedFrom) return state[i];
        const r = t.observe(state[i], readsOf(reads, i), outcome);
        clipped ||= r.clipped === true;
        return r.state;
      });
      return { state: states, clipped };
    },
    getConfig: () => ({
      transforms: transforms.map((t) => transformToConfig(t) as unknown as tf.serialization.ConfigDict),
    }),
  };
  return self;
}
