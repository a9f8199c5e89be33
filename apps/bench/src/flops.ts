import type { BenchConfig } from './configs.js';

/**
 * The nominal floating-point work of one training step, counted as 2 FLOP per multiply-add of
 * the matrix products (B batch, T steps, I inputs, H hidden, O outputs, T_o = T for per-step
 * heads and 1 for last-step heads):
 *
 *   forward   u_t·W_in, h_{t-1}·W_rec            2·B·T·H·(I + H)
 *             h_t·W_out                           2·B·T_o·H·O
 *   backward  ∂W_out and ∂h from the head         4·B·T_o·H·O
 *             ∂W_in, ∂W_rec                       2·B·T·H·(I + H)
 *             δ_{t-1} += (δ_t⊙σ')·W_recᵀ, t ≥ 2     2·B·(T−1)·H²
 *   Ω (SGD-CR only; paper eq. 9-10)  (δ_t⊙σ')·W_recᵀ and its W_rec gradient   4·B·T·H²
 *
 * Elementwise work (activations, softmax, the clip's norm, the SGD update) is O(B·T·H) or
 * O(parameters), a few percent at H ≥ 50, and is left out. One-hot inputs are counted as dense
 * products (the nominal model's work), so a kernel that looks rows up gets credit for it.
 */
export function stepFlops(config: BenchConfig, options: { omega?: boolean } = {}): number {
  const { batchSize: B, seqLen: T, inputSize: I, hiddenSize: H, outputSize: O } = config;
  const To = config.head.startsWith('last-') ? 1 : T;
  const forward = 2 * B * T * H * (I + H) + 2 * B * To * H * O;
  const backward = 4 * B * To * H * O + 2 * B * T * H * (I + H) + 2 * B * (T - 1) * H * H;
  const omega = options.omega ? 4 * B * T * H * H : 0;
  return forward + backward + omega;
}
