/**
 * The JavaScript sequence engine (the cpu backend's kernel): the same fused pass as the
 * WebAssembly module, over Float32Arrays, time-major inside: input products for all steps at once
 * (a row lookup for sparse inputs), one small product per step forward and backward, the output
 * and weight-gradient products batched over every step. No SIMD, so it is the slower engine; it
 * exists so the cpu backend runs the whole pass as one kernel too.
 */
import {
  isLastStepHead,
  OMEGA_BOUND,
  type SequenceEngine,
  type SequenceGradients,
  type SequenceOutputs,
  type SequenceProblem,
  type TrainingProblem,
  validateProblem,
} from '../problem.js';

type F32 = Float32Array;

/** C[i, :] (+)= Σ_k A[i, k] B[k, :] for M rows; A rows at aOff + i·lda, B [K][N], C rows at cOff + i·N. */
function gemmNN(
  A: F32,
  aOff: number,
  lda: number,
  M: number,
  K: number,
  B: F32,
  N: number,
  C: F32,
  cOff: number,
): void {
  for (let i = 0; i < M; i++) {
    const a = aOff + i * lda;
    const c = cOff + i * N;
    for (let k = 0; k < K; k++) {
      const v = A[a + k];
      if (v === 0) continue;
      const b = k * N;
      for (let j = 0; j < N; j++) C[c + j] += v * B[b + j];
    }
  }
}

/** C[i, j] = Σ_k A[i, k] B[j, k] (A [M][K] from aOff, B [N][K], C [M][N] from cOff): a product with Bᵀ. */
function gemmNT(A: F32, aOff: number, M: number, K: number, B: F32, N: number, C: F32, cOff: number): void {
  for (let i = 0; i < M; i++) {
    const a = aOff + i * K;
    for (let j = 0; j < N; j++) {
      const b = j * K;
      let s0 = 0;
      let s1 = 0;
      let k = 0;
      for (; k + 1 < K; k += 2) {
        s0 += A[a + k] * B[b + k];
        s1 += A[a + k + 1] * B[b + k + 1];
      }
      if (k < K) s0 += A[a + k] * B[b + k];
      C[cOff + i * N + j] = s0 + s1;
    }
  }
}

/** C [M][N] += Σ_r A[r, :]ᵀ B[r, :] over R rows (A rows of M from aOff, B rows of N from bOff). */
function gemmTN(A: F32, aOff: number, M: number, R: number, B: F32, bOff: number, N: number, C: F32): void {
  for (let r = 0; r < R; r++) {
    const a = aOff + r * M;
    const b = bOff + r * N;
    for (let i = 0; i < M; i++) {
      const v = A[a + i];
      if (v === 0) continue;
      const c = i * N;
      for (let j = 0; j < N; j++) C[c + j] += v * B[b + j];
    }
  }
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Error signals below this magnitude are set to 0, as in the WebAssembly engine (see assembly/simd.ts). */
const TINY = 1e-24;
const flush = (x: number) => (Math.abs(x) < TINY ? 0 : x);

/** The inputs as compressed rows (time-major) when at most a quarter is non-zero, else null. */
function sparseInputs(p: SequenceProblem): { starts: Int32Array; cols: Int32Array; vals: F32 } | null {
  const { batch: B, time: T, inputSize: I } = p;
  const cap = Math.ceil((B * T * I) / 4);
  const starts = new Int32Array(T * B + 1);
  const cols = new Int32Array(cap);
  const vals = new Float32Array(cap);
  let nnz = 0;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      starts[t * B + b] = nnz;
      const row = (b * T + t) * I;
      for (let i = 0; i < I; i++) {
        const v = p.inputs[row + i];
        if (v === 0) continue;
        if (nnz >= cap) return null;
        cols[nnz] = i;
        vals[nnz++] = v;
      }
    }
  }
  starts[T * B] = nnz;
  return { starts, cols, vals };
}

interface Forward {
  /** [T+1][B][H], S_0 = h0 */
  S: F32;
  sparse: ReturnType<typeof sparseInputs>;
  /** dense inputs time-major [T][B][I] (when not sparse) */
  U: F32 | null;
}

/** S_t = σ(S_{t-1} W_rec + u_t W_in + b) for t = 1..T. */
function forwardStates(p: SequenceProblem): Forward {
  const { batch: B, time: T, inputSize: I, hiddenSize: H } = p;
  const w = p.weights;
  const S = new Float32Array((T + 1) * B * H);
  if (p.h0) S.set(p.h0);
  const sparse = sparseInputs(p);
  let U: F32 | null = null;
  for (let r = 0; r < T * B; r++) S.set(w.b, (B + r) * H);
  if (sparse) {
    for (let r = 0; r < T * B; r++) {
      const dst = (B + r) * H;
      for (let q = sparse.starts[r]; q < sparse.starts[r + 1]; q++) {
        const v = sparse.vals[q];
        const src = sparse.cols[q] * H;
        for (let j = 0; j < H; j++) S[dst + j] += v * w.W_in[src + j];
      }
    }
  } else {
    U = new Float32Array(T * B * I);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++)
        U.set(p.inputs.subarray((b * T + t) * I, (b * T + t + 1) * I), (t * B + b) * I);
    }
    gemmNN(U, 0, I, T * B, I, w.W_in, H, S, B * H);
  }
  const act = p.activation === 'tanh' ? Math.tanh : sigmoid;
  for (let t = 1; t <= T; t++) {
    gemmNN(S, (t - 1) * B * H, H, B, H, w.W_rec, H, S, t * B * H);
    for (let i = t * B * H; i < (t + 1) * B * H; i++) S[i] = act(S[i]);
  }
  return { S, sparse, U };
}

