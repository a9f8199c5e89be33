/** Shape and dtype checks with errors that name the bad value and what was expected. */
import { Tensor } from '@tensorflow/tfjs-core';
import type { Batch, Head } from './implementation.js';

function shapeText(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

function assertTensor(x: unknown, what: string): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${what} must be a tf.Tensor, got ${String(x)}`);
  if (x.isDisposed) throw new Error(`${what} has been disposed`);
}

/**
 * Inputs must be float32 [batch, time, inputSize] with batch, time ≥ 1; with `runs` (an ensemble
 * of that many stacked models, one data stream each) [runs, batch, time, inputSize].
 */
export function validateInputs(inputs: unknown, inputSize: number, runs?: number): asserts inputs is Tensor {
  assertTensor(inputs, 'inputs');
  const s = inputs.shape;
  const lead = runs === undefined ? [] : [runs];
  const k = lead.length;
  const ok =
    s.length === k + 3 && s[k + 2] === inputSize && s[k] >= 1 && s[k + 1] >= 1 && (k === 0 || s[0] === runs);
  if (!ok) {
    const expected = shapeText([...(k === 0 ? [] : [`runs=${runs}`]), 'batch', 'time', inputSize]);
    throw new RangeError(`inputs have shape ${shapeText(s)}; expected ${expected} (inputSize ${inputSize})`);
  }
  if (inputs.dtype !== 'float32') throw new TypeError(`inputs must be float32, got ${inputs.dtype}`);
}

/** An initial state must be [batch, hidden]. */
export function validateState(state: unknown, batch: number, hidden: number, what: string): void {
  assertTensor(state, what);
  if (state.rank !== 2 || state.shape[0] !== batch || state.shape[1] !== hidden) {
    throw new RangeError(
      `${what} has shape ${shapeText(state.shape)}; expected ${shapeText([batch, hidden])}`,
    );
  }
}

/** Expected target shape per head (see {@link Head}). */
export function targetShape(head: Head, batch: number, time: number, outputSize: number): number[] {
  switch (head) {
    case 'last-softmax':
      return [batch];
    case 'softmax':
      return [batch, time];
    case 'last-linear':
      return [batch, outputSize];
    case 'sigmoid':
      return [batch, time, outputSize];
    default:
      throw new RangeError(`unknown head ${JSON.stringify(head)}`);
  }
}

/**
 * Checks a batch against the model's sizes and head; with `runs`, every tensor has one more
 * leading axis of that size (an ensemble of stacked models, one data stream each).
 */
export function validateBatch(
  batch: Batch | { inputs: Tensor; targets: Tensor; mask?: Tensor },
  sizes: { inputSize: number; outputSize: number; head: Head },
  runs?: number,
): void {
  if (batch == null || typeof batch !== 'object')
    throw new TypeError(`batch must be { inputs, targets, mask? }`);
  validateInputs(batch.inputs, sizes.inputSize, runs);
  const lead = runs === undefined ? [] : [runs];
  const [B, T] = batch.inputs.shape.slice(lead.length);
  assertTensor(batch.targets, 'batch.targets');
  const expected = [...lead, ...targetShape(sizes.head, B, T, sizes.outputSize)];
  const got = batch.targets.shape;
  if (got.length !== expected.length || got.some((d, i) => d !== expected[i])) {
    throw new RangeError(
      `targets have shape ${shapeText(got)}; head '${sizes.head}' expects ${shapeText(expected)} for inputs ${shapeText(batch.inputs.shape)}`,
    );
  }
  const classes = sizes.head === 'last-softmax' || sizes.head === 'softmax';
  if (classes && batch.targets.dtype !== 'int32' && batch.targets.dtype !== 'float32') {
    throw new TypeError(`class targets must be int32 (or float32 integers), got ${batch.targets.dtype}`);
  }
  if (!classes && batch.targets.dtype !== 'float32') {
    throw new TypeError(`head '${sizes.head}' needs float32 targets, got ${batch.targets.dtype}`);
  }
  if (batch.mask !== undefined) {
    if (sizes.head !== 'softmax' && sizes.head !== 'sigmoid') {
      throw new RangeError(
        `a mask applies to the per-step heads 'softmax' and 'sigmoid' only, not '${sizes.head}'`,
      );
    }
    assertTensor(batch.mask, 'batch.mask');
    const want = [...lead, B, T];
    const m = batch.mask.shape;
    if (m.length !== want.length || m.some((d, i) => d !== want[i])) {
      throw new RangeError(`mask has shape ${shapeText(m)}; expected ${shapeText(want)}`);
    }
  }
}
