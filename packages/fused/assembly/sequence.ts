// The fused recurrent pass, in phases that a second thread can share: forward over T steps and
// BPTT split by batch rows, the head split by time steps, the weight gradients (products over all
// T·B rows at once) split by output columns. `train` runs every phase on the whole range.
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
  F_SCRATCH1,
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
import { exp4, flushTiny, hsum, log1pUnit4, madd, sigmoid4, splat, squares64, tanh4 } from './simd';

const HEAD_LAST_SOFTMAX: i32 = 0;
const HEAD_LAST_LINEAR: i32 = 2;
const HEAD_SIGMOID: i32 = 3;

/** Rows with ‖δ_t‖² below this are left out of Ω (the authors' code). */
const OMEGA_MIN_NORM2: f64 = 1e-20;

function isLastHead(head: i32): bool {
  return head === HEAD_LAST_SOFTMAX || head === HEAD_LAST_LINEAR;
}

/** Bytes of one time slice [B][Hp]. */
function stepBytes(plan: usize): usize {
  return (<usize>field(plan, F_B) * <usize>field(plan, F_HP)) << 2;
}

/** Packs the weight operands once per call: W_rec and W_recᵀ (forward, BPTT), W_out and W_outᵀ. */
/** The packing scratch of a thread (0: the calling one, 1: the worker): SCRATCH or SCRATCH1. */
function scratchOf(plan: usize, thread: i32): usize {
  return ptr(plan, thread ? F_SCRATCH1 : F_SCRATCH);
}

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

/** σ in place over `rows` rows of Hp, then the padding columns [H, Hp) set to 0. */
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

/** dst += src over a row of n floats (n a multiple of 4). */
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

/**
 * Forward for batch rows [b0, b1): the input products of every step first (a row sum for sparse
 * inputs, one GEMM for dense ones), then S_t = σ(S_{t-1} W_rec + ·) step by step. S_0 holds h0.
 * `thread` (0 or 1) picks the scratch A is packed into.
 */
export function forwardRows(plan: usize, b0: i32, b1: i32, thread: i32): void {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const H = field(plan, F_H);
  const Hp = field(plan, F_HP);
  const Ip = field(plan, F_IP);
  const act = field(plan, F_ACT);
  const S = ptr(plan, F_S);
  const bias = ptr(plan, F_BIAS);
  const step = stepBytes(plan);
  const rowBytes = (<usize>Hp) << 2;
  const rows = b1 - b0;
  const first = <usize>b0 * rowBytes;
  const scratch = scratchOf(plan, thread);
  if (field(plan, F_SPARSE)) {
    const Win = ptr(plan, F_WIN);
    const starts = ptr(plan, F_IDX);
    const cols = ptr(plan, F_COLS);
    const vals = ptr(plan, F_VALS);
    for (let t = 0; t < T; t++) {
      for (let b = b0; b < b1; b++) {
        const r = t * B + b;
        const dst = S + step + <usize>r * rowBytes;
        memory.copy(dst, bias, rowBytes);
        const end = load<i32>(starts + ((<usize>(r + 1)) << 2));
        for (let q = load<i32>(starts + ((<usize>r) << 2)); q < end; q++) {
          const k = load<i32>(cols + ((<usize>q) << 2));
          addScaledRow(dst, Win + <usize>k * rowBytes, load<f32>(vals + ((<usize>q) << 2)), Hp);
        }
      }
    }
  } else if (rows === B) {
    fillRows(S + step, T * B, bias, Hp);
    gemmNN(ptr(plan, F_U), Ip, T * B, Ip, ptr(plan, F_WINP), Hp, S + step, Hp, true, scratch);
  } else {
    const U = ptr(plan, F_U);
    for (let t = 0; t < T; t++) {
      const dst = S + <usize>(t + 1) * step + first;
      fillRows(dst, rows, bias, Hp);
      const u = U + ((<usize>(t * B + b0) * <usize>Ip) << 2);
      gemmNN(u, Ip, rows, Ip, ptr(plan, F_WINP), Hp, dst, Hp, true, scratch);
    }
  }
  const WrecP = ptr(plan, F_WRECP);
  for (let t = 1; t <= T; t++) {
    const prev = S + <usize>(t - 1) * step + first;
    const cur = prev + step;
    gemmNN(prev, Hp, rows, Hp, WrecP, Hp, cur, Hp, true, scratch);
    activate(cur, rows, H, Hp, act);
  }
}

