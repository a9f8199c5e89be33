/**
 * CliffguardRnnLoss (training) over an array-level engine: outputs [loss, Ω, h_T, ∂W_in, ∂W_rec,
 * ∂b, ∂W_out, ∂b_out, ∂Ω/∂W_rec, ∂h_0, states, δ] (LOSS_OUTPUTS; states and δ empty unless kept).
 * Its registered gradient is in gradient.ts.
 */
import type { KernelFunc } from '@tensorflow/tfjs-core';
import { isClassHead, type OmegaVariant, type SequenceEngine, type TrainingProblem } from '../problem.js';
import {
  type ArrayBackend,
  classes,
  copiesOnWrite,
  floats,
  given,
  output,
  readProblem,
  type SequenceInputs,
} from './arrays.js';
import type { ForwardAttrs } from './forward.js';

export interface LossAttrs extends ForwardAttrs {
  /** 'none' or the Ω variant */
  omega: 'none' | OmegaVariant;
  /** α: with `combine`, ∂W_rec output = ∂loss/∂W_rec + α ∂Ω/∂W_rec (one product) and ∂Ω/∂W_rec is empty */
  omegaWeight: number;
  combine: boolean;
  keepSequences: boolean;
}

/** CliffguardRnnLoss's kernel function over an engine. */
export function lossKernel(engine: () => SequenceEngine): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as ArrayBackend;
    const a = attrs as unknown as LossAttrs;
    const named = inputs as unknown as SequenceInputs;
    const p: TrainingProblem = {
      ...readProblem(b, named, a),
      targets: isClassHead(a.head) ? classes(b, named.targets) : floats(b, named.targets),
      mask: given(named.mask) ? floats(b, named.mask) : undefined,
      omega: a.omega === 'none' ? undefined : a.omega,
      omegaWeight: a.combine ? a.omegaWeight : undefined,
      keepSequences: a.keepSequences,
    };
    const r = engine().train(p, { views: copiesOnWrite(b) });
    const { batch: B, time: T, inputSize: I, hiddenSize: H, outputSize: O } = p;
    const seq = (x: Float32Array | undefined) =>
      x ? output(b, x, [B, T, H]) : output(b, new Float32Array(0), [0]);
    return [
      output(b, Float32Array.of(r.loss), []),
      output(b, Float32Array.of(r.omega), []),
      output(b, r.lastState, [B, H]),
      output(b, r.grads.W_in, [I, H]),
      output(b, r.grads.W_rec, [H, H]),
      output(b, r.grads.b, [H]),
      output(b, r.grads.W_out, [H, O]),
      output(b, r.grads.b_out, [O]),
      r.omegaGrad.length ? output(b, r.omegaGrad, [H, H]) : output(b, new Float32Array(0), [0]),
      output(b, r.h0Grad, [B, H]),
      seq(r.states),
      seq(r.deltas),
    ];
  };
}
