// The float64 reference is itself checked: its gradients against central differences of its loss,
// and its ∂Ω/∂W_rec against central differences of Ω(W_rec) with δ_t and h_t held constant.
import { describe, expect, it } from 'vitest';
import { HEADS, type TrainingProblem } from '../src/problem.js';
import { loss64, randomProblem, reference64, relativeError } from './float64.js';

/** Ω of the problem as a function of W_rec alone (δ, h from the unperturbed pass). */
function omegaAt(p: TrainingProblem, Wrec: Float64Array, deltas: number[], states: number[]): number {
  const { batch: B, time: T, hiddenSize: H } = p;
  let rows = 0;
  let sum = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const d = deltas.slice((b * T + t) * H, (b * T + t + 1) * H);
      const h = states.slice((b * T + t) * H, (b * T + t + 1) * H);
      const nd = d.reduce((s, v) => s + v * v, 0);
      if (nd < 1e-20) continue;
      const a = d.map((v, j) => v * (p.activation === 'tanh' ? 1 - h[j] ** 2 : h[j] * (1 - h[j])));
      let ng = 0;
      for (let i = 0; i < H; i++) {
        let g = 0;
        for (let j = 0; j < H; j++) g += Wrec[i * H + j] * a[j];
        ng += g * g;
      }
      rows++;
      sum += (ng / nd - 1) ** 2;
    }
  }
  return p.omega === 'code' ? sum / Math.max(rows, 1) : sum / B;
}

/** Float64 copies of a problem's weights, so finite differences are not rounded to float32. */
function widen(p: TrainingProblem): TrainingProblem {
  const w = p.weights;
  const f = (x: Float32Array) => Float64Array.from(x) as unknown as Float32Array;
  return {
    ...p,
    weights: { W_in: f(w.W_in), W_rec: f(w.W_rec), b: f(w.b), W_out: f(w.W_out), b_out: f(w.b_out) },
  };
}

describe('the float64 reference', () => {
  for (const head of HEADS) {
    it(`${head}: gradients equal central differences of the loss`, () => {
      const p = widen(
        randomProblem({
          batch: 2,
          time: 4,
          inputSize: 3,
          hiddenSize: 4,
          outputSize: 3,
          activation: head === 'sigmoid' ? 'sigmoid' : 'tanh',
          head,
          h0: true,
          mask: head === 'softmax' || head === 'sigmoid',
        }),
      );
      const ref = reference64(p);
      for (const k of ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const) {
        const x = p.weights[k];
        const fd = Array.from(x, (_, i) => {
          const keep = x[i];
          x[i] = keep + 1e-6;
          const up = loss64(p);
          x[i] = keep - 1e-6;
          const down = loss64(p);
          x[i] = keep;
          return (up - down) / 2e-6;
        });
        expect(relativeError(ref.grads[k], fd), k).toBeLessThan(1e-6);
      }
    });
  }
  for (const variant of ['paper', 'code'] as const) {
    it(`Ω '${variant}': ∂Ω/∂W_rec equals central differences with δ and h held`, () => {
      const p = widen(
        randomProblem({
          batch: 3,
          time: 5,
          inputSize: 2,
          hiddenSize: 5,
          outputSize: 2,
          activation: 'tanh',
          head: 'softmax',
          omega: variant,
        }),
      );
      const ref = reference64(p);
      const W = Float64Array.from(p.weights.W_rec);
      expect(omegaAt(p, W, ref.deltas, ref.states)).toBeCloseTo(ref.omega, 12);
      const fd = Array.from(W, (_, i) => {
        const keep = W[i];
        W[i] = keep + 1e-6;
        const up = omegaAt(p, W, ref.deltas, ref.states);
        W[i] = keep - 1e-6;
        const down = omegaAt(p, W, ref.deltas, ref.states);
        W[i] = keep;
        return (up - down) / 2e-6;
      });
      expect(relativeError(ref.omegaGrad, fd)).toBeLessThan(1e-6);
    });
  }
});