/** Softmax of a row of O logits (stride padded to 4) in place; returns log Σ exp. */
function softmaxRow(z: usize, O: i32): f64 {
  let mx = load<f32>(z);
  for (let j = 1; j < O; j++) mx = max(mx, load<f32>(z + ((<usize>j) << 2)));
  const m = splat(mx);
  let sum = splat(0);
  for (let j = 0; j < O; j += 4) {
    const q = z + ((<usize>j) << 2);
    let e = exp4(f32x4.sub(v128.load(q), m));
    if (j + 4 > O) {
      // lanes past O are padding: no probability mass
      const lane = i32x4.add(i32x4.splat(j), v128(0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0));
      e = v128.and(e, i32x4.lt_s(lane, i32x4.splat(O)));
    }
    v128.store(q, e);
    sum = f32x4.add(sum, e);
  }
  const total = hsum(sum);
  const inv = splat(<f32>1 / total);
  for (let j = 0; j < O; j += 4) {
    const q = z + ((<usize>j) << 2);
    v128.store(q, f32x4.mul(v128.load(q), inv));
  }
  return <f64>mx + Math.log(<f64>total);
}

/**
 * The sigmoid head on a row of O logits: probabilities (inference) or, with targets y, the
 * binary cross-entropy softplus(z) − y z summed over units (returned) and g·(σ(z) − y) in place.
 */
function sigmoidRow(z: usize, O: i32, y: usize, g: f32, train: bool): f64 {
  let loss = splat(0);
  const zero = splat(0);
  const one = splat(1);
  const gv = splat(g);
  const full = O & ~3;
  for (let j = 0; j < full; j += 4) {
    const q = z + ((<usize>j) << 2);
    const v = v128.load(q);
    const e = exp4(f32x4.neg(f32x4.abs(v)));
    const inv = f32x4.div(one, f32x4.add(one, e));
    const p = v128.bitselect(inv, f32x4.mul(e, inv), f32x4.ge(v, zero));
    if (!train) {
      v128.store(q, p);
      continue;
    }
    const yy = v128.load(y + ((<usize>j) << 2));
    loss = f32x4.add(loss, f32x4.sub(f32x4.add(f32x4.max(v, zero), log1pUnit4(e)), f32x4.mul(yy, v)));
    v128.store(q, f32x4.mul(f32x4.sub(p, yy), gv));
  }
  let tail: f64 = 0;
  for (let j = full; j < O; j++) {
    const q = z + ((<usize>j) << 2);
    const v = load<f32>(q);
    const e = Mathf.exp(-Mathf.abs(v));
    const p: f32 = v >= 0 ? 1 / (1 + e) : e / (1 + e);
    if (!train) {
      store<f32>(q, p);
      continue;
    }
    const yy = load<f32>(y + ((<usize>j) << 2));
    tail += <f64>max(v, 0) - <f64>yy * <f64>v + Math.log1p(<f64>e);
    store<f32>(q, (p - yy) * g);
  }
  return <f64>hsum(loss) + tail;
}

/** Σ of the mask (per-step heads), at least 1: the loss is Σ mask·loss / max(Σ mask, 1). */
function lossCount(plan: usize): f64 {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  if (isLastHead(field(plan, F_HEAD))) return <f64>B;
  if (!field(plan, F_MASK)) return <f64>(B * T);
  const mask = ptr(plan, F_MASKP);
  let count: f64 = 0;
  for (let i = 0; i < B * T; i++) count += <f64>load<f32>(mask + ((<usize>i) << 2));
  return max(count, 1);
}

/**
 * The output head for time steps [t0, t1) (per-step heads; last-step heads read h_T and ignore
 * the range): logits Z = h W_out + b_out as one product, then probabilities (softmax, sigmoid) or
 * values (linear) in Z. With `train`: ∂loss/∂z in Z, the direct error signals dZ W_outᵀ in DELTA,
 * and the return value is this range's share of the loss.
 * `thread` (0 or 1) picks the scratch A is packed into.
 */
