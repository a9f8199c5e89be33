/**
 * The fused pass as WGSL compute programs for the tfjs webgpu backend (run through
 * backend.runWebGPUProgram). Sizes, head, activation and flags are uniforms, so each program
 * compiles once per process whatever the shape. The two recurrences (forward over T, BPTT) run in
 * one workgroup that loops over time with a storage barrier between steps; everything batched over
 * time (the head, Ω's terms, the weight gradients) is one invocation per output element.
 *
 * Layouts: S [(T+1)][B][H] states with S_0 = h0; Z [rows][O] logits → ∂loss/∂z (rows batch-major,
 * then one loss share per row); P = [δ | a | g], each [T][B][H]; Ω stats [Σ(r−1)², #valid, s_r…].
 *
 * Ensembles: every program also runs R independent runs of one shape at once (uniform R, the run
 * = workgroup_id.y). Each buffer then holds R of the layouts above back to back, inputs stacked
 * on a leading run axis, so one dispatch advances every run; R = 1 is the single-run kernel.
 */

import { ENSEMBLE_RUN_COLUMNS, ENSEMBLE_STATS, SAFEGUARD_NORM, SAFEGUARD_SHRINK } from './kernels.js';

/** The subset of tfjs-backend-webgpu's WebGPUProgram these programs fill in. */
export interface FusedWebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms: string;
  size?: boolean;
  getUserCode(): string;
}

/** Every program takes the same uniforms, in this order (see `uniformData`). */
export const UNIFORMS =
  'B : i32, T : i32, I : i32, H : i32, O : i32, head : i32, act : i32, flags : i32, alpha : f32, offset : i32, mode : i32, R : i32,';

export const FLAG_H0 = 1;
export const FLAG_MASK = 2;
export const FLAG_TRAIN = 4;
export const FLAG_OMEGA_CODE = 8;
export const FLAG_COMBINE = 16;
export const FLAG_OMEGA = 32;

const WG = 256;
const FLAT = 64;

/** Column c of run `run`'s row of the ensembles' `runs` table [R, 5] (ENSEMBLE_RUN_COLUMNS). */
const column = (name: (typeof ENSEMBLE_RUN_COLUMNS)[number], run = 'run') =>
  `f32(runs[${ENSEMBLE_RUN_COLUMNS.length} * ${run} + ${ENSEMBLE_RUN_COLUMNS.indexOf(name)}])`;

const common = `
  fn lastHead() -> bool { return uniforms.head == 0 || uniforms.head == 2; }
  // the run this invocation works on, and its index within the run (workgroups along x)
  fn runOf() -> i32 { return i32(workgroupId.y); }
  fn inRun(size : i32) -> i32 { return i32(workgroupId.x) * size + i32(localIndex); }
  // per-run sizes of the stacked buffers
  fn statesSize() -> i32 { return (uniforms.T + 1) * uniforms.B * uniforms.H; }
  fn headRows() -> i32 { if (lastHead()) { return uniforms.B; } return uniforms.B * uniforms.T; }
  fn targetsSize() -> i32 {
    if (uniforms.head == 0) { return uniforms.B; }
    if (uniforms.head == 1) { return uniforms.B * uniforms.T; }
    if (uniforms.head == 2) { return uniforms.B * uniforms.O; }
    return uniforms.B * uniforms.T * uniforms.O;
  }
  fn activate(x : f32) -> f32 {
    if (uniforms.act == 0) { return tanh(clamp(x, -15.0, 15.0)); }
    return 1.0 / (1.0 + exp(-x));
  }
  // error signals below 1e-24 are set to 0, as in the WebAssembly and JavaScript engines
  fn flushTiny(x : f32) -> f32 { return select(x, 0.0, abs(x) < 1e-24); }
  fn slope(h : f32) -> f32 {
    if (uniforms.act == 0) { return 1.0 - h * h; }
    return h * (1.0 - h);
  }
`;

/** One workgroup per run (R along y), `size` outputs per run. */
function singleWorkgroup(
  key: string,
  variableNames: string[],
  size: number,
  body: string,
  R = 1,
): FusedWebGPUProgram {
  return {
    variableNames,
    outputShape: [R * size],
    shaderKey: `cliffguard_${key}`,
    dispatchLayout: { x: [0] },
    dispatch: [1, R, 1],
    workgroupSize: [WG, 1, 1],
    uniforms: UNIFORMS,
    getUserCode: () => `${common}\n${body}`,
  };
}

