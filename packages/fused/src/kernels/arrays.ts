/**
 * What the array-level kernels (cpu, wasm) share: reading a backend's tensors as typed arrays into
 * a SequenceProblem (problem.ts), and writing an engine's arrays back as output tensors.
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';
import type { SequenceProblem, SequenceShape } from '../problem.js';
import type { LOSS_INPUTS } from './names.js';

/** The backend calls a kernel needs: read an input synchronously, write an output. */
export interface ArrayBackend {
  readSync(dataId: object): ArrayLike<number>;
  write(values: Float32Array, shape: number[], dtype: DataType): object;
  /** wasm backend: a view of the tensor in its heap (no copy) */
  typedArrayFromHeap?(t: TensorInfo): ArrayLike<number>;
}

export function floats(backend: ArrayBackend, t: TensorInfo): Float32Array {
  const values = backend.typedArrayFromHeap ? backend.typedArrayFromHeap(t) : backend.readSync(t.dataId);
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** Class targets as Int32Array; float32 targets must hold integers. */
export function classes(backend: ArrayBackend, t: TensorInfo): Int32Array {
  const values = backend.typedArrayFromHeap ? backend.typedArrayFromHeap(t) : backend.readSync(t.dataId);
  if (values instanceof Int32Array) return values;
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isInteger(values[i]))
      throw new RangeError(`class targets must be integers, got ${values[i]} at ${i}`);
    out[i] = values[i];
  }
  return out;
}

/** The kernels' inputs by name (LOSS_INPUTS). */
export type SequenceInputs = Record<(typeof LOSS_INPUTS)[number], TensorInfo>;

export const given = (t: TensorInfo | undefined): t is TensorInfo =>
  t !== undefined && t.shape.length > 0 && t.shape.every((d) => d > 0);

export function readProblem(
  backend: ArrayBackend,
  inputs: SequenceInputs,
  attrs: Pick<SequenceShape, 'activation' | 'head'>,
): SequenceProblem {
  const u = inputs.inputs;
  const [batch, time, inputSize] = u.shape;
  const [hiddenSize, outputSize] = inputs.W_out.shape;
  return {
    batch,
    time,
    inputSize,
    hiddenSize,
    outputSize,
    activation: attrs.activation,
    head: attrs.head,
    weights: {
      W_in: floats(backend, inputs.W_in),
      W_rec: floats(backend, inputs.W_rec),
      b: floats(backend, inputs.b),
      W_out: floats(backend, inputs.W_out),
      b_out: floats(backend, inputs.b_out),
    },
    inputs: floats(backend, u),
    h0: given(inputs.h0) ? floats(backend, inputs.h0) : undefined,
  };
}

/**
 * Whether `write` copies the values (the wasm backend copies them into its heap; the cpu backend
 * keeps the array itself), so results may be views of an engine's memory.
 */
export function copiesOnWrite(backend: ArrayBackend): boolean {
  return typeof backend.typedArrayFromHeap === 'function';
}

export function output(backend: ArrayBackend, values: Float32Array, shape: number[]): TensorInfo {
  return { dataId: backend.write(values, shape, 'float32'), shape, dtype: 'float32' };
}