export function headSteps(plan: usize, t0: i32, t1: i32, train: bool, thread: i32): f64 {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const O = field(plan, F_O);
  const Hp = field(plan, F_HP);
  const Op = field(plan, F_OP);
  const hd = field(plan, F_HEAD);
  const last = isLastHead(hd);
  if (last) {
    t0 = T - 1;
    t1 = T;
  }
  const S = ptr(plan, F_S);
  const step = stepBytes(plan);
  const zRow = (<usize>Op) << 2;
  const rows = (t1 - t0) * B;
  const Z = ptr(plan, F_Z) + (last ? 0 : <usize>(t0 * B) * zRow);
  fillRows(Z, rows, ptr(plan, F_BOUT), Op);
  const scratch = scratchOf(plan, thread);
  gemmNN(S + <usize>(t0 + 1) * step, Hp, rows, Hp, ptr(plan, F_WOUTP), Op, Z, Op, true, scratch);
  const targets = ptr(plan, F_TARGETS);
  const mask = field(plan, F_MASK) && !last ? ptr(plan, F_MASKP) : 0;
  const count = lossCount(plan);
  const scale: f32 = <f32>(1 / count);
  let loss: f64 = 0;
  for (let i = 0; i < rows; i++) {
    const z = Z + <usize>i * zRow;
    const t = t0 + i / B;
    const b = i % B;
    const bt = b * T + t;
    const m: f32 = mask ? load<f32>(mask + ((<usize>bt) << 2)) : 1;
    if (hd === HEAD_SIGMOID) {
      loss += <f64>m * sigmoidRow(z, O, targets + ((<usize>bt * <usize>O) << 2), m * scale, train);
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
    }
  }
  if (!train) return 0;
  // padding columns of ∂loss/∂z must be zero: they feed the batched weight-gradient products
  if (O < Op) {
    for (let i = 0; i < rows; i++) {
      const z = Z + <usize>i * zRow;
      for (let j = O; j < Op; j++) store<f32>(z + ((<usize>j) << 2), 0);
    }
  }
  const delta = ptr(plan, F_DELTA);
  if (last) memory.fill(delta, 0, <usize>(T - 1) * step);
  gemmNN(Z, Op, rows, Op, ptr(plan, F_WOUTTP), Hp, delta + <usize>t0 * step, Hp, false, scratch);
  return loss / count;
}

/**
 * BPTT for batch rows [b0, b1): δ_T = direct_T; a_t = δ_t ⊙ σ'(h_t); g_t = a_t W_recᵀ;
 * δ_{t-1} = direct_{t-1} + g_t. DELTA holds the direct terms on entry and δ_t on exit; g_1 =
 * ∂loss/∂h_0 is copied to DH0.
 * `thread` (0 or 1) picks the scratch A is packed into.
 */
export function backwardRows(plan: usize, b0: i32, b1: i32, thread: i32): void {
  const T = field(plan, F_T);
  const Hp = field(plan, F_HP);
  const act = field(plan, F_ACT);
  const S = ptr(plan, F_S);
  const delta = ptr(plan, F_DELTA);
  const A = ptr(plan, F_A);
  const G = ptr(plan, F_G);
  const WrecTP = ptr(plan, F_WRECTP);
  const step = stepBytes(plan);
  const rows = b1 - b0;
  const first = (<usize>b0 * <usize>Hp) << 2;
  const n4 = (rows * Hp) >> 2;
  const scratch = scratchOf(plan, thread);
  for (let t = T; t >= 1; t--) {
    const off = <usize>(t - 1) * step + first;
    const d = delta + off;
    const h = S + off + step;
    const a = A + off;
    if (t < T) {
      const g = G + off + step;
      for (let i = 0; i < n4; i++) {
        const o = (<usize>i) << 4;
        const dv = flushTiny(f32x4.add(v128.load(d + o), v128.load(g + o)));
        v128.store(d + o, dv);
        v128.store(a + o, flushTiny(f32x4.mul(dv, derivative(v128.load(h + o), act))));
      }
    } else {
      for (let i = 0; i < n4; i++) {
        const o = (<usize>i) << 4;
        v128.store(a + o, flushTiny(f32x4.mul(v128.load(d + o), derivative(v128.load(h + o), act))));
      }
    }
    gemmNN(a, Hp, rows, Hp, WrecTP, Hp, G + off, Hp, false, scratch);
  }
  memory.copy(ptr(plan, F_DH0) + first, G + first, (<usize>rows * <usize>Hp) << 2);
}