/**
 * One invocation per output element of each run, R along y: `outputShape` is one run's, and the
 * output [R, ...outputShape] when `stacked`; `n` invocations per run (default: every element).
 */
function flat(
  key: string,
  variableNames: string[],
  outputShape: number[],
  body: string,
  R = 1,
  n = outputShape.reduce((a, b) => a * b, 1),
  stacked = R > 1,
): FusedWebGPUProgram {
  const shape = stacked ? [R, ...outputShape] : outputShape;
  return {
    variableNames,
    outputShape: shape,
    shaderKey: `cliffguard_${key}`,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.max(1, Math.ceil(n / FLAT)), R, 1],
    workgroupSize: [FLAT, 1, 1],
    uniforms: UNIFORMS,
    size: true,
    getUserCode: () => `${common}\n${body}`,
  };
}

/** S: S_0 = h0 (or 0), then S_t = σ(S_{t-1} W_rec + u_t W_in + b) step by step. */
export function forwardProgram(B: number, T: number, H: number, R = 1): FusedWebGPUProgram {
  return singleWorkgroup(
    'rnn_forward',
    ['Win', 'Wrec', 'bias', 'u', 'h0'],
    (T + 1) * B * H,
    `
  fn main(index : i32) {
    let B = uniforms.B; let T = uniforms.T; let I = uniforms.I; let H = uniforms.H;
    let BH = B * H;
    let run = runOf();
    let local = i32(localIndex);
    let sb = run * statesSize();
    let wi = run * I * H; let wr = run * H * H; let bb = run * H; let ub = run * B * T * I;
    for (var e = local; e < BH; e += ${WG}) {
      var h = 0.0;
      if ((uniforms.flags & ${FLAG_H0}) != 0) { h = f32(h0[run * BH + e]); }
      result[sb + e] = h;
    }
    storageBarrier();
    for (var t = 1; t <= T; t++) {
      for (var e = local; e < BH; e += ${WG}) {
        let b = e / H;
        let j = e % H;
        var z = f32(bias[bb + j]);
        let prev = sb + (t - 1) * BH + b * H;
        for (var i = 0; i < H; i++) { z += result[prev + i] * f32(Wrec[wr + i * H + j]); }
        let row = ub + (b * T + t - 1) * I;
        for (var i = 0; i < I; i++) { z += f32(u[row + i]) * f32(Win[wi + i * H + j]); }
        result[sb + t * BH + e] = activate(z);
      }
      storageBarrier();
    }
  }`,
    R,
  );
}

/**
 * One step of the forward recurrence over many workgroups (one invocation per (b, j)), for models
 * too large for one workgroup: dispatched T + 1 times (uniform `offset` = t) into the same S, which
 * it reads back through `result` (dispatches in one pass are ordered for storage buffers).
 */
export function forwardStepProgram(B: number, T: number, H: number, R = 1): FusedWebGPUProgram {
  return flat(
    'rnn_forward_step',
    ['Win', 'Wrec', 'bias', 'u', 'h0'],
    [(T + 1) * B * H],
    `
  fn main(index : i32) {
    let B = uniforms.B; let T = uniforms.T; let I = uniforms.I; let H = uniforms.H;
    let BH = B * H;
    let e = inRun(${FLAT});
    if (e >= BH) { return; }
    let run = runOf();
    let sb = run * statesSize();
    let t = uniforms.offset;
    if (t == 0) {
      var h = 0.0;
      if ((uniforms.flags & ${FLAG_H0}) != 0) { h = f32(h0[run * BH + e]); }
      result[sb + e] = h;
      return;
    }
    let wi = run * I * H; let wr = run * H * H; let ub = run * B * T * I;
    let b = e / H;
    let j = e % H;
    var z = f32(bias[run * H + j]);
    let prev = sb + (t - 1) * BH + b * H;
    for (var i = 0; i < H; i++) { z += result[prev + i] * f32(Wrec[wr + i * H + j]); }
    let row = ub + (b * T + t - 1) * I;
    for (var i = 0; i < I; i++) { z += f32(u[row + i]) * f32(Win[wi + i * H + j]); }
    result[sb + t * BH + e] = activate(z);
  }`,
    R,
    B * H,
  );
}

