/**
 * What the RNN and the LSTM models share: named tf.Variables, the hidden state carried across
 * calls (truncated BPTT over consecutive segments), weights as plain data, disposal.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch, GradientRequest } from './implementation.js';
import type { WeightData } from './init.js';

/** Every parameter of a model as plain data (row-major float32 values and shapes): a checkpoint. */
export type Weights = Record<string, WeightData>;

export interface ForwardOptions {
  /** [B, H] initial hidden state; zeros (or the carried state) when absent */
  h0?: tf.Tensor2D;
  /** LSTM only: [B, H] initial cell state */
  c0?: tf.Tensor2D;
}

export interface ModelGradientRequest extends GradientRequest {
  /** LSTM only: [B, H] initial cell state */
  c0?: tf.Tensor2D;
}

/** The result of {@link RecurrentModel.lossAndGradients}: gradients keyed by the model's parameter names. */
export interface ModelGradientResult<P extends string = string> {
  loss: tf.Scalar;
  grads: Record<P, tf.Tensor>;
  omega?: tf.Scalar;
  deltas?: tf.Tensor3D;
  states?: tf.Tensor3D;
  lastState: tf.Tensor2D;
  /** LSTM only: the last cell state */
  lastCell?: tf.Tensor2D;
}

/** The interface the RNN and the LSTM share; trainStep and the diagnostics accept either. */
export interface RecurrentModel<P extends string = string> {
  readonly kind: 'rnn' | 'lstm';
  readonly config: Readonly<{ inputSize: number; hiddenSize: number; outputSize: number; head: string }>;
  /** The trainable parameters by readable name; any tf.Optimizer can train them. */
  readonly variables: Readonly<Record<P, tf.Variable>>;
  /**
   * When true, forward/lossAndGradients (and so trainStep) start from the state the previous
   * call ended in and keep the new last state (truncated BPTT over consecutive segments).
   * When false, they start from zeros (or the given h0) and leave the carried state untouched.
   */
  carryState: boolean;
  /** The carried state ([h] for the RNN, [h, c] for the LSTM), or null before any carrying call. */
  readonly carriedState: readonly tf.Tensor2D[] | null;
  /** Forgets the carried state: the next call starts from zeros. */
  resetState(): void;
  forward(inputs: tf.Tensor3D, options?: ForwardOptions): { outputs: tf.Tensor; states: tf.Tensor3D };
  lossAndGradients(batch: Batch, request?: ModelGradientRequest): ModelGradientResult<P>;
  /** A copy of every parameter as plain data (reads back asynchronously, so it works on every backend). */
  getWeights(): Promise<Weights>;
  /** Replaces every parameter from plain data; checks names, shapes and finiteness first. */
  setWeights(weights: Weights): void;
  readonly isDisposed: boolean;
  /** Disposes the variables and the carried state. */
  dispose(): void;
}

let modelCounter = 0;

/** A fresh, process-unique variable-name prefix (tfjs refuses two variables with one name). */
export function uniqueModelName(kind: string, name?: string): string {
  if (name !== undefined) {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError(`name must be a non-empty string`);
    return name;
  }
  modelCounter += 1;
  return `${kind}_${modelCounter}`;
}

/** Variables from plain data, named `<prefix>/<param>`. */
export function makeVariables<P extends string>(
  prefix: string,
  weights: Record<P, WeightData>,
): Record<P, tf.Variable> {
  const out = {} as Record<P, tf.Variable>;
  const made: tf.Variable[] = [];
  try {
    for (const key of Object.keys(weights) as P[]) {
      const { values, shape } = weights[key];
      const v = tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), true, `${prefix}/${key}`));
      made.push(v);
      out[key] = v;
    }
  } catch (err) {
    // Nothing half-made: a name clash on the third variable must not leave the first two registered.
    tf.dispose(made);
    throw err;
  }
  return out;
}

