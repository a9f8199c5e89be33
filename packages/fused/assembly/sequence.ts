// The fused recurrent pass: forward over T steps, the output head and its loss, BPTT with the
// δ_t that Ω needs, the weight gradients batched over all steps, and Ω with its gradient.
import { gemmNN, gemmTN, packB, packBT } from './gemm';
import {
  F_A,
  F_ACT,
  F_ALPHA,
  F_B,
  F_BIAS,
  F_BOUT,
  F_COLS,
  F_COMBINE,
  F_DB,
  F_DBOUT,
  F_DELTA,
  F_DH0,
  F_DOMEGA,
  F_DWIN,
  F_DWOUT,
  F_DWREC,
  F_G,
  F_H,
  F_HEAD,
  F_HP,
  F_I,
  F_IDX,
  F_IP,
  F_MASK,
  F_MASKP,
  F_NNZMAX,
  F_O,
  F_OMEGA,
  F_OP,
  F_RAWIN,
  F_RESULT,
  F_S,
  F_SCRATCH,
  F_SPARSE,
  F_T,
  F_TARGETS,
  F_U,
  F_VALS,
  F_WIN,
  F_WINP,
  F_WOUT,
  F_WOUTP,
  F_WOUTTP,
  F_WREC,
  F_WRECP,
  F_WRECTP,
  F_Z,
  field,
  ptr,
} from './plan';
import { hsum, madd, sigmoid4, splat, tanh4 } from './simd';

const HEAD_LAST_SOFTMAX: i32 = 0;
const HEAD_SOFTMAX: i32 = 1;
const HEAD_LAST_LINEAR: i32 = 2;
const _HEAD_SIGMOID: i32 = 3;

/** Rows with ‖δ_t‖² below this are left out of Ω (the authors' code). */
const OMEGA_MIN_NORM2: f64 = 1e-20;

function isLastHead(head: i32): bool {
  return head === HEAD_LAST_SOFTMAX || head === HEAD_LAST_LINEAR;
}

/** Packs the weight operands once per call: W_rec and W_recᵀ (forward, BPTT), W_out and W_outᵀ. */
export function prepareWeights(plan: usize): void {
  const Hp = field(plan, F_HP);
  const Op = field(plan, F_OP);
  const Ip = field(plan, F_IP);
  packB(ptr(plan, F_WREC), Hp, Hp, Hp, ptr(plan, F_WRECP));
  packBT(ptr(plan, F_WREC), Hp, Hp, Hp, ptr(plan, F_WRECTP));
  packB(ptr(plan, F_WOUT), Op, Hp, Op, ptr(plan, F_WOUTP));
  packBT(ptr(plan, F_WOUT), Op, Op, Hp, ptr(plan, F_WOUTTP));
  if (field(plan, F_SPARSE) === 0) packB(ptr(plan, F_WIN), Hp, Ip, Hp, ptr(plan, F_WINP));
}

/**
 * Reads the inputs [B][T][I]. When at most a quarter of the entries are non-zero (one-hot symbols,
 * piano rolls) they become compressed rows, time-major: the input product becomes a sum of W_in
 * rows (a row lookup for one-hot) and ∂W_in a scatter. Otherwise a time-major copy [T][B][Ip]
 * feeds a GEMM. Returns 1 for the sparse form.
 */