/**
 * One step of BPTT over many workgroups, dispatched for t = T..0 (uniform `offset`) into the same
 * P = [δ | a | g]: g_{t+1} = a_{t+1} W_recᵀ, then (t ≥ 1) δ_t = dz W_outᵀ + g_{t+1}, a_t = δ_t ⊙ σ'(h_t).
 */
export function backwardStepProgram(B: number, T: number, H: number, R = 1): FusedWebGPUProgram {
  return flat(
    'rnn_backward_step',
    ['S', 'Z', 'Wout', 'Wrec'],
    [3 * T * B * H],
    `
  fn main(index : i32) {
    let B = uniforms.B; let T = uniforms.T; let H = uniforms.H; let O = uniforms.O;
    let BH = B * H;
    let e = inRun(${FLAT});
    if (e >= BH) { return; }
    let run = runOf();
    let TBH = T * BH;
    let pb = run * 3 * TBH;
    let sb = run * statesSize();
    let zb = run * (headRows() * (O + 1));
    let wr = run * H * H; let wo = run * H * O;
    let t = uniforms.offset;
    let b = e / H;
    let j = e % H;
    var g = 0.0;
    if (t < T) {
      let arow = pb + TBH + t * BH + b * H;
      for (var i = 0; i < H; i++) { g += result[arow + i] * f32(Wrec[wr + j * H + i]); }
      result[pb + 2 * TBH + t * BH + e] = g;
    }
    if (t == 0) { return; }
    var d = g;
    if (!lastHead() || t == T) {
      var zr = zb + (b * T + t - 1) * O;
      if (lastHead()) { zr = zb + b * O; }
      for (var k = 0; k < O; k++) { d += f32(Z[zr + k]) * f32(Wout[wo + j * O + k]); }
    }
    d = flushTiny(d);
    result[pb + (t - 1) * BH + e] = d;
    result[pb + TBH + (t - 1) * BH + e] = flushTiny(d * slope(f32(S[sb + t * BH + e])));
  }`,
    R,
    B * H,
  );
}

/** Above this many (b, j) outputs per step, the recurrences run one dispatch per step. */
export const ONE_WORKGROUP_MAX = 4096;

/**
 * The head, one invocation per row (batch-major: b·T + t, or b for last-step heads): logits, then
 * probabilities / values (inference, shape [B, O] or [B, T, O]) or ∂loss/∂z and the row's share
 * of the loss after the rows·O values (training).
 */
export function headProgram(
  rows: number,
  O: number,
  train: boolean,
  outputShape?: number[],
  R = 1,
): FusedWebGPUProgram {
  return flat(
    'rnn_head',
    ['S', 'Wout', 'bout', 'y', 'mask'],
    outputShape ?? [train ? rows * O + rows : rows * O],
    `
  fn main(index : i32) {
    let B = uniforms.B; let T = uniforms.T; let H = uniforms.H; let O = uniforms.O;
    let last = lastHead();
    let rows = headRows();
    let e = inRun(${FLAT});
    if (e >= rows) { return; }
    let run = runOf();
    let train = (uniforms.flags & ${FLAG_TRAIN}) != 0;
    let masked = !last && (uniforms.flags & ${FLAG_MASK}) != 0;
    var b = e / T;
    var t = e % T;
    if (last) { b = e; t = T - 1; }
    let zb = run * (uniforms.size / uniforms.R);
    let yb = run * targetsSize();
    let mb = run * B * T;
    let wo = run * H * O;
    let hrow = run * statesSize() + (t + 1) * B * H + b * H;
    let zrow = zb + e * O;
    var mx = -3.0e38;
    for (var k = 0; k < O; k++) {
      var z = f32(bout[run * O + k]);
      for (var j = 0; j < H; j++) { z += f32(S[hrow + j]) * f32(Wout[wo + j * O + k]); }
      result[zrow + k] = z;
      mx = max(mx, z);
    }
    var count = f32(rows);
    var m = 1.0;
    if (masked) {
      count = 0.0;
      for (var q = 0; q < B * T; q++) { count += f32(mask[mb + q]); }
      count = max(count, 1.0);
      m = f32(mask[mb + b * T + t]);
    }
    let g = m / count;
    var loss = 0.0;
    if (uniforms.head == 0 || uniforms.head == 1) {
      var yi = 0;
      if (train) {
        if (last) { yi = i32(y[yb + b]); } else { yi = i32(y[yb + b * T + t]); }
      }
      var s = 0.0;
      for (var k = 0; k < O; k++) { s += exp(result[zrow + k] - mx); }
      loss = mx + log(s) - result[zrow + yi];
      for (var k = 0; k < O; k++) {
        let p = exp(result[zrow + k] - mx) / s;
        if (train) { result[zrow + k] = (p - select(0.0, 1.0, k == yi)) * g; } else { result[zrow + k] = p; }
      }
    } else if (uniforms.head == 2) {
      if (train) {
        for (var k = 0; k < O; k++) {
          let d = result[zrow + k] - f32(y[yb + b * O + k]);
          loss += d * d;
          result[zrow + k] = 2.0 * d * g;
        }
      }
    } else {
      for (var k = 0; k < O; k++) {
        let v = result[zrow + k];
        let e = exp(-abs(v));
        let p = select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
        if (train) {
          let yy = f32(y[yb + (b * T + t) * O + k]);
          loss += max(v, 0.0) - yy * v + log(1.0 + e);
          result[zrow + k] = (p - yy) * g;
        } else {
          result[zrow + k] = p;
        }
      }
    }
    if (train) { result[zb + rows * O + e] = m * loss / count; }
  }`,
    R,
    rows,
  );
}

