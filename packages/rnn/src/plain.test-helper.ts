/**
 * Independent plain-JS (float64) computations for the tests: the RNN and LSTM forward passes,
 * every head's loss, Ω's formula, and central finite differences. Written from the paper's
 * formulas, sharing no code with the package.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

export type Mat = number[][]; // rows
export type Seq = number[][][]; // [B][T][K]

export const matmulRow = (x: number[], w: Mat): number[] => {
  const out = new Array(w[0].length).fill(0);
  for (let i = 0; i < x.length; i++) for (let j = 0; j < out.length; j++) out[j] += x[i] * w[i][j];
  return out;
};

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export interface PlainRnn {
  W_in: Mat;
  W_rec: Mat;
  b: number[];
  W_out: Mat;
  b_out: number[];
  activation: 'tanh' | 'sigmoid';
}

/**
 * h_1..h_T of the RNN; `perturb(t, b, h)` may change h_t of row b (0-based t) in place before
 * it feeds the next step and the head (used for finite differences of ∂E/∂h_t).
 */
export function plainRnnStates(
  p: PlainRnn,
  inputs: Seq,
  h0?: Mat,
  perturb?: (t: number, b: number, h: number[]) => void,
): Seq {
  const act = p.activation === 'tanh' ? Math.tanh : sigmoid;
  return inputs.map((seq, b) => {
    let h = h0 ? [...h0[b]] : new Array(p.b.length).fill(0);
    return seq.map((u, t) => {
      const rec = matmulRow(h, p.W_rec);
      const inp = matmulRow(u, p.W_in);
      h = rec.map((r, j) => act(r + inp[j] + p.b[j]));
      perturb?.(t, b, h);
      return h;
    });
  });
}

export interface PlainLstm {
  W_x: Mat;
  W_h: Mat;
  b: number[];
  W_out: Mat;
  b_out: number[];
}

/** h_1..h_T of the LSTM (gates i, f, c, o), with the same perturbation hook. */
export function plainLstmStates(
  p: PlainLstm,
  inputs: Seq,
  perturb?: (t: number, b: number, h: number[]) => void,
): Seq {
  const H = p.W_h.length;
  return inputs.map((seq, b) => {
    let h = new Array(H).fill(0);
    let c = new Array(H).fill(0);
    return seq.map((u, t) => {
      const zx = matmulRow(u, p.W_x);
      const zh = matmulRow(h, p.W_h);
      const z = zx.map((v, k) => v + zh[k] + p.b[k]);
      c = c.map((cj, j) => sigmoid(z[H + j]) * cj + sigmoid(z[j]) * Math.tanh(z[2 * H + j]));
      h = c.map((cj, j) => sigmoid(z[3 * H + j]) * Math.tanh(cj));
      perturb?.(t, b, h);
      return h;
    });
  });
}

export type PlainTargets = number[] | Mat | Seq;

/** The loss of each head, as documented (means over batch/time; masked mean with a mask). */
export function plainLoss(
  head: string,
  states: Seq,
  W_out: Mat,
  b_out: number[],
  targets: PlainTargets,
  mask?: Mat,
): number {
  const logits = (h: number[]) => matmulRow(h, W_out).map((v, k) => v + b_out[k]);
  const ce = (z: number[], cls: number) => {
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    return lse - z[cls];
  };
  const B = states.length;
  const T = states[0].length;
  if (head === 'last-softmax') {
    return states.reduce((s, seq, b) => s + ce(logits(seq[T - 1]), (targets as number[])[b]), 0) / B;
  }
  if (head === 'last-linear') {
    return (
      states.reduce((s, seq, b) => {
        const y = logits(seq[T - 1]);
        return s + y.reduce((a, v, k) => a + ((targets as Mat)[b][k] - v) ** 2, 0);
      }, 0) / B
    );
  }
  let num = 0;
  let den = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const z = logits(states[b][t]);
      let l: number;
      if (head === 'softmax') l = ce(z, (targets as Mat)[b][t]);
      else {
        const y = (targets as Seq)[b][t];
        l = z.reduce((a, v, k) => a + Math.max(v, 0) - v * y[k] + Math.log1p(Math.exp(-Math.abs(v))), 0);
      }
      const m = mask ? mask[b][t] : 1;
      num += m * l;
      den += m;
    }
  }
  return mask ? num / Math.max(den, 1) : num / (B * T);
}