export function prepareInputs(plan: usize): i32 {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const I = field(plan, F_I);
  const Ip = field(plan, F_IP);
  const raw = ptr(plan, F_RAWIN);
  const starts = ptr(plan, F_IDX);
  const cols = ptr(plan, F_COLS);
  const vals = ptr(plan, F_VALS);
  const cap = field(plan, F_NNZMAX);
  let nnz = 0;
  let sparse = 1;
  for (let t = 0; t < T && sparse; t++) {
    for (let b = 0; b < B; b++) {
      store<i32>(starts + ((<usize>(t * B + b)) << 2), nnz);
      const row = raw + ((<usize>(b * T + t) * <usize>I) << 2);
      for (let i = 0; i < I; i++) {
        const v = load<f32>(row + ((<usize>i) << 2));
        if (v === 0) continue;
        if (nnz >= cap) {
          sparse = 0;
          break;
        }
        store<i32>(cols + ((<usize>nnz) << 2), i);
        store<f32>(vals + ((<usize>nnz) << 2), v);
        nnz++;
      }
      if (!sparse) break;
    }
  }
  store<i32>(starts + ((<usize>(T * B)) << 2), nnz);
  if (!sparse) {
    const U = ptr(plan, F_U);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const dst = U + ((<usize>(t * B + b) * <usize>Ip) << 2);
        memory.copy(dst, raw + ((<usize>(b * T + t) * <usize>I) << 2), (<usize>I) << 2);
        for (let i = I; i < Ip; i++) store<f32>(dst + ((<usize>i) << 2), 0);
      }
    }
  }
  store<i32>(plan + ((<usize>F_SPARSE) << 2), sparse);
  return sparse;
}

/** σ in place over n4 vectors, then the padding columns [H, Hp) of each of `rows` rows set to 0. */
function activate(p: usize, rows: i32, H: i32, Hp: i32, act: i32): void {
  const n4 = (rows * Hp) >> 2;
  let q = p;
  if (act === 0) {
    for (let i = 0; i < n4; i++, q += 16) v128.store(q, tanh4(v128.load(q)));
  } else {
    for (let i = 0; i < n4; i++, q += 16) v128.store(q, sigmoid4(v128.load(q)));
  }
  if (H < Hp) {
    for (let r = 0; r < rows; r++) {
      const row = p + ((<usize>r * <usize>Hp) << 2);
      for (let j = H; j < Hp; j++) store<f32>(row + ((<usize>j) << 2), 0);
    }
  }
}

/** σ'(h) from the output h: tanh 1 − h², sigmoid h(1 − h). */
function derivative(h: v128, act: i32): v128 {
  const one = splat(1);
  if (act === 0) return f32x4.sub(one, f32x4.mul(h, h));
  return f32x4.mul(h, f32x4.sub(one, h));
}