/** BPTT in one workgroup: P = [δ | a | g]; δ_t = dz W_outᵀ + g_{t+1}, a_t = δ_t ⊙ σ'(h_t), g_t = a_t W_recᵀ. */
export function backwardProgram(B: number, T: number, H: number, R = 1): FusedWebGPUProgram {
  return singleWorkgroup(
    'rnn_backward',
    ['S', 'Z', 'Wout', 'Wrec'],
    3 * T * B * H,
    `
  fn main(index : i32) {
    let B = uniforms.B; let T = uniforms.T; let H = uniforms.H; let O = uniforms.O;
    let BH = B * H;
    let TBH = T * BH;
    let last = lastHead();
    let run = runOf();
    let local = i32(localIndex);
    let pb = run * 3 * TBH;
    let sb = run * statesSize();
    let zb = run * (headRows() * (O + 1));
    let wr = run * H * H; let wo = run * H * O;
    for (var t = T; t >= 1; t--) {
      for (var e = local; e < BH; e += ${WG}) {
        let b = e / H;
        let j = e % H;
        var d = 0.0;
        if (!last || t == T) {
          var zr = zb + (b * T + t - 1) * O;
          if (last) { zr = zb + b * O; }
          for (var k = 0; k < O; k++) { d += f32(Z[zr + k]) * f32(Wout[wo + j * O + k]); }
        }
        if (t < T) { d += result[pb + 2 * TBH + t * BH + e]; }
        d = flushTiny(d);
        result[pb + (t - 1) * BH + e] = d;
        result[pb + TBH + (t - 1) * BH + e] = flushTiny(d * slope(f32(S[sb + t * BH + e])));
      }
      storageBarrier();
      for (var e = local; e < BH; e += ${WG}) {
        let b = e / H;
        let i = e % H;
        let arow = pb + TBH + (t - 1) * BH + b * H;
        var g = 0.0;
        for (var j = 0; j < H; j++) { g += result[arow + j] * f32(Wrec[wr + i * H + j]); }
        result[pb + 2 * TBH + (t - 1) * BH + e] = g;
      }
      storageBarrier();
    }
  }`,
    R,
  );
}

/** Ω's terms per (t, b) row: [Σ (r−1)², #valid, then s_r = 4(r−1)/‖δ‖² per row (0 when invalid)]. */
export function omegaProgram(B: number, T: number, R = 1): FusedWebGPUProgram {
  const program = singleWorkgroup(
    'rnn_omega',
    ['P'],
    2 + T * B,
    `
  var<workgroup> partial : array<f32, ${2 * WG}>;
  fn main(index0 : i32) {
    let B = uniforms.B; let T = uniforms.T; let H = uniforms.H;
    let TBH = T * B * H;
    let run = runOf();
    let index = i32(localIndex);
    let pb = run * 3 * TBH;
    let ob = run * (2 + T * B);
    var terms = 0.0;
    var valid = 0.0;
    for (var r = index; r < T * B; r += ${WG}) {
      var nd = 0.0;
      var ng = 0.0;
      for (var j = 0; j < H; j++) {
        let d = f32(P[pb + r * H + j]);
        let g = f32(P[pb + 2 * TBH + r * H + j]);
        nd += d * d;
        ng += g * g;
      }
      var s = 0.0;
      if (nd >= 1e-20) {
        let ratio = ng / nd;
        terms += (ratio - 1.0) * (ratio - 1.0);
        valid += 1.0;
        s = 4.0 * (ratio - 1.0) / nd;
      }
      result[ob + 2 + r] = s;
    }
    partial[index] = terms;
    partial[${WG} + index] = valid;
    workgroupBarrier();
    for (var w = ${WG / 2}; w > 0; w = w / 2) {
      if (index < w) {
        partial[index] += partial[index + w];
        partial[${WG} + index] += partial[${WG} + index + w];
      }
      workgroupBarrier();
    }
    if (index == 0) {
      result[ob] = partial[0];
      result[ob + 1] = partial[${WG}];
    }
  }`,
    R,
  );
  return program;
}

