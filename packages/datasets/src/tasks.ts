/**
 * The paper's synthetic pathological tasks (Hochreiter & Schmidhuber 1997), generated as the
 * authors' code generates them (paper section 5; repository pascanur/trainingRNNs). Layout is
 * batch-major: inputs [batch, time, features], where the authors' code is time-major.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Random, type RandomState } from './random.js';

export type TaskName =
  | 'temporal-order'
  | 'temporal-order-3bit'
  | 'addition'
  | 'multiplication'
  | 'random-permutation'
  | 'memorization';

export const TASK_NAMES: readonly TaskName[] = [
  'temporal-order',
  'temporal-order-3bit',
  'addition',
  'multiplication',
  'random-permutation',
  'memorization',
];

/** The output head a model needs for the task (same names as @cliffguard/rnn's heads). */
export type TaskHead = 'last-softmax' | 'softmax' | 'last-linear';
export type TaskLoss = 'cross-entropy' | 'squared-error';

export interface TaskOptions {
  /** PRNG seed (default 52, the authors' default) */
  seed?: number;
  /** shortest sampled length L (default 50) */
  minLength?: number;
  /** lengths are drawn from [minLength, maxLength); equal to minLength means fixed L (default 200) */
  maxLength?: number;
  /** memorization: number of distinct pattern values (default 5; 2 for the 5-bit variant) */
  nValues?: number;
  /** memorization: pattern length (default 10; 5 for the 5-bit variant) */
  nPos?: number;
}

/** One minibatch as typed arrays (row-major), for use without tfjs. */
export interface BatchArrays {
  /** the sampled length L (the time axis is longer for addition/multiplication and memorization) */
  length: number;
  /** float32 one-hot or real inputs, shape inputShape */
  inputs: Float32Array;
  inputShape: [number, number, number];
  /** int32 classes ([B] or [B, T]) or float32 regression targets ([B, 1]) */
  targets: Int32Array | Float32Array;
  targetShape: [number] | [number, number];
}

export interface TaskBatch {
  /** float32 [batch, time, features] */
  inputs: tf.Tensor3D;
  /** int32 [batch] (last step scored), int32 [batch, time] (every step), or float32 [batch, 1] */
  targets: tf.Tensor;
}

/** Everything needed to resume the task's stream exactly (plain data). */
export interface TaskState {
  task: TaskName;
  random: RandomState;
}

interface TaskRule {
  inputSize: number;
  outputSize: number;
  head: TaskHead;
  loss: TaskLoss;
  /** smallest L the rule accepts (⌊0.1L⌋ must be at least 1 where positions use it) */
  minimumLength: number;
  generate(rng: Random, batchSize: number, length: number): BatchArrays;
}

export class SyntheticTask {
  readonly name: TaskName;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly head: TaskHead;
  readonly loss: TaskLoss;
  readonly minLength: number;
  readonly maxLength: number;
  readonly seed: number;
  /** memorization only: the pattern's value count and length */
  readonly nValues?: number;
  readonly nPos?: number;
  private readonly rule: TaskRule;
  private readonly rng: Random;
  private readonly options: TaskOptions;

  constructor(name: TaskName, options: TaskOptions = {}) {
    this.rule = makeRule(name, options);
    this.name = name;
    this.options = { ...options };
    this.seed = options.seed ?? 52;
    this.minLength = options.minLength ?? 50;
    this.maxLength = options.maxLength ?? 200;
    checkLengths(name, this.minLength, this.maxLength, this.rule.minimumLength);
    this.inputSize = this.rule.inputSize;
    this.outputSize = this.rule.outputSize;
    this.head = this.rule.head;
    this.loss = this.rule.loss;
    if (name === 'memorization') {
      this.nValues = options.nValues ?? 5;
      this.nPos = options.nPos ?? 10;
    }
    this.rng = new Random(this.seed);
  }

  /** One length per minibatch: L = minLength + randint(maxLength − minLength) (paper section 5). */
  sampleLength(): number {
    if (this.maxLength <= this.minLength) return this.minLength;
    return this.minLength + this.rng.randint(this.maxLength - this.minLength);
  }

  /** A training minibatch at a freshly sampled length, as typed arrays. */
  nextBatchArrays(batchSize: number): BatchArrays {
    checkBatchSize(batchSize);
    return this.rule.generate(this.rng, batchSize, this.sampleLength());
  }