/** Adds the row `src` [n floats, n a multiple of 4] to `dst`. */
function addRow(dst: usize, src: usize, n: i32): void {
  for (let j = 0; j < n; j += 4) {
    const o = (<usize>j) << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
}

/** dst += v · src over a row of n floats (n a multiple of 4); v = 1 adds exactly. */
function addScaledRow(dst: usize, src: usize, v: f32, n: i32): void {
  if (v === 1) {
    addRow(dst, src, n);
    return;
  }
  const vv = splat(v);
  for (let j = 0; j < n; j += 4) {
    const o = (<usize>j) << 2;
    v128.store(dst + o, madd(vv, v128.load(src + o), v128.load(dst + o)));
  }
}

/** Sets each of `rows` rows of width n (stride n) to `bias`. */
function fillRows(dst: usize, rows: i32, bias: usize, n: i32): void {
  const bytes = (<usize>n) << 2;
  for (let r = 0; r < rows; r++) memory.copy(dst + <usize>r * bytes, bias, bytes);
}

/** Forward over T steps: S_t = σ(S_{t-1} W_rec + u_t W_in + b), S_0 already holds h0. */
export function forwardStates(plan: usize): void {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const H = field(plan, F_H);
  const Hp = field(plan, F_HP);
  const Ip = field(plan, F_IP);
  const act = field(plan, F_ACT);
  const S = ptr(plan, F_S);
  const bias = ptr(plan, F_BIAS);
  const step = (<usize>B * <usize>Hp) << 2;
  // input products for all steps at once, written into S_1..S_T before the recurrence adds to them
  if (field(plan, F_SPARSE)) {
    const Win = ptr(plan, F_WIN);
    const starts = ptr(plan, F_IDX);
    const cols = ptr(plan, F_COLS);
    const vals = ptr(plan, F_VALS);
    const rowBytes = (<usize>Hp) << 2;
    for (let r = 0; r < T * B; r++) {
      const dst = S + step + <usize>r * rowBytes;
      memory.copy(dst, bias, rowBytes);
      const end = load<i32>(starts + ((<usize>(r + 1)) << 2));
      for (let q = load<i32>(starts + ((<usize>r) << 2)); q < end; q++) {
        const k = load<i32>(cols + ((<usize>q) << 2));
        addScaledRow(dst, Win + <usize>k * rowBytes, load<f32>(vals + ((<usize>q) << 2)), Hp);
      }
    }
  } else {
    fillRows(S + step, T * B, bias, Hp);
    gemmNN(ptr(plan, F_U), Ip, T * B, Ip, ptr(plan, F_WINP), Hp, S + step, Hp, true);
  }
  const WrecP = ptr(plan, F_WRECP);
  for (let t = 1; t <= T; t++) {
    const prev = S + <usize>(t - 1) * step;
    const cur = prev + step;
    gemmNN(prev, Hp, B, Hp, WrecP, Hp, cur, Hp, true);
    activate(cur, B, H, Hp, act);
  }
}

/** Softmax of one row of logits in place; returns log Σ exp (for the cross-entropy). */
function softmaxRow(z: usize, O: i32): f64 {
  let mx = load<f32>(z);
  for (let j = 1; j < O; j++) mx = max(mx, load<f32>(z + ((<usize>j) << 2)));
  let sum: f32 = 0;
  for (let j = 0; j < O; j++) {
    const e = Mathf.exp(load<f32>(z + ((<usize>j) << 2)) - mx);
    store<f32>(z + ((<usize>j) << 2), e);
    sum += e;
  }
  const inv: f32 = 1 / sum;
  for (let j = 0; j < O; j++) store<f32>(z + ((<usize>j) << 2), load<f32>(z + ((<usize>j) << 2)) * inv);
  return <f64>mx + Math.log(<f64>sum);
}

/**
 * The output head: logits Z = h W_out + b_out (for h_T, or for every step batched over all T),
 * then probabilities (softmax, sigmoid) or values (linear) in Z. With `train`, also the loss
 * (into the result block) and ∂loss/∂z in Z, then the direct error signals dZ W_outᵀ in DELTA.
 */
export function head(plan: usize, train: bool): void {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const O = field(plan, F_O);
  const Hp = field(plan, F_HP);
  const Op = field(plan, F_OP);
  const hd = field(plan, F_HEAD);
  const last = isLastHead(hd);
  const S = ptr(plan, F_S);
  const Z = ptr(plan, F_Z);
  const rows = last ? B : T * B;
  const from = last ? S + ((<usize>T * <usize>B * <usize>Hp) << 2) : S + ((<usize>B * <usize>Hp) << 2);
  fillRows(Z, rows, ptr(plan, F_BOUT), Op);
  gemmNN(from, Hp, rows, Hp, ptr(plan, F_WOUTP), Op, Z, Op, true);
  const targets = ptr(plan, F_TARGETS);
  const mask = field(plan, F_MASK) ? ptr(plan, F_MASKP) : 0;
  // the loss is a mean over batch rows (last heads) or over unmasked (batch, step) pairs
  let count: f64 = <f64>rows;
  if (!last && mask) {
    count = 0;
    for (let i = 0; i < B * T; i++) count += <f64>load<f32>(mask + ((<usize>i) << 2));
  }
  const scale: f32 = train && count > 0 ? <f32>(1 / count) : 0;
  let loss: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const z = Z + ((<usize>r * <usize>Op) << 2);
    // r = t * B + b for the every-step heads; targets and mask are batch-major [B][T]
    const t = last ? 0 : r / B;
    const b = last ? r : r % B;
    const bt = b * T + t;
    const m: f32 = mask && !last ? load<f32>(mask + ((<usize>bt) << 2)) : 1;
    if (hd === HEAD_LAST_SOFTMAX || hd === HEAD_SOFTMAX) {
      const y = train ? load<i32>(targets + ((<usize>(last ? b : bt)) << 2)) : 0;
      const zy = load<f32>(z + ((<usize>y) << 2));
      // −log p_y = log Σ exp z − z_y, exact even where p_y underflows
      const lse = softmaxRow(z, O);
      if (!train) continue;
      loss += <f64>m * (lse - <f64>zy);
      const g = m * scale;
      for (let j = 0; j < O; j++) {
        const q = z + ((<usize>j) << 2);
        store<f32>(q, (load<f32>(q) - (j === y ? <f32>1 : 0)) * g);
      }
    } else if (hd === HEAD_LAST_LINEAR) {
      if (!train) continue;
      const y = targets + ((<usize>b * <usize>O) << 2);
      for (let j = 0; j < O; j++) {
        const q = z + ((<usize>j) << 2);
        const d = load<f32>(q) - load<f32>(y + ((<usize>j) << 2));
        loss += <f64>d * <f64>d;
        store<f32>(q, 2 * d * scale);
      }
    } else {
      const y = targets + ((<usize>bt * <usize>O) << 2);
      const g = m * scale;
      for (let j = 0; j < O; j++) {
        const q = z + ((<usize>j) << 2);
        const v = load<f32>(q);
        // binary cross-entropy from the logit: softplus(v) − y v, stable for large |v|
        const e = Mathf.exp(-Mathf.abs(v));
        const p: f32 = v >= 0 ? 1 / (1 + e) : e / (1 + e);
        if (train) {
          const yy = load<f32>(y + ((<usize>j) << 2));
          loss += <f64>m * (<f64>max(v, 0) - <f64>yy * <f64>v + Math.log1p(<f64>e));
          store<f32>(q, (p - yy) * g);
        } else {
          store<f32>(q, p);
        }
      }
    }
  }
  if (!train) return;
  // padding columns of ∂loss/∂z must be zero: they feed the batched weight-gradient products
  for (let r = 0; r < rows; r++) {
    const z = Z + ((<usize>r * <usize>Op) << 2);
    for (let j = O; j < Op; j++) store<f32>(z + ((<usize>j) << 2), 0);
  }
  store<f64>(ptr(plan, F_RESULT), count > 0 ? loss / count : 0);
  const delta = ptr(plan, F_DELTA);
  const step = (<usize>B * <usize>Hp) << 2;
  if (last) {
    memory.fill(delta, 0, <usize>(T - 1) * step);
    gemmNN(Z, Op, B, Op, ptr(plan, F_WOUTTP), Hp, delta + <usize>(T - 1) * step, Hp, false);
  } else {
    gemmNN(Z, Op, T * B, Op, ptr(plan, F_WOUTTP), Hp, delta, Hp, false);
  }
}

