/**
 * An independent float64 reference of the fused pass, written plainly from the formulas (one row
 * at a time, no padding, no batching over time), for the tests. Shares no code with the engines.
 */
import type { Head, OmegaVariant, SequenceWeights, TrainingProblem } from '../src/problem.js';

export interface Reference64 {
  loss: number;
  omega: number;
  outputs: number[];
  states: number[]; // [B][T][H]
  deltas: number[]; // [B][T][H]
  grads: Record<keyof SequenceWeights, number[]>;
  omegaGrad: number[];
  h0Grad: number[];
}

const sig = (x: number) => 1 / (1 + Math.exp(-x));

/** Runs forward, loss, BPTT, Ω and every gradient in float64. */
export function reference64(p: TrainingProblem): Reference64 {
  const { batch: B, time: T, inputSize: I, hiddenSize: H, outputSize: O, head } = p;
  const w = p.weights;
  const act = p.activation === 'tanh' ? Math.tanh : sig;
  const dact = (h: number) => (p.activation === 'tanh' ? 1 - h * h : h * (1 - h));
  const last = head === 'last-softmax' || head === 'last-linear';
  // h[b][t] with t = 0..T (h[b][0] = h0)
  const h: number[][][] = [];
  for (let b = 0; b < B; b++) {
    const seq: number[][] = [Array.from({ length: H }, (_, j) => (p.h0 ? p.h0[b * H + j] : 0))];
    for (let t = 0; t < T; t++) {
      const prev = seq[t];
      const cur: number[] = [];
      for (let j = 0; j < H; j++) {
        let z = w.b[j];
        for (let i = 0; i < H; i++) z += prev[i] * w.W_rec[i * H + j];
        for (let i = 0; i < I; i++) z += p.inputs[(b * T + t) * I + i] * w.W_in[i * H + j];
        cur.push(act(z));
      }
      seq.push(cur);
    }
    h.push(seq);
  }
  // head: per (b, t) logits, loss, dz; direct[b][t] = dz W_outᵀ
  const direct = h.map(() => Array.from({ length: T + 1 }, () => new Array(H).fill(0)));
  const gWout = new Array(H * O).fill(0);
  const gbout = new Array(O).fill(0);
  const outputs: number[] = [];
  let num = 0;
  let den = 0;
  if (!last && p.mask) for (let i = 0; i < B * T; i++) den += p.mask[i];
  const norm = last ? B : p.mask ? Math.max(den, 1) : B * T;
  for (let b = 0; b < B; b++) {
    for (let t = last ? T - 1 : 0; t < T; t++) {
      const hv = h[b][t + 1];
      const z = Array.from({ length: O }, (_, k) => {
        let s = w.b_out[k];
        for (let j = 0; j < H; j++) s += hv[j] * w.W_out[j * O + k];
        return s;
      });
      const m = !last && p.mask ? p.mask[b * T + t] : 1;
      const dz = headTerm(head, z, p, b, t, outputs);
      num += m * dz.loss;
      for (let k = 0; k < O; k++) {
        const g = (m * dz.grad[k]) / norm;
        gbout[k] += g;
        for (let j = 0; j < H; j++) {
          gWout[j * O + k] += hv[j] * g;
          direct[b][t + 1][j] += g * w.W_out[j * O + k];
        }
      }
    }
  }
  const loss = num / norm;
  // BPTT
  const delta = h.map(() => Array.from({ length: T + 1 }, () => new Array(H).fill(0)));
  const a = h.map(() => Array.from({ length: T + 1 }, () => new Array(H).fill(0)));
  const g = h.map(() => Array.from({ length: T + 1 }, () => new Array(H).fill(0)));
  for (let b = 0; b < B; b++) {
    for (let t = T; t >= 1; t--) {
      for (let j = 0; j < H; j++) {
        delta[b][t][j] = direct[b][t][j] + (t < T ? g[b][t + 1][j] : 0);
        a[b][t][j] = delta[b][t][j] * dact(h[b][t][j]);
      }
      for (let i = 0; i < H; i++) {
        let s = 0;
        for (let j = 0; j < H; j++) s += a[b][t][j] * w.W_rec[i * H + j];
        g[b][t][i] = s;
      }
    }
  }
  const gWin = new Array(I * H).fill(0);
  const gWrec = new Array(H * H).fill(0);
  const gb = new Array(H).fill(0);
  for (let b = 0; b < B; b++) {
    for (let t = 1; t <= T; t++) {
      for (let j = 0; j < H; j++) {
        gb[j] += a[b][t][j];
        for (let i = 0; i < H; i++) gWrec[i * H + j] += h[b][t - 1][i] * a[b][t][j];
        for (let i = 0; i < I; i++) gWin[i * H + j] += p.inputs[(b * T + t - 1) * I + i] * a[b][t][j];
      }
    }
  }
  const { omega, omegaGrad } = omega64(p.omega, w.W_rec, H, B, T, delta, a, g);
  const flat = (x: number[][][], from: number) => x.flatMap((seq) => seq.slice(from, from + T).flat());
  return {
    loss,
    omega,
    outputs,
    states: flat(h, 1),
    deltas: flat(delta, 1),
    grads: { W_in: gWin, W_rec: gWrec, b: gb, W_out: gWout, b_out: gbout },
    omegaGrad,
    h0Grad: g.flatMap((seq) => seq[1]),
  };
}