/** Logits of the head's rows: h_T (last-step heads) or every h_t, [rows][O]. */
function logits(p: SequenceProblem, S: F32): F32 {
  const { batch: B, time: T, hiddenSize: H, outputSize: O } = p;
  const last = isLastStepHead(p.head);
  const rows = last ? B : T * B;
  const Z = new Float32Array(rows * O);
  for (let r = 0; r < rows; r++) Z.set(p.weights.b_out, r * O);
  gemmNN(S, (last ? T : 1) * B * H, H, rows, H, p.weights.W_out, O, Z, 0);
  return Z;
}

/** Softmax of row r of Z in place; returns log Σ exp. */
function softmaxRow(Z: F32, r: number, O: number): number {
  let mx = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < O; k++) mx = Math.max(mx, Z[r * O + k]);
  let sum = 0;
  for (let k = 0; k < O; k++) {
    const e = Math.exp(Z[r * O + k] - mx);
    Z[r * O + k] = e;
    sum += e;
  }
  for (let k = 0; k < O; k++) Z[r * O + k] /= sum;
  return mx + Math.log(sum);
}

/** Head outputs in place: probabilities (softmax, sigmoid) or values (linear). */
function headOutputs(p: SequenceProblem, Z: F32): void {
  const O = p.outputSize;
  const rows = Z.length / O;
  if (p.head === 'last-softmax' || p.head === 'softmax') for (let r = 0; r < rows; r++) softmaxRow(Z, r, O);
  else if (p.head === 'sigmoid') for (let i = 0; i < Z.length; i++) Z[i] = sigmoid(Z[i]);
}

/** The loss, and ∂loss/∂z in Z (rows time-major for per-step heads). */
function headLoss(p: TrainingProblem, Z: F32): number {
  const { batch: B, time: T, outputSize: O } = p;
  const last = isLastStepHead(p.head);
  const rows = last ? B : T * B;
  let count = rows;
  if (!last && p.mask) {
    count = 0;
    for (let i = 0; i < B * T; i++) count += p.mask[i];
    count = Math.max(count, 1);
  }
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const t = last ? 0 : Math.floor(r / B);
    const b = last ? r : r % B;
    const bt = b * T + t;
    const g = (!last && p.mask ? p.mask[bt] : 1) / count;
    if (p.head === 'last-softmax' || p.head === 'softmax') {
      const y = p.targets[last ? b : bt];
      const zy = Z[r * O + y];
      loss += g * (softmaxRow(Z, r, O) - zy);
      for (let k = 0; k < O; k++) Z[r * O + k] = (Z[r * O + k] - (k === y ? 1 : 0)) * g;
    } else if (p.head === 'last-linear') {
      for (let k = 0; k < O; k++) {
        const d = Z[r * O + k] - p.targets[b * O + k];
        loss += g * d * d;
        Z[r * O + k] = 2 * d * g;
      }
    } else {
      for (let k = 0; k < O; k++) {
        const v = Z[r * O + k];
        const y = p.targets[bt * O + k];
        loss += g * (Math.max(v, 0) - y * v + Math.log1p(Math.exp(-Math.abs(v))));
        Z[r * O + k] = (sigmoid(v) - y) * g;
      }
    }
  }
  return loss;
}

/** [T][B][n] (from offset) → [B][T][n]. */
function toBatchMajor(X: F32, off: number, T: number, B: number, n: number): F32 {
  const out = new Float32Array(B * T * n);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++)
      out.set(X.subarray(off + (t * B + b) * n, off + (t * B + b + 1) * n), (b * T + t) * n);
  }
  return out;
}

/** Ω's value and valid-row count; G's rows scaled by scale·s_t (see the WebAssembly module). */
function omegaTerms(p: TrainingProblem, D: F32, G: F32, scale: number): { omega: number; rows: number } {
  const { batch: B, time: T, hiddenSize: H } = p;
  const norm2 = (X: F32, r: number) => {
    let s = 0;
    for (let j = 0; j < H; j++) s += X[r * H + j] * X[r * H + j];
    return s;
  };
  let valid = 0;
  for (let r = 0; r < T * B; r++) if (norm2(D, r) >= OMEGA_BOUND) valid++;
  const c = p.omega === 'code' ? (valid > 0 ? 1 / valid : 0) : 1 / B;
  let sum = 0;
  for (let r = 0; r < T * B; r++) {
    const nd = norm2(D, r);
    let s = 0;
    if (nd >= OMEGA_BOUND) {
      const ratio = norm2(G, r) / nd;
      sum += (ratio - 1) ** 2;
      s = (scale * c * 4 * (ratio - 1)) / nd;
    }
    for (let j = 0; j < H; j++) G[r * H + j] *= s;
  }
  return { omega: sum * c, rows: valid };
}