/**
 * BPTT: δ_T = direct_T; a_t = δ_t ⊙ σ'(h_t); g_t = a_t W_recᵀ; δ_{t-1} = direct_{t-1} + g_t.
 * DELTA holds the direct terms on entry and δ_t on exit. g_1 = ∂loss/∂h_0 is copied to DH0.
 */
export function backward(plan: usize): void {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const Hp = field(plan, F_HP);
  const act = field(plan, F_ACT);
  const S = ptr(plan, F_S);
  const delta = ptr(plan, F_DELTA);
  const A = ptr(plan, F_A);
  const G = ptr(plan, F_G);
  const WrecTP = ptr(plan, F_WRECTP);
  const step = (<usize>B * <usize>Hp) << 2;
  const n4 = (B * Hp) >> 2;
  for (let t = T; t >= 1; t--) {
    const off = <usize>(t - 1) * step;
    const d = delta + off;
    const h = S + <usize>t * step;
    const a = A + off;
    if (t < T) {
      const g = G + off + step;
      for (let i = 0; i < n4; i++) {
        const o = (<usize>i) << 4;
        const dv = f32x4.add(v128.load(d + o), v128.load(g + o));
        v128.store(d + o, dv);
        v128.store(a + o, f32x4.mul(dv, derivative(v128.load(h + o), act)));
      }
    } else {
      for (let i = 0; i < n4; i++) {
        const o = (<usize>i) << 4;
        v128.store(a + o, f32x4.mul(v128.load(d + o), derivative(v128.load(h + o), act)));
      }
    }
    gemmNN(a, Hp, B, Hp, WrecTP, Hp, G + off, Hp, false);
  }
  memory.copy(ptr(plan, F_DH0), G, step);
}

