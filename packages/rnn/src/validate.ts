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

/** Inputs must be float32 [batch, time, inputSize] with batch, time ≥ 1. */
export function validateInputs(inputs: unknown, inputSize: number): asserts inputs is Tensor {
  assertTensor(inputs, 'inputs');
  const s = inputs.shape;
  if (s.length !== 3 || s[2] !== inputSize || s[0] < 1 || s[1] < 1) {
    throw new RangeError(
      `inputs have shape ${shapeText(s)}; expected ${shapeText(['batch', 'time', inputSize])} (inputSize ${inputSize})`,
    );
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

/** Checks a batch against the model's sizes and head. */
export function validateBatch(
  batch: Batch,
  sizes: { inputSize: number; outputSize: number; head: Head },
): void {
  if (batch == null || typeof batch !== 'object')
    throw new TypeError(`batch must be { inputs, targets, mask? }`);
  validateInputs(batch.inputs, sizes.inputSize);
  const [B, T] = batch.inputs.shape;
  assertTensor(batch.targets, 'batch.targets');
  const expected = targetShape(sizes.head, B, T, sizes.outputSize);
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
    if (batch.mask.rank !== 2 || batch.mask.shape[0] !== B || batch.mask.shape[1] !== T) {
      throw new RangeError(`mask has shape ${shapeText(batch.mask.shape)}; expected ${shapeText([B, T])}`);
    }
  }
}