  /** A minibatch at a given length L (for evaluating at fixed lengths), as typed arrays. */
  generateArrays(batchSize: number, length: number): BatchArrays {
    checkBatchSize(batchSize);
    checkLengths(this.name, length, length, this.rule.minimumLength);
    return this.rule.generate(this.rng, batchSize, length);
  }

  /** A training minibatch at a freshly sampled length, as tensors (caller disposes). */
  nextBatch(batchSize: number): TaskBatch {
    return toTensors(this.nextBatchArrays(batchSize));
  }

  /** A minibatch at a given length L, as tensors (caller disposes). */
  generate(batchSize: number, length: number): TaskBatch {
    return toTensors(this.generateArrays(batchSize, length));
  }

  getState(): TaskState {
    return { task: this.name, random: this.rng.getState() };
  }

  setState(state: TaskState): void {
    if (state?.task !== this.name) {
      throw new Error(`task state is for '${state?.task}', this task is '${this.name}'`);
    }
    this.rng.setState(state.random);
  }

  /** A new task with the same definition and another seed (an independent stream). */
  withSeed(seed: number): SyntheticTask {
    return new SyntheticTask(this.name, { ...this.options, seed });
  }
}

/** Creates one of the paper's synthetic tasks. */
export function createTask(name: TaskName, options: TaskOptions = {}): SyntheticTask {
  return new SyntheticTask(name, options);
}

/** Builds tensors from a batch's typed arrays (copies; the arrays stay usable). */
export function toTensors(batch: BatchArrays): TaskBatch {
  const inputs = tf.tensor3d(batch.inputs, batch.inputShape, 'float32');
  const dtype = batch.targets instanceof Int32Array ? 'int32' : 'float32';
  const targets = tf.tensor(batch.targets, batch.targetShape, dtype);
  return { inputs, targets };
}

function makeRule(name: TaskName, options: TaskOptions): TaskRule {
  switch (name) {
    case 'temporal-order':
      return temporalOrderRule([0.1, 0.5]);
    case 'temporal-order-3bit':
      return temporalOrderRule([0.1, 0.3, 0.6]);
    case 'addition':
      return additionRule('addition');
    case 'multiplication':
      return additionRule('multiplication');
    case 'random-permutation':
      return permutationRule();
    case 'memorization':
      return memorizationRule(options.nValues ?? 5, options.nPos ?? 10);
    default:
      throw new Error(`unknown task '${name}'; expected one of ${TASK_NAMES.join(', ')}`);
  }
}

/**
 * Temporal order: distractors 2 + randint(4) everywhere; at p_i = ⌊s_i L⌋ + randint(⌊0.1L⌋)
 * the symbol v_i = randint(2); class = Σ v_i 2^i (4 classes for 2 bits, 8 for 3).
 */
function temporalOrderRule(starts: number[]): TaskRule {
  const bits = starts.length;
  return {
    inputSize: 6,
    outputSize: 2 ** bits,
    head: 'last-softmax',
    loss: 'cross-entropy',
    minimumLength: 10,
    generate(rng, batchSize, length) {
      const inputs = new Float32Array(batchSize * length * 6);
      const targets = new Int32Array(batchSize);
      const width = Math.floor(length * 0.1);
      const positions = new Int32Array(bits);
      const values = new Int32Array(bits);
      for (let b = 0; b < batchSize; b++) {
        let cls = 0;
        for (let i = 0; i < bits; i++) {
          positions[i] = Math.floor(length * starts[i]) + rng.randint(width);
          values[i] = rng.randint(2);
          cls += values[i] << i;
        }
        targets[b] = cls;
        const row = b * length * 6;
        for (let t = 0; t < length; t++) inputs[row + t * 6 + 2 + rng.randint(4)] = 1;
        for (let i = 0; i < bits; i++) {
          const at = row + positions[i] * 6;
          inputs.fill(0, at, at + 6);
          inputs[at + values[i]] = 1;
        }
      }
      return { length, inputs, inputShape: [batchSize, length, 6], targets, targetShape: [batchSize] };
    },
  };
}

/**
 * Addition / multiplication: L' = L + randint(⌊0.1L⌋) steps; channel 1 ~ U[0,1); channel 0 marks
 * p0 = randint(⌊0.1L'⌋) and p1 = ⌊0.1L'⌋ + randint(⌊0.4L'⌋); target (x0 + x1)/2 or x0·x1 in float32.
 */