/** dst[n] = Σ over rows of src [rows][n] (n a multiple of 4). */
function columnSums(src: usize, rows: i32, n: i32, dst: usize): void {
  memory.fill(dst, 0, (<usize>n) << 2);
  for (let r = 0; r < rows; r++) addRow(dst, src + ((<usize>r * <usize>n) << 2), n);
}

/**
 * Weight gradients, each one product over all T·B rows at once:
 * dW_rec = Σ_t h_{t-1}ᵀ a_t (+ α Σ_t (s_t g_t)ᵀ a_t when Ω is combined: the same product, its
 * left operand summed while packing), dW_in = Σ_t u_tᵀ a_t (a scatter for sparse inputs),
 * db = Σ a_t, dW_out = Σ_t h_tᵀ dz_t, db_out = Σ dz_t.
 */
export function weightGradients(plan: usize): void {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const Hp = field(plan, F_HP);
  const Ip = field(plan, F_IP);
  const Op = field(plan, F_OP);
  const S = ptr(plan, F_S);
  const A = ptr(plan, F_A);
  const Z = ptr(plan, F_Z);
  const scratch = ptr(plan, F_SCRATCH);
  const rows = T * B;
  const combined = field(plan, F_OMEGA) !== 0 && field(plan, F_COMBINE) !== 0;
  gemmTN(S, combined ? ptr(plan, F_G) : 0, Hp, Hp, rows, A, Hp, Hp, ptr(plan, F_DWREC), Hp, false, scratch);
  columnSums(A, rows, Hp, ptr(plan, F_DB));
  const dWin = ptr(plan, F_DWIN);
  if (field(plan, F_SPARSE)) {
    memory.fill(dWin, 0, (<usize>Ip * <usize>Hp) << 2);
    const starts = ptr(plan, F_IDX);
    const cols = ptr(plan, F_COLS);
    const vals = ptr(plan, F_VALS);
    for (let r = 0; r < rows; r++) {
      const a = A + ((<usize>r * <usize>Hp) << 2);
      const end = load<i32>(starts + ((<usize>(r + 1)) << 2));
      for (let q = load<i32>(starts + ((<usize>r) << 2)); q < end; q++) {
        const k = load<i32>(cols + ((<usize>q) << 2));
        addScaledRow(dWin + ((<usize>k * <usize>Hp) << 2), a, load<f32>(vals + ((<usize>q) << 2)), Hp);
      }
    }
  } else {
    gemmTN(ptr(plan, F_U), 0, Ip, Ip, rows, A, Hp, Hp, dWin, Hp, false, scratch);
  }
  const last = isLastHead(field(plan, F_HEAD));
  const from = last ? S + ((<usize>T * <usize>B * <usize>Hp) << 2) : S + ((<usize>B * <usize>Hp) << 2);
  const zRows = last ? B : rows;
  gemmTN(from, 0, Hp, Hp, zRows, Z, Op, Op, ptr(plan, F_DWOUT), Op, false, scratch);
  columnSums(Z, zRows, Op, ptr(plan, F_DBOUT));
}

