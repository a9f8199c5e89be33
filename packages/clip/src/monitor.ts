import { checkNormType, type NormType } from './global-norm.js';
import type { GradientTransform } from './transform.js';

export interface NormMonitorOptions {
  /** How many recent norms to keep in the state. Default 100. */
  window?: number;
  /** 2 (default) or 'inf'. */
  normType?: NormType;
}

export interface NormMonitorState {
  [key: string]: number | number[];
  /** Steps seen. */
  steps: number;
  /** Steps whose norm was finite; `sum` and `max` run over those. */
  count: number;
  sum: number;
  max: number;
  /** The last `window` finite norms, oldest first. */
  recent: number[];
}

/** Count, mean and max of the norms a monitor saw. */
export function monitorSummary(state: NormMonitorState): {
  steps: number;
  count: number;
  mean: number;
  max: number;
} {
  return {
    steps: state.steps,
    count: state.count,
    mean: state.count > 0 ? state.sum / state.count : 0,
    max: state.max,
  };
}

/**
 * Records the global norm of the gradients at its place in a chain (before a clip: what the
 * model produced; after it: what the optimizer received) and passes them on unchanged.
 * The norm comes back with the step's single readback.
 */
export function normMonitor(options: NormMonitorOptions = {}): GradientTransform<NormMonitorState> {
  const window = options.window ?? 100;
  if (!Number.isInteger(window) || window < 0) {
    throw new RangeError(`normMonitor: window must be a non-negative integer, got ${String(window)}`);
  }
  const normType = checkNormType(options.normType ?? 2, 'normMonitor');
  return {
    name: 'normMonitor',
    init: () => ({ steps: 0, count: 0, sum: 0, max: 0, recent: [] }),
    update: (grads, state, _params, ctx) => ({
      grads,
      state,
      reads: { norm: ctx.globalNorm(grads, normType) },
    }),
    observe(state, reads) {
      const x = reads.norm;
      if (!Number.isFinite(x)) return { state: { ...state, steps: state.steps + 1 } };
      const recent = window === 0 ? [] : state.recent.concat(x).slice(-window);
      return {
        state: {
          steps: state.steps + 1,
          count: state.count + 1,
          sum: state.sum + x,
          max: Math.max(state.max, x),
          recent,
        },
      };
    },
    getConfig: () => ({ window, normType }),
  };
}