/** Tensors as plain data (asynchronous readback, so it works on every backend), copied. */
export async function readWeights(tensors: Readonly<Record<string, tf.Tensor>>): Promise<Weights> {
  const out: Weights = {};
  for (const key of Object.keys(tensors)) {
    const v = tensors[key];
    // A copy: on cpu, data() hands out the backend's own buffer.
    out[key] = { shape: [...v.shape], values: Float32Array.from((await v.data()) as Float32Array) };
  }
  return out;
}

/**
 * Checks plain weights against the expected parameter names and shapes: no unknown or missing
 * parameter, the right shape and number of values, every value finite. `who` starts the messages.
 */
export function checkWeights(
  weights: Weights,
  expected: Record<string, readonly number[]>,
  who: string,
): void {
  const names = Object.keys(expected);
  if (weights == null || typeof weights !== 'object')
    throw new TypeError(`${who} needs { name: { shape, values } }`);
  const unknown = Object.keys(weights).filter((k) => !names.includes(k));
  if (unknown.length > 0) {
    throw new RangeError(`${who}: unknown parameter(s) ${unknown.join(', ')}; expected ${names.join(', ')}`);
  }
  for (const key of names) {
    const w = weights[key];
    const shape = expected[key];
    if (!w) throw new RangeError(`${who}: missing parameter ${key}`);
    const size = shape.reduce((n, d) => n * d, 1);
    const shapeOk =
      Array.isArray(w.shape) && w.shape.length === shape.length && w.shape.every((d, i) => d === shape[i]);
    if (!shapeOk || w.values?.length !== size) {
      throw new RangeError(
        `${who}: ${key} has shape [${w.shape}] with ${w.values?.length} values; expected [${shape.join(', ')}]`,
      );
    }
    for (let i = 0; i < w.values.length; i++) {
      if (!Number.isFinite(w.values[i])) {
        throw new RangeError(`${who}: ${key}[${i}] is ${w.values[i]}; weights must be finite`);
      }
    }
  }
}

/** Shared state handling; subclasses provide forward/lossAndGradients. */
export abstract class BaseRecurrentModel<P extends string> {
  carryState: boolean;
  private carried: tf.Tensor2D[] | null = null;
  private disposed = false;

  constructor(
    readonly variables: Readonly<Record<P, tf.Variable>>,
    carryState: boolean,
  ) {
    this.carryState = carryState;
  }

  get carriedState(): readonly tf.Tensor2D[] | null {
    return this.carried;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  resetState(): void {
    if (this.carried) tf.dispose(this.carried);
    this.carried = null;
  }

  protected assertUsable(): void {
    if (this.disposed) throw new Error('this model has been disposed');
  }

  /**
   * The initial states for a call on a batch of `batch` rows: the explicit ones if given, else
   * the carried ones (when carrying), else undefined (zeros).
   */
  protected startStates(batch: number, explicit: (tf.Tensor2D | undefined)[]): (tf.Tensor2D | undefined)[] {
    if (explicit.some((s) => s !== undefined) || !this.carryState || this.carried === null) return explicit;
    const rows = this.carried[0].shape[0];
    if (rows !== batch) {
      throw new RangeError(
        `the carried state has batch ${rows} but this batch has ${batch} rows; call resetState() before changing the batch size`,
      );
    }
    return this.carried;
  }

  /** Keeps copies of the call's last states when carrying (copies: the caller may dispose the result). */
  protected carry(last: tf.Tensor2D[]): void {
    if (!this.carryState) return;
    const kept = last.map((t) => tf.keep(t.clone()));
    this.resetState();
    this.carried = kept;
  }

  async getWeights(): Promise<Weights> {
    this.assertUsable();
    return readWeights(this.variables);
  }

  setWeights(weights: Weights): void {
    this.assertUsable();
    const names = Object.keys(this.variables) as P[];
    const expected = Object.fromEntries(names.map((k) => [k, this.variables[k].shape]));
    // Check everything before assigning anything: nothing half-written, no NaN into the model.
    checkWeights(weights, expected, 'setWeights');
    tf.tidy(() => {
      for (const key of names)
        this.variables[key].assign(tf.tensor(weights[key].values, weights[key].shape, 'float32'));
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.resetState();
    tf.dispose(Object.values(this.variables) as tf.Variable[]);
    this.disposed = true;
  }
}