/** Σ of squares of a row of n floats (n a multiple of 4). */
function norm2(p: usize, n: i32): f32 {
  let s = splat(0);
  for (let j = 0; j < n; j += 4) {
    const v = v128.load(p + ((<usize>j) << 2));
    s = madd(v, v, s);
  }
  return hsum(s);
}

/**
 * Ω (eq. 9-10) with δ_t and h_t held constant: r = ‖g_t‖² / ‖δ_t‖² with g_t = a_t W_recᵀ, per
 * (t, b) row where ‖δ_t‖² ≥ 1e-20. 'paper': Ω = Σ (r − 1)² / B; 'code': the mean over valid rows.
 * ∂Ω/∂W_rec = Σ s_t g_tᵀ a_t with s_t = c·2(r − 1)·2/‖δ_t‖² (∂‖g‖²/∂W_rec[i][j] = 2 g_i a_j).
 * G's rows are scaled in place by `scale`·s_t; the product itself is left to the caller.
 */
function omegaTerms(plan: usize, scale: f64): void {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const Hp = field(plan, F_HP);
  const variant = field(plan, F_OMEGA);
  const delta = ptr(plan, F_DELTA);
  const G = ptr(plan, F_G);
  const rows = T * B;
  const rowBytes = (<usize>Hp) << 2;
  let valid: f64 = 0;
  for (let r = 0; r < rows; r++) {
    if (<f64>norm2(delta + <usize>r * rowBytes, Hp) >= OMEGA_MIN_NORM2) valid += 1;
  }
  const c: f64 = variant === 2 ? (valid > 0 ? 1 / valid : 0) : 1 / <f64>B;
  let sum: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const g = G + <usize>r * rowBytes;
    const nd = <f64>norm2(delta + <usize>r * rowBytes, Hp);
    let s: f32 = 0;
    if (nd >= OMEGA_MIN_NORM2) {
      const ratio = <f64>norm2(g, Hp) / nd;
      sum += (ratio - 1) * (ratio - 1);
      s = <f32>((scale * c * 4 * (ratio - 1)) / nd);
    }
    const sv = splat(s);
    for (let j = 0; j < Hp; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(g + o, f32x4.mul(v128.load(g + o), sv));
    }
  }
  const result = ptr(plan, F_RESULT);
  store<f64>(result, sum * c, 8);
  store<f64>(result, valid, 16);
}

/** Ω's value and ∂Ω/∂W_rec on its own (into DOMEGA), after backward. */
export function omega(plan: usize): void {
  const T = field(plan, F_T);
  const B = field(plan, F_B);
  const Hp = field(plan, F_HP);
  omegaTerms(plan, 1);
  gemmTN(
    ptr(plan, F_G),
    0,
    Hp,
    Hp,
    T * B,
    ptr(plan, F_A),
    Hp,
    Hp,
    ptr(plan, F_DOMEGA),
    Hp,
    false,
    ptr(plan, F_SCRATCH),
  );
}

/** Forward pass for inference: states, then head outputs in Z. Inputs and weights prepared. */
export function forward(plan: usize): void {
  forwardStates(plan);
  head(plan, false);
}

/** One training pass: loss, every gradient, δ_t, and Ω with ∂Ω/∂W_rec when F_OMEGA is set. */
export function train(plan: usize): void {
  forwardStates(plan);
  head(plan, true);
  backward(plan);
  const withOmega = field(plan, F_OMEGA) !== 0;
  const combined = withOmega && field(plan, F_COMBINE) !== 0;
  // combined: G's rows scaled by α·s_t now, summed into dW_rec's product below
  if (combined) omegaTerms(plan, <f64>load<f32>(plan + ((<usize>F_ALPHA) << 2)));
  weightGradients(plan);
  if (withOmega && !combined) omega(plan);
}