export const jsSequenceEngine: SequenceEngine = {
  name: 'js',

  forward(p: SequenceProblem): SequenceOutputs {
    validateProblem(p, false);
    const { batch: B, time: T, hiddenSize: H, outputSize: O } = p;
    const { S } = forwardStates(p);
    const Z = logits(p, S);
    headOutputs(p, Z);
    const outputs = isLastStepHead(p.head) ? Z : toBatchMajor(Z, 0, T, B, O);
    return { outputs, states: toBatchMajor(S, B * H, T, B, H) };
  },

  train(p: TrainingProblem): SequenceGradients {
    validateProblem(p, true);
    const { batch: B, time: T, inputSize: I, hiddenSize: H, outputSize: O } = p;
    const w = p.weights;
    const { S, sparse, U } = forwardStates(p);
    const Z = logits(p, S);
    const loss = headLoss(p, Z);
    for (let i = 0; i < Z.length; i++) Z[i] = flush(Z[i]);
    const last = isLastStepHead(p.head);
    // direct terms dz W_outᵀ, then BPTT: a_t = δ_t ⊙ σ'(h_t), g_t = a_t W_recᵀ, δ_{t-1} += g_t
    const D = new Float32Array(T * B * H);
    gemmNT(Z, 0, last ? B : T * B, O, w.W_out, H, D, last ? (T - 1) * B * H : 0);
    const A = new Float32Array(T * B * H);
    const G = new Float32Array(T * B * H);
    const tanh = p.activation === 'tanh';
    for (let t = T; t >= 1; t--) {
      const off = (t - 1) * B * H;
      const hOff = t * B * H;
      for (let i = 0; i < B * H; i++) {
        D[off + i] = flush(t < T ? D[off + i] + G[off + B * H + i] : D[off + i]);
        const h = S[hOff + i];
        A[off + i] = flush(D[off + i] * (tanh ? 1 - h * h : h * (1 - h)));
      }
      gemmNT(A, off, B, H, w.W_rec, H, G, off);
    }
    const h0Grad = G.slice(0, B * H);
    let omega = 0;
    let omegaRows = 0;
    const combine = p.omega !== undefined && p.omegaWeight !== undefined;
    if (p.omega) ({ omega, rows: omegaRows } = omegaTerms(p, D, G, combine ? p.omegaWeight! : 1));
    const dWrec = new Float32Array(H * H);
    gemmTN(S, 0, H, T * B, A, 0, H, dWrec);
    if (combine) gemmTN(G, 0, H, T * B, A, 0, H, dWrec);
    const db = new Float32Array(H);
    for (let r = 0; r < T * B; r++) for (let j = 0; j < H; j++) db[j] += A[r * H + j];
    const dWin = new Float32Array(I * H);
    if (sparse) {
      for (let r = 0; r < T * B; r++) {
        for (let q = sparse.starts[r]; q < sparse.starts[r + 1]; q++) {
          const v = sparse.vals[q];
          const dst = sparse.cols[q] * H;
          for (let j = 0; j < H; j++) dWin[dst + j] += v * A[r * H + j];
        }
      }
    } else {
      gemmTN(U!, 0, I, T * B, A, 0, H, dWin);
    }
    const zRows = last ? B : T * B;
    const dWout = new Float32Array(H * O);
    gemmTN(S, (last ? T : 1) * B * H, H, zRows, Z, 0, O, dWout);
    const dbout = new Float32Array(O);
    for (let r = 0; r < zRows; r++) for (let k = 0; k < O; k++) dbout[k] += Z[r * O + k];
    let omegaGrad = new Float32Array(0);
    if (p.omega && !combine) {
      omegaGrad = new Float32Array(H * H);
      gemmTN(G, 0, H, T * B, A, 0, H, omegaGrad);
    }
    const out: SequenceGradients = {
      loss,
      omega,
      omegaRows,
      grads: { W_in: dWin, W_rec: dWrec, b: db, W_out: dWout, b_out: dbout },
      omegaGrad,
      h0Grad,
      lastState: S.slice(T * B * H, (T + 1) * B * H),
    };
    if (p.keepSequences) {
      out.states = toBatchMajor(S, B * H, T, B, H);
      out.deltas = toBatchMajor(D, 0, T, B, H);
    }
    return out;
  },

  trainMany(problems: TrainingProblem[], each: (r: SequenceGradients, i: number) => void): void {
    problems.forEach((p, i) => {
      each(jsSequenceEngine.train(p), i);
    });
  },
};