function additionRule(kind: 'addition' | 'multiplication'): TaskRule {
  return {
    inputSize: 2,
    outputSize: 1,
    head: 'last-linear',
    loss: 'squared-error',
    minimumLength: 10,
    generate(rng, batchSize, length) {
      const steps = length + rng.randint(Math.floor(length * 0.1));
      const inputs = new Float32Array(batchSize * steps * 2);
      const targets = new Float32Array(batchSize);
      const first = Math.floor(steps * 0.1);
      const second = Math.floor(steps * 0.4);
      for (let b = 0; b < batchSize; b++) {
        const row = b * steps * 2;
        for (let t = 0; t < steps; t++) inputs[row + t * 2 + 1] = rng.uniform();
        const p0 = rng.randint(first);
        const p1 = first + rng.randint(second);
        inputs[row + p0 * 2] = 1;
        inputs[row + p1 * 2] = 1;
        const x0 = inputs[row + p0 * 2 + 1];
        const x1 = inputs[row + p1 * 2 + 1];
        targets[b] = kind === 'addition' ? Math.fround(x0 + x1) / 2 : x0 * x1;
      }
      return { length, inputs, inputShape: [batchSize, steps, 2], targets, targetShape: [batchSize, 1] };
    },
  };
}

/** Random permutation: s_0 = v = randint(2), s_t = 2 + randint(98); one-hot of 100; target v. */
function permutationRule(): TaskRule {
  return {
    inputSize: 100,
    outputSize: 100,
    head: 'last-softmax',
    loss: 'cross-entropy',
    minimumLength: 1,
    generate(rng, batchSize, length) {
      const inputs = new Float32Array(batchSize * length * 100);
      const targets = new Int32Array(batchSize);
      for (let b = 0; b < batchSize; b++) {
        const row = b * length * 100;
        const v = rng.randint(2);
        targets[b] = v;
        inputs[row + v] = 1;
        for (let t = 1; t < length; t++) inputs[row + t * 100 + 2 + rng.randint(98)] = 1;
      }
      return { length, inputs, inputShape: [batchSize, length, 100], targets, targetShape: [batchSize] };
    },
  };
}

/**
 * Noiseless memorisation, total length L + 2·nPos: the pattern (one-hot over nValues) in the first
 * nPos steps, then "blank" (channel nValues) except "go" (channel nValues + 1) at t = L + nPos.
 * Targets: class nValues ("blank") before t = L + nPos, then the pattern in order.
 */
function memorizationRule(nValues: number, nPos: number): TaskRule {
  if (!Number.isInteger(nValues) || nValues < 2) {
    throw new Error(`memorization nValues must be an integer >= 2, got ${nValues}`);
  }
  if (!Number.isInteger(nPos) || nPos < 1) {
    throw new Error(`memorization nPos must be an integer >= 1, got ${nPos}`);
  }
  const features = nValues + 2;
  const blank = nValues;
  const go = nValues + 1;
  return {
    inputSize: features,
    outputSize: nValues + 1,
    head: 'softmax',
    loss: 'cross-entropy',
    minimumLength: 1,
    generate(rng, batchSize, length) {
      const steps = length + 2 * nPos;
      const goAt = length + nPos;
      const inputs = new Float32Array(batchSize * steps * features);
      const targets = new Int32Array(batchSize * steps).fill(blank);
      for (let b = 0; b < batchSize; b++) {
        const row = b * steps;
        for (let k = 0; k < nPos; k++) {
          const value = rng.randint(nValues);
          inputs[(row + k) * features + value] = 1;
          targets[row + goAt + k] = value;
        }
        for (let t = nPos; t < steps; t++) inputs[(row + t) * features + (t === goAt ? go : blank)] = 1;
      }
      return {
        length,
        inputs,
        inputShape: [batchSize, steps, features],
        targets,
        targetShape: [batchSize, steps],
      };
    },
  };
}

function checkLengths(name: TaskName, minLength: number, maxLength: number, minimum: number): void {
  if (!Number.isInteger(minLength) || minLength < minimum) {
    throw new Error(`${name}: minLength must be an integer >= ${minimum}, got ${minLength}`);
  }
  if (!Number.isInteger(maxLength) || maxLength < minLength) {
    throw new Error(`${name}: maxLength must be an integer >= minLength (${minLength}), got ${maxLength}`);
  }
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
}
