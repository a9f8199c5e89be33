import * as tf from '@tensorflow/tfjs-core';
import { scaleGradients } from './clipping.js';
import { assertPositiveFinite, clipScale, clipScaleValue } from './global-norm.js';
import type { GradientTransform, ReadValues } from './transform.js';

/** Throws unless `value` is a positive integer (or Infinity when allowed). */
function assertWindow(value: unknown, what: string, allowInfinity: boolean): asserts value is number {
  const ok =
    typeof value === 'number' &&
    value > 0 &&
    (Number.isInteger(value) || (allowInfinity && value === Number.POSITIVE_INFINITY));
  if (!ok) {
    const expected = allowInfinity ? 'a positive integer or Infinity' : 'a positive integer';
    throw new RangeError(`${what} must be ${expected}, got ${String(value)}`);
  }
}

/** Appends a finite norm to a history, keeping the last `window` entries (a new array). */
function pushWindow(history: number[], norm: number, window: number): number[] {
  const next = history.concat(norm);
  return next.length > window ? next.slice(next.length - window) : next;
}

export interface HistoryState {
  [key: string]: number[];
  /** Pre-clip global norms of past applied steps, oldest first (finite values only). */
  history: number[];
}

// ---------------------------------------------------------------------------------------------
// The paper's heuristic: a multiple of the average norm

export interface AverageNormClipOptions {
  /** Threshold = factor × the average norm (paper: half to ten times the average still converges). Default 1. */
  factor?: number;
  /** How many past updates the average runs over. Default 100. */
  window?: number;
  /** Updates to observe before the average is trusted. Default min(10, window). */
  warmup?: number;
  /** Fixed threshold used during warmup; without it, warmup steps are not clipped. */
  initialMaxNorm?: number;
}

/**
 * Clip by global norm at `factor` times the average norm of the last `window` applied updates
 * (paper, Sec. 3.2: "look at statistics on the average norm over a sufficiently large number of
 * updates"). The threshold uses past steps only; the current norm joins the history afterwards.
 */
export function averageNormClip(options: AverageNormClipOptions = {}): GradientTransform<HistoryState> {
  const factor = options.factor ?? 1;
  const window = options.window ?? 100;
  assertPositiveFinite(factor, 'averageNormClip: factor');
  assertWindow(window, 'averageNormClip: window', false);
  const warmup = options.warmup ?? Math.min(10, window);
  assertWindow(warmup, 'averageNormClip: warmup', false);
  if (warmup > window)
    throw new RangeError(`averageNormClip: warmup (${warmup}) must not exceed window (${window})`);
  const initialMaxNorm = options.initialMaxNorm;
  if (initialMaxNorm !== undefined) assertPositiveFinite(initialMaxNorm, 'averageNormClip: initialMaxNorm');

  const threshold = (state: HistoryState): number | null => {
    const h = state.history;
    if (h.length < warmup) return initialMaxNorm ?? null;
    let sum = 0;
    for (const x of h) sum += x;
    // A history of zero norms gives threshold 0: every later step is scaled to zero, never 0/0.
    return (factor * sum) / h.length;
  };

  return {
    name: 'averageNormClip',
    role: 'globalClip',
    init: () => ({ history: [] }),
    update(grads, state, _params, ctx) {
      const norm = ctx.globalNorm(grads);
      const t = threshold(state);
      if (t == null) return { grads, state, reads: { norm } };
      if (ctx.deferrable) return { grads, state, reads: { norm }, rescale: (r) => clipScaleValue(r.norm, t) };
      return { grads: scaleGradients(grads, clipScale(norm, t)), state, reads: { norm } };
    },
    observe(state, reads, outcome) {
      const t = threshold(state);
      const clipped = t != null && reads.norm > t;
      if (outcome.skipped || !Number.isFinite(reads.norm)) return { state, clipped: false };
      return { state: { history: pushWindow(state.history, reads.norm, window) }, clipped };
    },
    getConfig: () => ({ factor, window, warmup, initialMaxNorm: initialMaxNorm ?? null }),
  };
}

// ---------------------------------------------------------------------------------------------
// AutoClip (Seetharaman et al. 2020): clip at the p-th percentile of the norm history