/** Σ of squares of a row of n floats (n a multiple of 4), accumulated in float64. */
function norm2(p: usize, n: i32): f64 {
  let s = f64x2.splat(0);
  for (let j = 0; j < n; j += 4) s = squares64(v128.load(p + ((<usize>j) << 2)), s);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/** Number of (t, b) rows, b in [b0, b1), with ‖δ_t‖² ≥ 1e-20: the rows that enter Ω. */
export function omegaValidRows(plan: usize, b0: i32, b1: i32): f64 {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const Hp = field(plan, F_HP);
  const delta = ptr(plan, F_DELTA);
  const rowBytes = (<usize>Hp) << 2;
  let valid: f64 = 0;
  for (let t = 0; t < T; t++) {
    for (let b = b0; b < b1; b++) {
      if (norm2(delta + <usize>(t * B + b) * rowBytes, Hp) >= OMEGA_MIN_NORM2) valid += 1;
    }
  }
  return valid;
}

/**
 * Ω (eq. 9-10) with δ_t and h_t held constant, for batch rows [b0, b1): r = ‖g_t‖² / ‖δ_t‖² with
 * g_t = a_t W_recᵀ (the BPTT product, already in G). Returns Σ (r − 1)² over valid rows; Ω = c·Σ
 * with c = 1/B ('paper') or 1/#valid ('code'). ∂Ω/∂W_rec = Σ s_t g_tᵀ a_t, s_t = c·2(r − 1)·2/‖δ_t‖²
 * (∂‖g‖²/∂W_rec[i][j] = 2 g_i a_j): G's rows are scaled in place by `scale`·s_t for that product.
 */
export function omegaScaleRows(plan: usize, b0: i32, b1: i32, c: f64, scale: f64): f64 {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const Hp = field(plan, F_HP);
  const delta = ptr(plan, F_DELTA);
  const G = ptr(plan, F_G);
  const rowBytes = (<usize>Hp) << 2;
  let sum: f64 = 0;
  for (let t = 0; t < T; t++) {
    for (let b = b0; b < b1; b++) {
      const r = <usize>(t * B + b) * rowBytes;
      const g = G + r;
      const nd = norm2(delta + r, Hp);
      let s: f32 = 0;
      if (nd >= OMEGA_MIN_NORM2) {
        const ratio = norm2(g, Hp) / nd;
        sum += (ratio - 1) * (ratio - 1);
        s = <f32>((scale * c * 4 * (ratio - 1)) / nd);
      }
      const sv = splat(s);
      for (let j = 0; j < Hp; j += 4) {
        const o = (<usize>j) << 2;
        v128.store(g + o, f32x4.mul(v128.load(g + o), sv));
      }
    }
  }
  return sum;
}

/** dst[n0, n1) = Σ over rows of src [rows][ld], columns [n0, n1) (multiples of 4). */
function columnSums(src: usize, rows: i32, ld: i32, n0: i32, n1: i32, dst: usize): void {
  const o = (<usize>n0) << 2;
  memory.fill(dst + o, 0, (<usize>(n1 - n0)) << 2);
  for (let r = 0; r < rows; r++) addRow(dst + o, src + ((<usize>r * <usize>ld) << 2) + o, n1 - n0);
}

/**
 * Weight gradients for hidden columns [n0, n1) and output columns [o0, o1), each one product over
 * all T·B rows: dW_rec = Σ_t h_{t-1}ᵀ a_t (+ α Σ_t (s_t g_t)ᵀ a_t when Ω is combined: the same
 * product, its left operand summed while packing), dW_in = Σ_t u_tᵀ a_t (a scatter for sparse
 * inputs), db = Σ a_t, dW_out = Σ_t h_tᵀ dz_t, db_out = Σ dz_t. `thread` picks the scratch.
 */
export function gradientColumns(plan: usize, n0: i32, n1: i32, o0: i32, o1: i32, thread: i32): void {
  const B = field(plan, F_B);
  const T = field(plan, F_T);
  const Hp = field(plan, F_HP);
  const Ip = field(plan, F_IP);
  const Op = field(plan, F_OP);
  const S = ptr(plan, F_S);
  const A = ptr(plan, F_A);
  const Z = ptr(plan, F_Z);
  const scratch = scratchOf(plan, thread);
  const rows = T * B;
  const n = n1 - n0;
  const no = (<usize>n0) << 2;
  if (n > 0) {
    const combined = field(plan, F_OMEGA) !== 0 && field(plan, F_COMBINE) !== 0;
    const G = combined ? ptr(plan, F_G) : 0;
    gemmTN(S, G, Hp, Hp, rows, A + no, Hp, n, ptr(plan, F_DWREC) + no, Hp, false, scratch);
    columnSums(A, rows, Hp, n0, n1, ptr(plan, F_DB));
    const dWin = ptr(plan, F_DWIN);
    if (field(plan, F_SPARSE)) {
      for (let i = 0; i < Ip; i++) memory.fill(dWin + ((<usize>i * <usize>Hp) << 2) + no, 0, (<usize>n) << 2);
      const starts = ptr(plan, F_IDX);
      const cols = ptr(plan, F_COLS);
      const vals = ptr(plan, F_VALS);
      for (let r = 0; r < rows; r++) {
        const a = A + ((<usize>r * <usize>Hp) << 2) + no;
        const end = load<i32>(starts + ((<usize>(r + 1)) << 2));
        for (let q = load<i32>(starts + ((<usize>r) << 2)); q < end; q++) {
          const k = load<i32>(cols + ((<usize>q) << 2));
          addScaledRow(dWin + ((<usize>k * <usize>Hp) << 2) + no, a, load<f32>(vals + ((<usize>q) << 2)), n);
        }
      }
    } else {
      gemmTN(ptr(plan, F_U), 0, Ip, Ip, rows, A + no, Hp, n, dWin + no, Hp, false, scratch);
    }
  }
  if (o1 > o0) {
    const last = isLastHead(field(plan, F_HEAD));
    const from = S + (last ? <usize>T : 1) * stepBytes(plan);
    const zRows = last ? B : rows;
    const oo = (<usize>o0) << 2;
    gemmTN(from, 0, Hp, Hp, zRows, Z + oo, Op, o1 - o0, ptr(plan, F_DWOUT) + oo, Op, false, scratch);
    columnSums(Z, zRows, Op, o0, o1, ptr(plan, F_DBOUT));
  }
}

/** ∂Ω/∂W_rec for columns [n0, n1) into DOMEGA: Σ_t (s_t g_t)ᵀ a_t (G scaled by omegaScaleRows). */
export function omegaProduct(plan: usize, n0: i32, n1: i32, thread: i32): void {
  const Hp = field(plan, F_HP);
  const rows = field(plan, F_T) * field(plan, F_B);
  const no = (<usize>n0) << 2;
  const scratch = scratchOf(plan, thread);
  gemmTN(
    ptr(plan, F_G),
    0,
    Hp,
    Hp,
    rows,
    ptr(plan, F_A) + no,
    Hp,
    n1 - n0,
    ptr(plan, F_DOMEGA) + no,
    Hp,
    false,
    scratch,
  );
}

/** Ω's normaliser: 1/B ('paper', code 1) or 1/#valid rows ('code', code 2; 0 when none). */
export function omegaNormaliser(plan: usize, valid: f64): f64 {
  if (field(plan, F_OMEGA) === 2) return valid > 0 ? 1 / valid : 0;
  return 1 / <f64>field(plan, F_B);
}

/** Forward pass for inference: states, then head outputs in Z. Inputs and weights prepared. */
export function forward(plan: usize): void {
  forwardRows(plan, 0, field(plan, F_B), 0);
  headSteps(plan, 0, field(plan, F_T), false, 0);
}

/**
 * One training pass on one thread: loss, every gradient, δ_t, and Ω with ∂Ω/∂W_rec when F_OMEGA
 * is set (into DOMEGA, or summed into dW_rec with weight α when F_COMBINE is set). Results: f64
 * loss, Ω and the number of rows in Ω at F_RESULT.
 */
export function train(plan: usize): void {
  const B = field(plan, F_B);
  const Hp = field(plan, F_HP);
  forwardRows(plan, 0, B, 0);
  const loss = headSteps(plan, 0, field(plan, F_T), true, 0);
  backwardRows(plan, 0, B, 0);
  const withOmega = field(plan, F_OMEGA) !== 0;
  const combined = withOmega && field(plan, F_COMBINE) !== 0;
  let omega: f64 = 0;
  let valid: f64 = 0;
  if (withOmega) {
    valid = omegaValidRows(plan, 0, B);
    const c = omegaNormaliser(plan, valid);
    const scale: f64 = combined ? <f64>load<f32>(plan + ((<usize>F_ALPHA) << 2)) : 1;
    omega = c * omegaScaleRows(plan, 0, B, c, scale);
  }
  gradientColumns(plan, 0, Hp, 0, field(plan, F_OP), 0);
  if (withOmega && !combined) omegaProduct(plan, 0, Hp, 0);
  const result = ptr(plan, F_RESULT);
  store<f64>(result, loss);
  store<f64>(result, omega, 8);
  store<f64>(result, valid, 16);
}
