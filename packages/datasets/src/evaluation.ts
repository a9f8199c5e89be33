/**
 * The paper's evaluation of the synthetic tasks (section 5): 10,000 fresh sequences in chunks of
 * 1,000, each chunk with its own length; a sequence is wrong when the argmax of the output differs
 * from the target class (memorisation: when any scored step differs), or, for regression, when the
 * squared error exceeds 0.04. Success is an error rate under 1%.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type BatchArrays, type SyntheticTask, toTensors } from './tasks.js';

/** The regression threshold of the authors' code: squared error > 0.04 is an error. */
export const REGRESSION_ERROR_THRESHOLD = 0.04;

export interface TaskErrorOptions {
  /**
   * memorization only: which steps decide whether a sequence is right. 'all' (default) is the
   * authors' code: every step, the blank targets included; 'pattern' scores the last nPos steps.
   */
  steps?: 'all' | 'pattern';
  /** per-step targets given as a bare array: the batch size (a BatchArrays carries its shape) */
  batchSize?: number;
}

export interface ErrorCount {
  /** sequences counted wrong */
  wrong: number;
  /** sequences scored */
  total: number;
  /** wrong / total */
  rate: number;
}

/** Targets as a bare typed array, or with their shape (a {@link BatchArrays} fits). */
export type TargetsLike = Int32Array | Float32Array | Pick<BatchArrays, 'targets' | 'targetShape'>;

/**
 * Counts wrong sequences. `predictions` are the model's outputs, row-major: [B, O] for the
 * last-step heads, [B, T, O] for memorisation, [B, 1] for regression (logits or probabilities:
 * only the argmax matters for classification; ties go to the lowest class, as numpy's argmax).
 * A NaN output always counts as wrong.
 */
export function taskError(
  task: Pick<SyntheticTask, 'name' | 'head' | 'outputSize' | 'nPos'>,
  predictions: ArrayLike<number>,
  targets: TargetsLike,
  options: TaskErrorOptions = {},
): ErrorCount {
  const data = 'targetShape' in targets ? targets.targets : targets;
  const outputs = task.outputSize;
  expectLength('predictions', predictions.length, data.length * outputs);
  if (task.head === 'last-linear') {
    let wrong = 0;
    for (let b = 0; b < data.length; b++) {
      const e = predictions[b] - data[b];
      // `!(x <= t)` also counts NaN as wrong (the code's `> .04` would count it right)
      if (!(e * e <= REGRESSION_ERROR_THRESHOLD)) wrong++;
    }
    return count(wrong, data.length);
  }
  if (task.head === 'last-softmax') {
    let wrong = 0;
    for (let b = 0; b < data.length; b++) {
      if (argmax(predictions, b * outputs, outputs) !== data[b]) wrong++;
    }
    return count(wrong, data.length);
  }
  // softmax at every step: a sequence is wrong if any scored step is wrong
  const batch = 'targetShape' in targets ? targets.targetShape[0] : options.batchSize;
  if (batch === undefined || !Number.isInteger(batch) || batch < 1 || data.length % batch !== 0) {
    throw new Error(
      `${task.name}: per-step targets need their batch size (pass { targets, targetShape } or options.batchSize); got ${batch} for ${data.length} targets`,
    );
  }
  const time = data.length / batch;
  const from = options.steps === 'pattern' ? time - (task.nPos ?? 0) : 0;
  let wrong = 0;
  for (let b = 0; b < batch; b++) {
    for (let t = from; t < time; t++) {
      const i = b * time + t;
      if (argmax(predictions, i * outputs, outputs) !== data[i]) {
        wrong++;
        break;
      }
    }
  }
  return count(wrong, batch);
}

/**
 * Counts wrong sequences of one batch given the model's output tensor (read asynchronously, so
 * it works on GPU backends too; not disposed).
 */
export async function taskErrorOfTensor(
  task: SyntheticTask,
  predictions: tf.Tensor,
  batch: BatchArrays,
  options: TaskErrorOptions = {},
): Promise<ErrorCount> {
  const [b, time] = batch.inputShape;
  const expected = task.head === 'softmax' ? [b, time, task.outputSize] : [b, task.outputSize];
  if (predictions.shape.join(',') !== expected.join(',')) {
    throw new Error(`predictions have shape [${predictions.shape}], expected [${expected}] for ${task.name}`);
  }
  return taskError(task, await predictions.data(), batch, options);
}

export interface EvalSetOptions {
  /** sequences in all (default 10,000) */
  size?: number;
  /** sequences per chunk, each chunk drawing its own length (default 1,000) */
  chunkSize?: number;
  /** seed of the evaluation stream (default: the task's seed + 1, independent of training) */
  seed?: number;
  /** a fixed L for every chunk (the paper's tests at 50, 100, ..., 5000) instead of sampled lengths */
  length?: number;
}

/** A reproducible evaluation set: iterating it regenerates the same chunks from its seed. */
export interface EvalSet {
  readonly size: number;
  readonly chunkSize: number;
  readonly seed: number;
  /** the chunks, generated lazily (10,000 long sequences do not fit in memory for every task) */
  chunks(): Generator<BatchArrays>;
  /**
   * Runs `predict` on every chunk (as tensors, disposed here, including what predict returns)
   * and counts wrong sequences.
   */
  evaluate(
    predict: (inputs: tf.Tensor3D) => tf.Tensor | Promise<tf.Tensor>,
    options?: TaskErrorOptions,
  ): Promise<ErrorCount>;
}

/** The paper's evaluation set: `size` fresh sequences in chunks of `chunkSize`, each its own length. */
export function buildEvalSet(task: SyntheticTask, options: EvalSetOptions = {}): EvalSet {
  const size = options.size ?? 10_000;
  const chunkSize = options.chunkSize ?? 1_000;
  const seed = options.seed ?? task.seed + 1;
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`eval set size must be a positive integer, got ${size}`);
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new Error(`eval set chunkSize must be a positive integer, got ${chunkSize}`);
  }
  if (options.length !== undefined) task.withSeed(seed).generateArrays(1, options.length); // validates L early
  function* chunks(): Generator<BatchArrays> {
    const stream = task.withSeed(seed);
    for (let done = 0; done < size; done += chunkSize) {
      const n = Math.min(chunkSize, size - done);
      yield options.length === undefined
        ? stream.nextBatchArrays(n)
        : stream.generateArrays(n, options.length);
    }
  }
  async function evaluate(
    predict: (inputs: tf.Tensor3D) => tf.Tensor | Promise<tf.Tensor>,
    errorOptions: TaskErrorOptions = {},
  ): Promise<ErrorCount> {
    let wrong = 0;
    let total = 0;
    for (const chunk of chunks()) {
      const { inputs, targets } = toTensors(chunk);
      targets.dispose();
      let output: tf.Tensor | undefined;
      try {
        output = await predict(inputs);
        const result = await taskErrorOfTensor(task, output, chunk, errorOptions);
        wrong += result.wrong;
        total += result.total;
      } finally {
        inputs.dispose();
        output?.dispose();
      }
    }
    return count(wrong, total);
  }
  return { size, chunkSize, seed, chunks, evaluate };
}

function argmax(values: ArrayLike<number>, offset: number, n: number): number {
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < n; k++) {
    const v = values[offset + k];
    if (Number.isNaN(v)) return -1; // NaN never matches a class
    if (v > bestValue) {
      bestValue = v;
      best = k;
    }
  }
  return best;
}

function expectLength(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what} has ${actual} values, expected ${expected}`);
}

function count(wrong: number, total: number): ErrorCount {
  return { wrong, total, rate: total === 0 ? 0 : wrong / total };
}