/** Index bounds of the k-th smallest (0-based) value of sorted h ∪ {x}: it is clamp(x, h[k-1], h[k]). */
function orderBounds(sorted: readonly number[], k: number): [number, number] {
  return [
    k > 0 ? sorted[k - 1] : Number.NEGATIVE_INFINITY,
    k < sorted.length ? sorted[k] : Number.POSITIVE_INFINITY,
  ];
}

/**
 * The p-th percentile (linear interpolation, numpy's default) of sorted `history` plus the
 * current norm x, written once over an arithmetic so the same formula runs on numbers (to
 * report) and on a scalar tensor (to clip without reading x back first).
 */
function percentileWithCurrent<T>(
  sorted: readonly number[],
  x: T,
  p: number,
  ops: { clamp: (x: T, lo: number, hi: number) => T; lerp: (a: T, b: T, frac: number) => T },
): T {
  const pos = (sorted.length * p) / 100; // (m - 1) · p/100 with m = n + 1 values
  const k = Math.floor(pos);
  const frac = pos - k;
  const at = (i: number) => ops.clamp(x, ...orderBounds(sorted, i));
  return frac === 0 ? at(k) : ops.lerp(at(k), at(k + 1), frac);
}

const numberOps = {
  clamp: (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi),
  lerp: (a: number, b: number, frac: number) => a + frac * (b - a),
};

const tensorOps = {
  clamp(x: tf.Scalar, lo: number, hi: number): tf.Scalar {
    let y = x;
    if (lo !== Number.NEGATIVE_INFINITY) y = tf.maximum(y, lo);
    if (hi !== Number.POSITIVE_INFINITY) y = tf.minimum(y, hi);
    return y;
  },
  lerp: (a: tf.Scalar, b: tf.Scalar, frac: number): tf.Scalar => tf.add(a, tf.mul(tf.sub(b, a), frac)),
};

/** Sorted copies of histories, derived data kept beside the (plain, arrival-order) state. */
const sortedCache = new WeakMap<number[], number[]>();

function sortedHistory(history: number[]): number[] {
  let sorted = sortedCache.get(history);
  if (!sorted) {
    sorted = [...history].sort((a, b) => a - b);
    sortedCache.set(history, sorted);
  }
  return sorted;
}

/** Inserts `x` into a sorted array and removes one occurrence of `evicted` (a new array). */
function updateSorted(sorted: number[], x: number, evicted: number | undefined): number[] {
  const next = [...sorted];
  if (evicted !== undefined) next.splice(lowerBound(next, evicted), 1);
  next.splice(lowerBound(next, x), 0, x);
  return next;
}

function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface AutoClipOptions {
  /** Clip at this percentile of all norms seen, in (0, 100]. Default 10 (the AutoClip paper's choice). */
  percentile?: number;
  /**
   * How many past norms to keep. AutoClip keeps them all (`Infinity`); the default, 10000,
   * bounds the saved state and the per-step cost.
   */
  window?: number;
}

/**
 * AutoClip (Seetharaman et al. 2020): the current norm joins the history, then the gradient is
 * clipped by global norm at the p-th percentile of the history. The percentile including the
 * current norm is computed on the scalar tensor, so it needs no extra readback.
 */
export function autoClip(options: AutoClipOptions = {}): GradientTransform<HistoryState> {
  const percentile = options.percentile ?? 10;
  if (typeof percentile !== 'number' || !(percentile > 0 && percentile <= 100)) {
    throw new RangeError(`autoClip: percentile must be in (0, 100], got ${String(percentile)}`);
  }
  const window = options.window ?? 10_000;
  assertWindow(window, 'autoClip: window', true);

  return {
    name: 'autoClip',
    role: 'globalClip',
    init: () => ({ history: [] }),
    update(grads, state, _params, ctx) {
      const norm = ctx.globalNorm(grads);
      const sorted = sortedHistory(state.history);
      if (ctx.deferrable) {
        const rescale = (r: ReadValues) =>
          clipScaleValue(r.norm, percentileWithCurrent(sorted, r.norm, percentile, numberOps));
        return { grads, state, reads: { norm }, rescale };
      }
      const threshold = percentileWithCurrent(sorted, norm, percentile, tensorOps);
      return { grads: scaleGradients(grads, clipScale(norm, threshold)), state, reads: { norm } };
    },
    observe(state, reads, outcome) {
      const x = reads.norm;
      if (outcome.skipped || !Number.isFinite(x)) return { state, clipped: false };
      const sorted = sortedHistory(state.history);
      const clipped = x > percentileWithCurrent(sorted, x, percentile, numberOps);
      const history = pushWindow(state.history, x, window);
      const evicted = history.length === state.history.length ? state.history[0] : undefined;
      sortedCache.set(history, updateSorted(sorted, x, evicted));
      return { state: { history }, clipped };
    },
    // JSON has no Infinity: an unbounded window is saved as null.
    getConfig: () => ({ percentile, window: Number.isFinite(window) ? window : null }),
  };
}

