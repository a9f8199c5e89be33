/** CliffguardRnnForward (inference) over an array-level engine: outputs [head outputs, states]. */
import type { KernelFunc } from '@tensorflow/tfjs-core';
import type { Activation, Head, SequenceEngine } from '../problem.js';
import { type ArrayBackend, copiesOnWrite, output, readProblem, type SequenceInputs } from './arrays.js';

export interface ForwardAttrs {
  activation: Activation;
  head: Head;
}

/** CliffguardRnnForward's kernel function over an engine. */
export function forwardKernel(engine: () => SequenceEngine): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as ArrayBackend;
    const p = readProblem(b, inputs as unknown as SequenceInputs, attrs as unknown as ForwardAttrs);
    const r = engine().forward(p, { views: copiesOnWrite(b) });
    const { batch: B, time: T, hiddenSize: H, outputSize: O } = p;
    const outShape = p.head === 'last-softmax' || p.head === 'last-linear' ? [B, O] : [B, T, O];
    return [output(b, r.outputs, outShape), output(b, r.states, [B, T, H])];
  };
}
