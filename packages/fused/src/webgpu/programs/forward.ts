/** The forward recurrence: S_0 = h0 (or 0), then S_t = σ(S_{t-1} W_rec + u_t W_in + b). */
import {
  FLAG_H0,
  type FusedWebGPUProgram,
  singleWorkgroup,
  TILE,
  TILE_PLACE,
  tiledStep,
  WG,
} from './common.js';

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
 * One step of the forward recurrence for models too large for one workgroup, dispatched T + 1
 * times (uniform `offset` = t) into the same S, which it reads back through `result` (dispatches
 * in one pass are ordered for storage buffers). S_{t-1} W_rec is a tiled product: one workgroup
 * per 16×16 tile of (b, j), H taken 16 at a time through workgroup memory, so each value of
 * S_{t-1} and W_rec is read from storage once per tile (issue 19).
 */
export function forwardStepProgram(B: number, T: number, H: number, R = 1): FusedWebGPUProgram {
  return tiledStep(
    'rnn_forward_tile',
    ['Win', 'Wrec', 'bias', 'u', 'h0'],
    [(T + 1) * B * H],
    B,
    H,
    R,
    `
  var<workgroup> hTile : array<f32, ${TILE * TILE}>;
  var<workgroup> wTile : array<f32, ${TILE * TILE}>;
  fn main(index0 : i32) {
    let B = uniforms.B; let T = uniforms.T; let I = uniforms.I; let H = uniforms.H;
    let BH = B * H;
    let run = runOf();
    let sb = run * statesSize();
    let t = uniforms.offset;
    ${TILE_PLACE}
    let inside = b < B && j < H;
    if (t == 0) {
      var h = 0.0;
      if ((uniforms.flags & ${FLAG_H0}) != 0 && inside) { h = f32(h0[run * BH + b * H + j]); }
      if (inside) { result[sb + b * H + j] = h; }
      return;
    }
    let wi = run * I * H; let wr = run * H * H; let ub = run * B * T * I;
    let prev = sb + (t - 1) * BH;
    var z = 0.0;
    if (inside) { z = f32(bias[run * H + j]); }
    for (var i0 = 0; i0 < H; i0 += ${TILE}) {
      // invocation (tb, tj) loads S_{t-1}[b0 + tb][i0 + tj] and W_rec[i0 + tb][j0 + tj]
      hTile[l] = select(0.0, result[prev + min(b, B - 1) * H + min(i0 + tj, H - 1)], b < B && i0 + tj < H);
      wTile[l] = select(0.0, f32(Wrec[wr + min(i0 + tb, H - 1) * H + min(j, H - 1)]), i0 + tb < H && j < H);
      workgroupBarrier();
      for (var k = 0; k < ${TILE}; k++) { z += hTile[tb * ${TILE} + k] * wTile[k * ${TILE} + tj]; }
      workgroupBarrier();
    }
    if (!inside) { return; }
    let row = ub + (b * T + t - 1) * I;
    for (var i = 0; i < I; i++) { z += f32(u[row + i]) * f32(Win[wi + i * H + j]); }
    result[sb + t * BH + b * H + j] = activate(z);
  }`,
  );
}
