/**
 * Piano-roll batches for the music sets: 88 binary channels (MIDI 21..108), next-step
 * prediction. For a piece v_1..v_n the input at step t is v_{t-1} (silence before the first
 * step) and the target is v_t, so all n steps are predicted, as the sequence likelihood
 * P(v_1)·P(v_2|v_1)·… the paper reports per time step. Pieces are cut into windows of T steps
 * (the last one padded, with mask 0 on the padding).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LOWEST_NOTE, type Piece } from './polyphonic.js';
import { Random } from './random.js';

/** Channels of the piano roll: one per piano key. */
export const PIANO_KEYS = 88;

export interface PianoRollWindow {
  /** index of the piece in the list given */
  piece: number;
  /** first target step of the window within the piece */
  start: number;
  /** real (unpadded) steps in the window */
  length: number;
}

export interface PianoRollArrays {
  /** float32 {0,1} [batch, steps, 88]: the previous step's notes */
  inputs: Float32Array;
  /** float32 {0,1} [batch, steps, 88]: this step's notes */
  targets: Float32Array;
  /** float32 [batch, steps]: 1 on real steps, 0 on padding */
  mask: Float32Array;
  batchSize: number;
  steps: number;
}

export interface PianoRollBatch {
  inputs: tf.Tensor3D;
  targets: tf.Tensor3D;
  mask: tf.Tensor2D;
}

export class PianoRoll {
  readonly steps: number;
  readonly windows: PianoRollWindow[];
  /** steps that count (sum of the mask over all windows) */
  readonly totalSteps: number;
  private readonly pieces: Piece[];

  constructor(pieces: Piece[], steps: number) {
    if (!Number.isInteger(steps) || steps < 1)
      throw new Error(`steps must be a positive integer, got ${steps}`);
    this.pieces = pieces;
    this.steps = steps;
    this.windows = [];
    let total = 0;
    pieces.forEach((piece, i) => {
      for (let start = 0; start < piece.length; start += steps) {
        this.windows.push({ piece: i, start, length: Math.min(steps, piece.length - start) });
      }
      total += piece.length;
    });
    this.totalSteps = total;
  }

  /** The windows `indices` as typed arrays. */
  batchArrays(indices: readonly number[]): PianoRollArrays {
    return this.arraysOf(
      indices.map((w) => {
        const win = this.windows[w];
        if (!win) throw new Error(`window ${w} out of range [0, ${this.windows.length})`);
        return win;
      }),
    );
  }

  /**
   * Whole pieces for evaluation, as lanes of a batch: the pieces sorted by length (longest first,
   * so lanes of one group end close together) and dealt into groups of at most `batchSize`. A
   * group is read window by window with {@link laneArrays}, the hidden state carried from one
   * window to the next, so each piece's likelihood is that of the whole sequence.
   */
  pieceLanes(batchSize: number): { pieces: number[]; windows: number }[] {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    const order = this.pieces.map((_, i) => i).sort((a, b) => this.pieces[b].length - this.pieces[a].length);
    const groups = [];
    for (let i = 0; i < order.length; i += batchSize) {
      const pieces = order.slice(i, i + batchSize);
      groups.push({ pieces, windows: Math.ceil(this.pieces[pieces[0]].length / this.steps) });
    }
    return groups;
  }

  /** Window `w` (steps w·T … w·T + T − 1) of each piece in `pieces`, one lane each; mask 0 past a piece's end. */
  laneArrays(pieces: readonly number[], w: number): PianoRollArrays {
    return this.arraysOf(
      pieces.map((piece) => {
        const n = this.pieces[piece]?.length;
        if (n === undefined) throw new Error(`piece ${piece} out of range [0, ${this.pieces.length})`);
        const start = w * this.steps;
        return { piece, start, length: Math.max(0, Math.min(this.steps, n - start)) };
      }),
    );
  }

  private arraysOf(wins: readonly PianoRollWindow[]): PianoRollArrays {
    const B = wins.length;
    const T = this.steps;
    const inputs = new Float32Array(B * T * PIANO_KEYS);
    const targets = new Float32Array(B * T * PIANO_KEYS);
    const mask = new Float32Array(B * T);
    wins.forEach((win, b) => {
      const piece = this.pieces[win.piece];
      for (let t = 0; t < win.length; t++) {
        const step = win.start + t;
        mask[b * T + t] = 1;
        for (const note of piece[step]) targets[(b * T + t) * PIANO_KEYS + note - LOWEST_NOTE] = 1;
        if (step > 0)
          for (const note of piece[step - 1]) inputs[(b * T + t) * PIANO_KEYS + note - LOWEST_NOTE] = 1;
      }
    });
    return { inputs, targets, mask, batchSize: B, steps: T };
  }

  /** The windows `indices` as tensors (caller disposes). */
  batch(indices: readonly number[]): PianoRollBatch {
    const a = this.batchArrays(indices);
    const shape: [number, number, number] = [a.batchSize, a.steps, PIANO_KEYS];
    return {
      inputs: tf.tensor3d(a.inputs, shape, 'float32'),
      targets: tf.tensor3d(a.targets, shape, 'float32'),
      mask: tf.tensor2d(a.mask, [a.batchSize, a.steps], 'float32'),
    };
  }

  /** One epoch of window indices in minibatches: file order, or shuffled when a seed is given. */
  epoch(batchSize: number, seed?: number): number[][] {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    const order = this.windows.map((_, i) => i);
    if (seed !== undefined) {
      const rng = new Random(seed);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.randint(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    const batches: number[][] = [];
    for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
    return batches;
  }
}

/** Cuts pieces into windows of `steps` for next-step prediction on an 88-key piano roll. */
export function createPianoRoll(pieces: Piece[], steps: number): PianoRoll {
  return new PianoRoll(pieces, steps);
}

/**
 * Negative log-likelihood per time step (the paper's music metric): Bernoulli NLL summed over
 * the 88 notes, averaged over the steps where mask = 1. `probabilities` are the model's
 * sigmoid outputs; they are clamped to [eps, 1 − eps] so a confident mistake costs −log(eps).
 */
export function nllPerStep(
  probabilities: ArrayLike<number>,
  targets: ArrayLike<number>,
  mask: ArrayLike<number>,
  eps = 1e-7,
): number {
  if (probabilities.length !== targets.length || targets.length !== mask.length * PIANO_KEYS) {
    throw new Error(
      `nllPerStep: ${probabilities.length} probabilities, ${targets.length} targets, ${mask.length} mask steps; expected probabilities = targets = 88 × mask`,
    );
  }
  let sum = 0;
  let steps = 0;
  for (let s = 0; s < mask.length; s++) {
    if (mask[s] === 0) continue;
    steps++;
    for (let k = s * PIANO_KEYS; k < (s + 1) * PIANO_KEYS; k++) {
      const p = Math.min(1 - eps, Math.max(eps, probabilities[k]));
      if (Number.isNaN(p)) throw new Error(`nllPerStep: probability ${k} is NaN`);
      sum -= targets[k] > 0.5 ? Math.log(p) : Math.log(1 - p);
    }
  }
  if (steps === 0) throw new Error('nllPerStep: the mask selects no step');
  return sum / steps;
}
