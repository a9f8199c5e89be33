/**
 * CliffguardRnnLoss's registered gradient: it scales the saved ∂θ by the incoming dy of the loss
 * (and ∂Ω/∂W_rec by the dy of Ω), so tf.grad / optimizer.minimize through the fused op compose with
 * other tfjs ops. States, δ and h_T are outputs without a gradient (treated as constants).
 */
import {
  add,
  engine,
  type GradConfig,
  matMul,
  mul,
  type NamedAttrMap,
  reshape,
  square,
  sub,
  type Tensor,
  type Tensor2D,
  tidy,
} from '@tensorflow/tfjs-core';
import type { LossAttrs } from './loss.js';
import { LOSS_INPUTS, LOSS_OUTPUTS, RNN_LOSS } from './names.js';

const noGradient = (name: string) => () => {
  throw new Error(
    `${RNN_LOSS} has no gradient with respect to '${name}' (only the parameters, h0 and the inputs); ` +
      `compute '${name}' outside the function being differentiated`,
  );
};

/**
 * ∂loss/∂u_t = a_t W_inᵀ with a_t = δ_t ⊙ σ'(h_t): recomputed (one more fused pass keeping δ_t
 * and h_t) only when a gradient with respect to the inputs is asked for, e.g. an embedding.
 */
function inputGradient(saved: Tensor[], attrs: LossAttrs): Tensor {
  return tidy(() => {
    const named = Object.fromEntries(LOSS_INPUTS.map((n, i) => [n, saved[i]]));
    const again: LossAttrs = { ...attrs, omega: 'none', combine: false, keepSequences: true };
    const outs = engine().runKernel(RNN_LOSS, named, again as unknown as NamedAttrMap) as Tensor[];
    const states = outs[LOSS_OUTPUTS.indexOf('states')];
    const deltas = outs[LOSS_OUTPUTS.indexOf('deltas')];
    const slope = attrs.activation === 'tanh' ? sub(1, square(states)) : mul(states, sub(1, states));
    const [B, T, I] = named.inputs.shape as [number, number, number];
    const H = states.shape[2] as number;
    const a = reshape(mul(deltas, slope), [B * T, H]);
    return reshape(matMul(a, named.W_in as Tensor2D, false, true), [B, T, I]);
  });
}

/**
 * ∂θ = dy_loss · (saved ∂loss/∂θ), plus dy_Ω · ∂Ω/∂W_rec for W_rec (first order: δ_t and h_t
 * are constants of Ω, eq. 9-10, so Ω has no gradient with respect to the inputs either).
 */
export const lossGradient: GradConfig = {
  kernelName: RNN_LOSS,
  inputsToSave: [...LOSS_INPUTS],
  outputsToSave: LOSS_OUTPUTS.map((n) =>
    ['W_in', 'W_rec', 'b', 'W_out', 'b_out', 'omegaGrad', 'h0'].includes(n),
  ),
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs?: NamedAttrMap) => {
    const [dyLoss, dyOmega] = dy as Tensor[];
    const [gWin, gWrec, gb, gWout, gbout, gOmega, gh0] = saved.slice(LOSS_INPUTS.length);
    const a = attrs as unknown as LossAttrs;
    return {
      W_in: () => mul(dyLoss, gWin),
      W_rec: () => {
        const g = mul(dyLoss, gWrec);
        return a.omega !== 'none' && !a.combine ? add(g, mul(dyOmega, gOmega)) : g;
      },
      b: () => mul(dyLoss, gb),
      W_out: () => mul(dyLoss, gWout),
      b_out: () => mul(dyLoss, gbout),
      h0: () => mul(dyLoss, gh0),
      inputs: () => mul(dyLoss, inputGradient(saved, a)),
      targets: noGradient('targets'),
      mask: noGradient('mask'),
    };
  },
};