// ---------------------------------------------------------------------------------------------
// Adaptive gradient clipping (AGC, Brock et al. 2021): unit-wise against the parameter norm

/** Unit-wise L2 norm: over every axis but the last (one output unit), the whole tensor for rank <= 1. */
function unitwiseNorm(x: tf.Tensor): tf.Tensor {
  if (x.rank <= 1) return tf.norm(x);
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  return tf.sqrt(tf.sum(tf.square(x), axes, true));
}

export interface AgcOptions {
  /** λ: a unit's gradient norm may be at most λ × its weight norm. Default 0.01. */
  clipping?: number;
  /** Floor of the weight norm, so zero-initialised units still move. Default 1e-3. */
  eps?: number;
  /** Variable names left unclipped (the paper leaves the final classifier layer out). */
  exclude?: string[];
}

// tfjs rewrites snake_case string values in a saved training config (`convertPythonicToTs`),
// and variable names hold underscores: keep them in the config as JSON with `_` escaped.
const encodeNames = (names: string[]) => JSON.stringify(names).replace(/_/g, '\\u005f');
const decodeNames = (text: string) => JSON.parse(text) as string[];

/**
 * AGC (Brock et al. 2021, NFNets): for each unit, if ‖G‖ > λ·max(‖W‖, eps), rescale G to
 * λ·max(‖W‖, eps). Needs the parameters, looked up by name in tfjs's variable registry.
 */
export function agc(options: AgcOptions = {}): GradientTransform<null> {
  const clipping = options.clipping ?? 0.01;
  const eps = options.eps ?? 1e-3;
  assertPositiveFinite(clipping, 'agc: clipping');
  assertPositiveFinite(eps, 'agc: eps');
  const exclude = options.exclude ?? [];
  if (!Array.isArray(exclude) || exclude.some((n) => typeof n !== 'string')) {
    throw new TypeError(`agc: exclude must be an array of variable names, got ${String(exclude)}`);
  }
  const excluded = new Set(exclude);

  return {
    name: 'agc',
    role: 'unitClip',
    runsOnDevice: true,
    init: () => null,
    update(grads, state, params, ctx) {
      const counts: tf.Scalar[] = [];
      const out = grads.map((g) => {
        if (g.tensor == null || excluded.has(g.name)) return g;
        const w = params[g.name];
        if (w == null) throw new Error(`agc: no variable named '${g.name}' to clip its gradient against`);
        const maxNorm = tf.mul(tf.maximum(unitwiseNorm(w), eps), clipping);
        const gNorm = unitwiseNorm(g.tensor);
        const trigger = tf.greater(gNorm, maxNorm);
        // 1 where the unit is within bounds, so those gradients pass bit for bit.
        const scale = tf.where(trigger, tf.div(maxNorm, tf.maximum(gNorm, 1e-6)), tf.onesLike(gNorm));
        counts.push(tf.sum(tf.cast(trigger, 'float32')));
        return { name: g.name, tensor: tf.mul(g.tensor, scale) };
      });
      const clippedUnits = counts.length === 0 ? undefined : (tf.addN(counts) as tf.Scalar);
      if (ctx.device)
        return {
          grads: out,
          state,
          ...(clippedUnits ? { clipped: tf.greater(clippedUnits, 0) as tf.Scalar } : {}),
        };
      return { grads: out, state, reads: clippedUnits ? { clippedUnits } : undefined };
    },
    observe: (state, reads) => ({ state, clipped: (reads.clippedUnits ?? 0) > 0 }),
    getConfig: () => ({ clipping, eps, exclude: encodeNames(exclude) }),
  };
}

/** Rebuilds AGC options from a saved config (the escaped `exclude` list). */
export function agcFromConfig(config: Record<string, unknown>): AgcOptions {
  const exclude =
    typeof config.exclude === 'string' ? decodeNames(config.exclude) : (config.exclude as string[]);
  return { clipping: config.clipping as number, eps: config.eps as number, exclude };
}