/** Kinds of the gradient program (uniform `mode`). */
export const GRAD = { W_in: 0, W_rec: 1, b: 2, W_out: 3, b_out: 4, omegaGrad: 5, loss: 6, omega: 7 } as const;

// NaN from a run-time value: WGSL rejects a NaN that is a constant expression
const RUNTIME_NAN = 'bitcast<f32>(0x7fc00000u | u32(uniforms.mode & 0))';

/**
 * One invocation per element of a gradient, summing over all T·B rows (the weight-gradient
 * products batched over time), or the scalars: loss = Σ of the rows' shares, Ω = c·Σ(r−1)².
 * `outputShape` is one run's. With `ensemble`, each run's Ω variant and α come from the extra
 * input `runs` (the ensembles' table, ENSEMBLE_RUN_COLUMNS), not the uniforms; a run with Ω has
 * α·∂Ω/∂W_rec summed into ∂W_rec, and a run without Ω reports Ω as NaN.
 */
export function gradientProgram(outputShape: number[], R = 1, ensemble = false): FusedWebGPUProgram {
  const flagsOf = ensemble ? 'ensembleFlags(run)' : 'uniforms.flags';
  const alphaOf = ensemble ? column('alpha') : 'uniforms.alpha';
  const noOmega = ensemble ? RUNTIME_NAN : '0.0';
  // the table's Ω column: 0 none, 1 'paper', 2 'code'
  const flagsFromTable = `
  fn ensembleFlags(run : i32) -> i32 {
    let variant = i32(${column('omega')});
    if (variant == 0) { return 0; }
    var f = ${FLAG_OMEGA | FLAG_COMBINE};
    if (variant == 2) { f = f | ${FLAG_OMEGA_CODE}; }
    return f;
  }`;
  return flat(
    ensemble ? 'rnn_gradient_ensemble' : 'rnn_gradient',
    ensemble ? ['u', 'S', 'Z', 'P', 'om', 'runs'] : ['u', 'S', 'Z', 'P', 'om'],
    outputShape,
    `${ensemble ? flagsFromTable : ''}
  fn omegaScale(flags : i32, ob : i32) -> f32 {
    if ((flags & ${FLAG_OMEGA_CODE}) != 0) {
      if (f32(om[ob + 1]) > 0.0) { return 1.0 / f32(om[ob + 1]); }
      return 0.0;
    }
    return 1.0 / f32(uniforms.B);
  }
  fn main(index0 : i32) {
    let index = inRun(${FLAT});
    let n = uniforms.size / uniforms.R;
    if (index >= n) { return; }
    let run = runOf();
    let flags = ${flagsOf};
    let B = uniforms.B; let T = uniforms.T; let I = uniforms.I; let H = uniforms.H; let O = uniforms.O;
    let R = T * B;
    let TBH = R * H;
    let last = lastHead();
    let rows = headRows();
    let ub = run * B * T * I;
    let sb = run * statesSize();
    let zb = run * (rows * (O + 1));
    let pb = run * 3 * TBH;
    let ob = run * (2 + R);
    let mode = uniforms.mode;
    var acc = 0.0;
    if (mode == ${GRAD.W_in}) {
      let i = index / H;
      let j = index % H;
      for (var r = 0; r < R; r++) {
        let t = r / B;
        let b = r % B;
        acc += f32(u[ub + (b * T + t) * I + i]) * f32(P[pb + TBH + r * H + j]);
      }
    } else if (mode == ${GRAD.W_rec} || mode == ${GRAD.omegaGrad}) {
      let i = index / H;
      let j = index % H;
      let c = omegaScale(flags, ob);
      let combine = (flags & ${FLAG_COMBINE}) != 0;
      for (var r = 0; r < R; r++) {
        var left = 0.0;
        if (mode == ${GRAD.W_rec}) { left = f32(S[sb + r * H + i]); }
        if (mode == ${GRAD.omegaGrad} || combine) {
          var w = c * f32(om[ob + 2 + r]);
          if (mode == ${GRAD.W_rec}) { w = w * ${alphaOf}; }
          left += w * f32(P[pb + 2 * TBH + r * H + i]);
        }
        acc += left * f32(P[pb + TBH + r * H + j]);
      }
    } else if (mode == ${GRAD.b}) {
      for (var r = 0; r < R; r++) { acc += f32(P[pb + TBH + r * H + index]); }
    } else if (mode == ${GRAD.W_out}) {
      let j = index / O;
      let k = index % O;
      for (var q = 0; q < rows; q++) {
        var b = q / T;
        var t = q % T;
        if (last) { b = q; t = T - 1; }
        acc += f32(S[sb + (t + 1) * B * H + b * H + j]) * f32(Z[zb + q * O + k]);
      }
    } else if (mode == ${GRAD.b_out}) {
      for (var q = 0; q < rows; q++) { acc += f32(Z[zb + q * O + index]); }
    } else if (mode == ${GRAD.loss}) {
      for (var q = 0; q < rows; q++) { acc += f32(Z[zb + rows * O + q]); }
    } else if ((flags & ${FLAG_OMEGA}) != 0) {
      acc = omegaScale(flags, ob) * f32(om[ob]);
    } else {
      acc = ${noOmega};
    }
    result[run * n + index] = acc;
  }`,
    R,
    outputShape.reduce((a, b) => a * b, 1),
    ensemble,
  );
}