/** Ω from its formula (paper eq. 9-10; 'code' = the authors' mean over valid (t, b)). */
export function plainOmega(
  W_rec: Mat,
  deltas: Seq,
  states: Seq,
  activation: 'tanh' | 'sigmoid',
  variant: 'paper' | 'code',
): number {
  let sum = 0;
  let count = 0;
  const B = deltas.length;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < deltas[b].length; t++) {
      const d = deltas[b][t];
      const h = states[b][t];
      const dd = d.reduce((s, v) => s + v * v, 0);
      if (dd < 1e-20) continue;
      const a = d.map((v, j) => v * (activation === 'tanh' ? 1 - h[j] * h[j] : h[j] * (1 - h[j])));
      // g = a W_recᵀ: g_i = Σ_j W_rec[i][j] a_j
      const g = W_rec.map((row) => row.reduce((s, w, j) => s + w * a[j], 0));
      const r = g.reduce((s, v) => s + v * v, 0) / dd;
      sum += (r - 1) ** 2;
      count += 1;
    }
  }
  return variant === 'code' ? (count === 0 ? 0 : sum / count) : sum / B;
}

/** Central difference (f(x+ε) − f(x−ε)) / 2ε of f with respect to every entry of `x` (mutated and restored). */
export function centralDifferences(x: number[] | Float32Array, eps: number, f: () => number): number[] {
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + eps;
    const up = f();
    x[i] = keep - eps;
    const down = f();
    x[i] = keep;
    out.push((up - down) / (2 * eps));
  }
  return out;
}

/** ‖a − b‖ / max(‖a‖, ‖b‖, floor): a norm-wise relative error. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  let diff = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    na += a[i] ** 2;
    nb += b[i] ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(na), Math.sqrt(nb), floor);
}

export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what = '',
): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  const err = relativeError(actual, expected);
  expect(err, `${what}: relative error ${err}`).toBeLessThan(tol);
}

/** Rows of a row-major array. */
export function toRows(values: ArrayLike<number>, rows: number, cols: number): Mat {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => values[i * cols + j]));
}

/** A tensor's values as nested arrays (async readback). */
export async function nested<T>(t: tf.Tensor): Promise<T> {
  return (await t.array()) as T;
}

/** Small deterministic pseudo-random numbers for test data (independent of the package's Prng). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** A [B][T][K] array of uniform values in [lo, hi). */
export function randomSeq(rand: () => number, B: number, T: number, K: number, lo = -1, hi = 1): Seq {
  return Array.from({ length: B }, () =>
    Array.from({ length: T }, () => Array.from({ length: K }, () => lo + (hi - lo) * rand())),
  );
}

/** Central differences like {@link centralDifferences}, for an asynchronous f (tensor readbacks). */
export async function centralDifferencesAsync(
  x: number[] | Float32Array,
  eps: number,
  f: () => Promise<number>,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + eps;
    const up = await f();
    x[i] = keep - eps;
    const down = await f();
    x[i] = keep;
    out.push((up - down) / (2 * eps));
  }
  return out;
}

/** A scalar tensor's value, read asynchronously (works on every backend), then disposed. */
export async function scalarOf(t: tf.Tensor): Promise<number> {
  const v = (await t.data())[0];
  t.dispose();
  return v;
}

/**
 * Whether tfjs can read a tensor back synchronously here: not on webgpu outside a browser (no
 * OffscreenCanvas). @cliffguard/clip's wrappers need it (their applyGradients reads the norm).
 */
export function canReadSync(backend: { name: string }): boolean {
  return (
    backend.name !== 'webgpu' ||
    typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined'
  );
}
