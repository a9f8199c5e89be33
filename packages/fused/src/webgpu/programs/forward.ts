/** The forward recurrence: S_0 = h0 (or 0), then S_t = σ(S_{t-1} W_rec + u_t W_in + b). */
import { FLAG_H0, FLAT, type FusedWebGPUProgram, flat, singleWorkgroup, WG } from './common.js';

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