/** Rows of the update's control buffer [5][R]: what each run's SGD step needs. */
const CONTROL = { norm: 0, safeguarded: 1, clipped: 2, skipped: 3, scale: 4 } as const;
const CONTROL_ROWS = Object.keys(CONTROL).length;

/** Whether x is finite, read from its bits (WGSL lets a compiler assume floats are never NaN or ∞). */
const isFinite = `
  fn finite(x : f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }`;

/**
 * The per-run decisions of an ensemble's update, one workgroup per run: the global norm of all
 * five gradients (Ω's term already in ∂W_rec), the clip wrapper's non-finite skip and
 * Algorithm 1's rescale by maxNorm / ‖g‖ (`>`), and the authors' safeguard (a non-finite norm or
 * one above 1e10), whose unclipped shrink step g_W_rec = 0.02·W_rec replaces the clipped step.
 * Writes [5][R]: norm, safeguarded, clipped, skipped, the clip's scale (1 unclipped). Six inputs:
 * with the output, within the eight storage buffers a stage gets by default.
 */
export function updateControlProgram(R: number): FusedWebGPUProgram {
  return singleWorkgroup(
    'rnn_update_control',
    ['gWin', 'gWrec', 'gb', 'gWout', 'gbout', 'runs'],
    CONTROL_ROWS,
    `${isFinite}
  var<workgroup> partial : array<f32, ${WG}>;
  fn main(index0 : i32) {
    let I = uniforms.I; let H = uniforms.H; let O = uniforms.O;
    let run = runOf();
    let local = i32(localIndex);
    // Σ g² over the five gradients
    var s = 0.0;
    for (var e = local; e < I * H; e += ${WG}) { let v = f32(gWin[run * I * H + e]); s += v * v; }
    for (var e = local; e < H * H; e += ${WG}) {
      let v = f32(gWrec[run * H * H + e]);
      s += v * v;
    }
    for (var e = local; e < H; e += ${WG}) { let v = f32(gb[run * H + e]); s += v * v; }
    for (var e = local; e < H * O; e += ${WG}) { let v = f32(gWout[run * H * O + e]); s += v * v; }
    for (var e = local; e < O; e += ${WG}) { let v = f32(gbout[run * O + e]); s += v * v; }
    partial[local] = s;
    workgroupBarrier();
    for (var w = ${WG / 2}; w > 0; w = w / 2) {
      if (local < w) { partial[local] += partial[local + w]; }
      workgroupBarrier();
    }
    if (local != 0) { return; }
    let norm = sqrt(partial[0]);
    let safeguarded = ${column('safeguard')} == 1.0 && (!finite(norm) || norm > ${SAFEGUARD_NORM.toExponential()});
    // the authors' order: the shrink step replaces the clipped step (never clipped or skipped)
    let maxNorm = ${column('maxNorm')};
    let withClip = finite(maxNorm) && !safeguarded;
    let skipped = withClip && !finite(norm);
    let clipped = withClip && !skipped && norm > maxNorm;
    var scale = 1.0;
    if (clipped) { scale = maxNorm / norm; }
    let R = uniforms.R;
    result[${CONTROL.norm} * R + run] = norm;
    result[${CONTROL.safeguarded} * R + run] = select(0.0, 1.0, safeguarded);
    result[${CONTROL.clipped} * R + run] = select(0.0, 1.0, clipped);
    result[${CONTROL.skipped} * R + run] = select(0.0, 1.0, skipped);
    result[${CONTROL.scale} * R + run] = scale;
  }`,
    R,
  );
}

