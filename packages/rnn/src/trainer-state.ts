/** A trainer's checkpoint pieces: optimizer state as plain data, and the checks before a restore. */
import { ChainedOptimizer } from '@cliffguard/clip';
import * as tf from '@tensorflow/tfjs-core';
import type { RunOptimizerState, TrainerState } from './trainer-types.js';

export const STATE_VERSION = 1;

/** Not `instanceof`: tf.Optimizer's duck-typed check makes every optimizer pass it. */
function isChained(opt: tf.Optimizer): opt is ChainedOptimizer {
  return Object.prototype.isPrototypeOf.call(ChainedOptimizer.prototype, opt);
}

export async function optimizerState(opt: tf.Optimizer): Promise<RunOptimizerState> {
  const inner = isChained(opt) ? opt.inner : opt;
  const weights = await inner.getWeights();
  const slots = await Promise.all(
    weights.map(async (w) => ({
      name: w.name,
      shape: [...w.tensor.shape],
      values: Array.from(await w.tensor.data()),
    })),
  );
  // getWeights hands out a fresh iteration scalar (built-in optimizers); the slots are variables
  tf.dispose(weights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  return { chain: isChained(opt) ? opt.getState() : null, inner: slots };
}

export async function setOptimizerState(opt: tf.Optimizer, s: RunOptimizerState): Promise<void> {
  const weights = s.inner.map((w) => ({ name: w.name, tensor: tf.tensor(w.values, w.shape) }));
  try {
    await (isChained(opt) ? opt.inner : opt).setWeights(weights);
  } finally {
    tf.dispose(weights.map((w) => w.tensor));
  }
  if (isChained(opt) && s.chain) opt.setState(s.chain);
}

export function assertRun(r: number, size: number, who: string): void {
  if (!(Number.isInteger(r) && r >= 0 && r < size)) {
    throw new RangeError(`${who}: run index must be an integer in [0, ${size - 1}], got ${String(r)}`);
  }
}

export function checkStateHead(state: TrainerState, size: number): void {
  if (state == null || state.version !== STATE_VERSION) {
    throw new RangeError(
      `setState: expected a state of version ${STATE_VERSION} from getState(), got version ${String(state?.version)}`,
    );
  }
  if (state.runs !== size || !Array.isArray(state.weights) || state.weights.length !== size) {
    throw new RangeError(`setState: the state has ${String(state.runs)} runs; this trainer has ${size}`);
  }
  if (!(Number.isInteger(state.iterations) && state.iterations >= 0)) {
    throw new RangeError(`setState: iterations must be an integer ≥ 0, got ${String(state.iterations)}`);
  }
  if (state.optimizers != null && state.optimizers.length !== size) {
    throw new RangeError(`setState: ${state.optimizers.length} optimizer states for ${size} runs`);
  }
}

/** The 'model' engine: one model and one optimizer (owned when made from a method). */
