/**
 * An independent plain-JS (float64) training step of the paper's RNN, for the tests: loss,
 * BPTT gradients, optional global-norm clipping (paper Algorithm 1) and the SGD update, with every
 * multiply-add of the matrix products counted, so FLOP counts and losses of the benchmarked
 * stacks can be checked against it.
 */
import type { BenchConfig } from '../configs.js';
import type { BatchData, InitialWeights } from '../data.js';

type Weights = Record<keyof InitialWeights, Float64Array>;

export interface PlainStep {
  loss: number;
  /** weights after the update */
  next: InitialWeights;
  /** multiply-adds in the matrix products of forward and backward */
  macs: number;
  gradNorm: number;
}

const act = (x: number, kind: BenchConfig['activation']) =>
  kind === 'tanh' ? Math.tanh(x) : 1 / (1 + Math.exp(-x));
const actDeriv = (h: number, kind: BenchConfig['activation']) => (kind === 'tanh' ? 1 - h * h : h * (1 - h));

export function plainTrainStep(
  config: BenchConfig,
  w0: InitialWeights,
  data: BatchData,
  options: { clip: boolean },
): PlainStep {
  const { batchSize: B, seqLen: T, inputSize: I, hiddenSize: H, outputSize: O, activation } = config;
  const w: Weights = {
    W_in: Float64Array.from(w0.W_in),
    W_rec: Float64Array.from(w0.W_rec),
    b: Float64Array.from(w0.b),
    W_out: Float64Array.from(w0.W_out),
    b_out: Float64Array.from(w0.b_out),
  };
  let macs = 0;
  const u = (b: number, t: number, i: number) => data.inputs[(b * T + t) * I + i];
  // forward: hs[b][t] (t = 0 is h_0 = 0)
  const hs: Float64Array[][] = [];
  for (let b = 0; b < B; b++) {
    const row = [new Float64Array(H)];
    for (let t = 0; t < T; t++) {
      const prev = row[t];
      const h = new Float64Array(H);
      for (let k = 0; k < H; k++) {
        let s = w.b[k];
        for (let i = 0; i < I; i++) s += u(b, t, i) * w.W_in[i * H + k];
        for (let j = 0; j < H; j++) s += prev[j] * w.W_rec[j * H + k];
        macs += I + H;
        h[k] = act(s, activation);
      }
      row.push(h);
    }
    hs.push(row);
  }
  const last = config.head.startsWith('last-');
  const outSteps = last ? [T - 1] : [...Array(T).keys()];
  const count = last ? B : B * T;
  const g: Weights = {
    W_in: new Float64Array(I * H),
    W_rec: new Float64Array(H * H),
    b: new Float64Array(H),
    W_out: new Float64Array(H * O),
    b_out: new Float64Array(O),
  };
  // direct[b][t] = ∂loss/∂h_t through the head
  const direct = hs.map(() => Array.from({ length: T }, () => new Float64Array(H)));
  let loss = 0;
  for (let b = 0; b < B; b++) {
    for (const t of outSteps) {
      const h = hs[b][t + 1];
      const z = new Float64Array(O);
      for (let o = 0; o < O; o++) {
        let s = w.b_out[o];
        for (let k = 0; k < H; k++) s += h[k] * w.W_out[k * O + o];
        z[o] = s;
      }
      macs += H * O;
      const dz = headLossAndGrad(config, data, b, t, z, (l) => {
        loss += l / count;
      });
      for (let o = 0; o < O; o++) {
        dz[o] /= count;
        g.b_out[o] += dz[o];
        for (let k = 0; k < H; k++) {
          g.W_out[k * O + o] += h[k] * dz[o];
          direct[b][t][k] += dz[o] * w.W_out[k * O + o];
        }
      }
      macs += 2 * H * O;
    }
  }
  // BPTT: δ_t = direct_t + a_{t+1} W_recᵀ,  a_t = δ_t ⊙ σ'(h_t)
  for (let b = 0; b < B; b++) {
    let carry = new Float64Array(H);
    for (let t = T - 1; t >= 0; t--) {
      const h = hs[b][t + 1];
      const prev = hs[b][t];
      const a = new Float64Array(H);
      for (let k = 0; k < H; k++) a[k] = (direct[b][t][k] + carry[k]) * actDeriv(h[k], activation);
      for (let k = 0; k < H; k++) {
        g.b[k] += a[k];
        for (let i = 0; i < I; i++) g.W_in[i * H + k] += u(b, t, i) * a[k];
        for (let j = 0; j < H; j++) g.W_rec[j * H + k] += prev[j] * a[k];
      }
      macs += H * (I + H);
      const next = new Float64Array(H);
      if (t > 0) {
        for (let j = 0; j < H; j++) {
          let s = 0;
          for (let k = 0; k < H; k++) s += a[k] * w.W_rec[j * H + k];
          next[j] = s;
        }
        macs += H * H;
      }
      carry = next;
    }
  }
  let sq = 0;
  for (const k of Object.keys(g) as (keyof Weights)[]) for (const v of g[k]) sq += v * v;
  const gradNorm = Math.sqrt(sq);
  const scale = options.clip && gradNorm > config.maxNorm ? config.maxNorm / gradNorm : 1;
  const next = {} as InitialWeights;
  for (const k of Object.keys(w) as (keyof Weights)[]) {
    next[k] = Float32Array.from(w[k], (v, i) => v - config.learningRate * scale * g[k][i]);
  }
  return { loss, next, macs, gradNorm };
}

/** The head's loss for one (b, t) and its gradient with respect to the logits z. */
function headLossAndGrad(
  config: BenchConfig,
  data: BatchData,
  b: number,
  t: number,
  z: Float64Array,
  addLoss: (l: number) => void,
): Float64Array {
  const O = config.outputSize;
  const T = config.seqLen;
  const dz = new Float64Array(O);
  if (config.head === 'last-softmax' || config.head === 'softmax') {
    const target = config.head === 'softmax' ? data.targets[b * T + t] : data.targets[b];
    const m = Math.max(...z);
    const e = Array.from(z, (v) => Math.exp(v - m));
    const sum = e.reduce((x, y) => x + y, 0);
    addLoss(-(z[target] - m - Math.log(sum)));
    for (let o = 0; o < O; o++) dz[o] = e[o] / sum - (o === target ? 1 : 0);
  } else if (config.head === 'sigmoid') {
    for (let o = 0; o < O; o++) {
      const y = data.targets[(b * T + t) * O + o];
      const p = 1 / (1 + Math.exp(-z[o]));
      addLoss(-(y * Math.log(p) + (1 - y) * Math.log(1 - p)));
      dz[o] = p - y;
    }
  } else {
    for (let o = 0; o < O; o++) {
      const d = z[o] - data.targets[b * O + o];
      addLoss(d * d);
      dz[o] = 2 * d;
    }
  }
  return dz;
}