/** The ensemble's record [6][R] (ENSEMBLE_STATS): the pass's loss and Ω, the control's decisions. */
export function updateRecordProgram(R: number): FusedWebGPUProgram {
  const row = (name: (typeof ENSEMBLE_STATS)[number]) => ENSEMBLE_STATS.indexOf(name);
  return flat(
    'rnn_update_record',
    ['loss', 'omega', 'control'],
    [ENSEMBLE_STATS.length, R],
    `
  fn main(index0 : i32) {
    let R = uniforms.R;
    let e = inRun(${FLAT});
    if (e >= ${ENSEMBLE_STATS.length} * R) { return; }
    let row = e / R;
    let run = e % R;
    var v = 0.0;
    if (row == ${row('loss')}) { v = f32(loss[run]); }
    else if (row == ${row('omega')}) { v = f32(omega[run]); }
    else if (row == ${row('norm')}) { v = f32(control[${CONTROL.norm} * R + run]); }
    else if (row == ${row('safeguarded')}) { v = f32(control[${CONTROL.safeguarded} * R + run]); }
    else if (row == ${row('clipped')}) { v = f32(control[${CONTROL.clipped} * R + run]); }
    else { v = f32(control[${CONTROL.skipped} * R + run]); }
    result[e] = v;
  }`,
    1,
    ENSEMBLE_STATS.length * R,
    false,
  );
}

/**
 * SGD on one stacked parameter (uniform mode 1: W_rec, whose safeguard step is 0.02·W_rec; the
 * other parameters' is 0), as tf.train.sgd computes it: w + (−lr)·(g·scale); a skipped run keeps w.
 */
export function sgdUpdateProgram(outputShape: number[], R: number): FusedWebGPUProgram {
  return flat(
    'rnn_update_sgd',
    ['W', 'G', 'control', 'runs'],
    outputShape,
    `
  fn main(index0 : i32) {
    let index = inRun(${FLAT});
    let n = uniforms.size / uniforms.R;
    if (index >= n) { return; }
    let run = runOf();
    let R = uniforms.R;
    let at = run * n + index;
    let w = f32(W[at]);
    if (f32(control[${CONTROL.skipped} * R + run]) != 0.0) { result[at] = w; return; }
    var g = f32(G[at]);
    if (f32(control[${CONTROL.safeguarded} * R + run]) != 0.0) {
      g = select(0.0, ${SAFEGUARD_SHRINK.toExponential()} * w, uniforms.mode == 1);
    }
    if (f32(control[${CONTROL.clipped} * R + run]) != 0.0) { g = g * f32(control[${CONTROL.scale} * R + run]); }
    result[at] = -${column('learningRate')} * g + w;
  }`,
    R,
    outputShape.reduce((a, b) => a * b, 1),
    true,
  );
}

/** Copies out of a packed buffer: mode 0 a time-major [T][B][H] block (at offset) to [B][T][H]; mode 1 a plain range. */
export function copyProgram(outputShape: number[]): FusedWebGPUProgram {
  return flat(
    'rnn_copy',
    ['src'],
    outputShape,
    `
  fn main(index : i32) {
    if (index >= uniforms.size) { return; }
    if (uniforms.mode == 1) {
      result[index] = f32(src[uniforms.offset + index]);
      return;
    }
    let B = uniforms.B; let T = uniforms.T; let H = uniforms.H;
    let b = index / (T * H);
    let t = (index / H) % T;
    let j = index % H;
    result[index] = f32(src[uniforms.offset + t * B * H + b * H + j]);
  }`,
  );
}
