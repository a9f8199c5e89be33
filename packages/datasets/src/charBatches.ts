/**
 * Batching a symbol stream for truncated BPTT: the stream is split into `batchSize` parallel
 * lanes, and segment s holds steps [s·T, (s+1)·T) of every lane, so the hidden state at the end of
 * segment s is the right initial state for segment s+1 (paper section 6: 200-step segments with
 * the state carried over). Targets are the symbol `ahead` steps later in the stream (1: next
 * character; 5: the 5th character ahead).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface CharBatchOptions {
  /** parallel lanes (the minibatch size) */
  batchSize: number;
  /** steps per segment (the truncation length T) */
  steps: number;
  /** how far ahead the target is: 1 = next character (default), 5 = the 5th character ahead */
  ahead?: number;
  /** vocabulary size, for one-hot inputs (default: 1 + the largest symbol in the stream) */
  vocabSize?: number;
  /** keep the shorter last segment (for evaluation, so every symbol is scored); default false */
  keepPartial?: boolean;
}

export interface CharSegmentArrays {
  /** int32 symbol indices, [batchSize, steps] row-major */
  symbols: Int32Array;
  /** int32 target symbols, [batchSize, steps] */
  targets: Int32Array;
  /** this segment's step count (T, or less for a kept partial last segment) */
  steps: number;
  batchSize: number;
}

export interface CharSegment {
  /** float32 one-hot [batchSize, steps, vocabSize] */
  inputs: tf.Tensor3D;
  /** int32 [batchSize, steps] */
  targets: tf.Tensor2D;
}

export class CharBatches {
  readonly batchSize: number;
  readonly steps: number;
  readonly ahead: number;
  readonly vocabSize: number;
  /** stream positions per lane that are inputs (each with its target `ahead` later) */
  readonly laneLength: number;
  /** segments per pass over the stream */
  readonly numSegments: number;
  private readonly stream: Int32Array;

  constructor(stream: Int32Array, options: CharBatchOptions) {
    const { batchSize, steps } = options;
    const ahead = options.ahead ?? 1;
    for (const [name, v] of [
      ['batchSize', batchSize],
      ['steps', steps],
      ['ahead', ahead],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
    }
    let max = -1;
    for (let i = 0; i < stream.length; i++) {
      if (stream[i] < 0) throw new Error(`stream symbol ${i} is ${stream[i]}; expected a non-negative index`);
      if (stream[i] > max) max = stream[i];
    }
    this.vocabSize = options.vocabSize ?? max + 1;
    if (max >= this.vocabSize) {
      throw new Error(`stream holds symbol ${max}, outside vocabSize ${this.vocabSize}`);
    }
    this.batchSize = batchSize;
    this.steps = steps;
    this.ahead = ahead;
    this.stream = stream;
    // every input at lane position p has its target at p + ahead, still inside the stream
    this.laneLength = Math.floor((stream.length - ahead) / batchSize);
    const full = Math.floor(this.laneLength / steps);
    this.numSegments = full + (options.keepPartial && this.laneLength % steps > 0 ? 1 : 0);
    if (this.numSegments < 1) {
      throw new Error(
        `a stream of ${stream.length} symbols gives lanes of ${this.laneLength} steps, too short for one segment of ${steps} (batchSize ${batchSize}, ahead ${ahead})`,
      );
    }
  }

  /** Segment `s` as typed arrays: lane b, step t reads stream[b·laneLength + s·T + t]. */
  segmentArrays(s: number): CharSegmentArrays {
    if (!Number.isInteger(s) || s < 0 || s >= this.numSegments) {
      throw new Error(`segment ${s} out of range [0, ${this.numSegments})`);
    }
    const start = s * this.steps;
    const steps = Math.min(this.steps, this.laneLength - start);
    const symbols = new Int32Array(this.batchSize * steps);
    const targets = new Int32Array(this.batchSize * steps);
    for (let b = 0; b < this.batchSize; b++) {
      const from = b * this.laneLength + start;
      symbols.set(this.stream.subarray(from, from + steps), b * steps);
      targets.set(this.stream.subarray(from + this.ahead, from + this.ahead + steps), b * steps);
    }
    return { symbols, targets, steps, batchSize: this.batchSize };
  }

  /** Segment `s` as tensors: one-hot float32 inputs and int32 targets (caller disposes). */
  segment(s: number): CharSegment {
    const a = this.segmentArrays(s);
    // one-hot built here: tfjs-cpu's cast(oneHot) keeps int32 storage under a float32 dtype
    const oneHot = new Float32Array(a.symbols.length * this.vocabSize);
    for (let i = 0; i < a.symbols.length; i++) oneHot[i * this.vocabSize + a.symbols[i]] = 1;
    return {
      inputs: tf.tensor3d(oneHot, [a.batchSize, a.steps, this.vocabSize], 'float32'),
      targets: tf.tensor2d(a.targets, [a.batchSize, a.steps], 'int32'),
    };
  }

  /** The segments in order, as typed arrays (carry the hidden state from one to the next). */
  *[Symbol.iterator](): Generator<CharSegmentArrays> {
    for (let s = 0; s < this.numSegments; s++) yield this.segmentArrays(s);
  }
}

/** Splits a symbol stream into lanes and consecutive segments for truncated BPTT. */
export function createCharBatches(stream: Int32Array, options: CharBatchOptions): CharBatches {
  return new CharBatches(stream, options);
}