function headTerm(
  head: Head,
  z: number[],
  p: TrainingProblem,
  b: number,
  t: number,
  outputs: number[],
): { loss: number; grad: number[] } {
  const O = z.length;
  if (head === 'last-softmax' || head === 'softmax') {
    const y = head === 'softmax' ? p.targets[b * p.time + t] : p.targets[b];
    const mx = Math.max(...z);
    const e = z.map((v) => Math.exp(v - mx));
    const s = e.reduce((x, v) => x + v, 0);
    const prob = e.map((v) => v / s);
    outputs.push(...prob);
    return { loss: mx + Math.log(s) - z[y], grad: prob.map((q, k) => q - (k === y ? 1 : 0)) };
  }
  if (head === 'last-linear') {
    outputs.push(...z);
    const d = z.map((v, k) => v - p.targets[b * O + k]);
    return { loss: d.reduce((x, v) => x + v * v, 0), grad: d.map((v) => 2 * v) };
  }
  const y = Array.from({ length: O }, (_, k) => p.targets[(b * p.time + t) * O + k]);
  outputs.push(...z.map(sig));
  return {
    loss: z.reduce((x, v, k) => x + Math.max(v, 0) - y[k] * v + Math.log1p(Math.exp(-Math.abs(v))), 0),
    grad: z.map((v, k) => sig(v) - y[k]),
  };
}

/** Ω and ∂Ω/∂W_rec (δ, a held constant): ∂‖a W_recᵀ‖²/∂W_rec[i][j] = 2 g_i a_j. */
function omega64(
  variant: OmegaVariant | undefined,
  Wrec: Float32Array,
  H: number,
  B: number,
  T: number,
  delta: number[][][],
  a: number[][][],
  g: number[][][],
): { omega: number; omegaGrad: number[] } {
  if (!variant) return { omega: 0, omegaGrad: [] };
  void Wrec;
  const rows: { r: number; nd: number; b: number; t: number }[] = [];
  for (let b = 0; b < B; b++) {
    for (let t = 1; t <= T; t++) {
      const nd = delta[b][t].reduce((x, v) => x + v * v, 0);
      if (nd < 1e-20) continue;
      const ng = g[b][t].reduce((x, v) => x + v * v, 0);
      rows.push({ r: ng / nd, nd, b, t });
    }
  }
  const c = variant === 'code' ? (rows.length ? 1 / rows.length : 0) : 1 / B;
  let omega = 0;
  const grad = new Array(H * H).fill(0);
  for (const { r, nd, b, t } of rows) {
    omega += c * (r - 1) ** 2;
    const s = (c * 2 * (r - 1) * 2) / nd;
    for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) grad[i * H + j] += s * g[b][t][i] * a[b][t][j];
  }
  return { omega, omegaGrad: grad };
}

/** Loss of the problem in float64 (for finite differences of the reference itself). */
export function loss64(p: TrainingProblem): number {
  return reference64({ ...p, omega: undefined }).loss;
}

/** Small deterministic pseudo-random numbers. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export interface ProblemOptions {
  batch: number;
  time: number;
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  activation: 'tanh' | 'sigmoid';
  head: Head;
  oneHot?: boolean;
  /** binary inputs with about 10% ones (a piano roll) */
  multiHot?: boolean;
  mask?: boolean;
  h0?: boolean;
  omega?: OmegaVariant;
  scale?: number;
  seed?: number;
}

/** A random problem: weights N-ish(0, scale), inputs one-hot or uniform, targets per head. */
export function randomProblem(o: ProblemOptions): TrainingProblem {
  const rand = lcg(o.seed ?? 1);
  const { batch: B, time: T, inputSize: I, hiddenSize: H, outputSize: O } = o;
  const scale = o.scale ?? 0.5;
  const fill = (n: number, s: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * s);
  const inputs = new Float32Array(B * T * I);
  for (let r = 0; r < B * T; r++) {
    if (o.multiHot) {
      for (let i = 0; i < I; i++) inputs[r * I + i] = rand() < 0.1 ? 1 : 0;
    } else if (o.oneHot) {
      // every seventh row all zero (a padded step), as one-hot data may have
      if (r % 7 !== 3) inputs[r * I + Math.floor(rand() * I)] = 1;
    } else {
      for (let i = 0; i < I; i++) inputs[r * I + i] = rand() * 2 - 1;
    }
  }
  let targets: Int32Array | Float32Array;
  switch (o.head) {
    case 'last-softmax':
      targets = Int32Array.from({ length: B }, () => Math.floor(rand() * O));
      break;
    case 'softmax':
      targets = Int32Array.from({ length: B * T }, () => Math.floor(rand() * O));
      break;
    case 'last-linear':
      targets = fill(B * O, 1);
      break;
    default:
      targets = Float32Array.from({ length: B * T * O }, () => (rand() < 0.3 ? 1 : 0));
  }
  return {
    batch: B,
    time: T,
    inputSize: I,
    hiddenSize: H,
    outputSize: O,
    activation: o.activation,
    head: o.head,
    weights: {
      W_in: fill(I * H, scale),
      W_rec: fill(H * H, (scale * 2) / Math.sqrt(H)),
      b: fill(H, 0.1),
      W_out: fill(H * O, scale),
      b_out: fill(O, 0.1),
    },
    inputs,
    targets,
    mask: o.mask ? Float32Array.from({ length: B * T }, (_, i) => (i % 5 === 2 ? 0 : 1)) : undefined,
    h0: o.h0 ? fill(B * H, 0.5) : undefined,
    omega: o.omega,
  };
}

/** ‖a − b‖ / max(‖a‖, ‖b‖, floor). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
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
