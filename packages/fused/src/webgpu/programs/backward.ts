/** BPTT into P = [δ | a | g]: in one workgroup, or one dispatch per step. */
import { type FusedWebGPUProgram, singleWorkgroup, TILE, TILE_PLACE, tiledStep, WG } from './common.js';

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

/**
 * One step of BPTT for models too large for one workgroup, dispatched for t = T..0 (uniform
 * `offset`) into the same P = [δ | a | g]: g_{t+1} = a_{t+1} W_recᵀ as a tiled product (one
 * workgroup per 16×16 tile of (b, j), H through workgroup memory 16 at a time), then (t ≥ 1)
 * δ_t = dz W_outᵀ + g_{t+1}, a_t = δ_t ⊙ σ'(h_t).
 */
export function backwardStepProgram(B: number, T: number, H: number, R = 1): FusedWebGPUProgram {
  return tiledStep(
    'rnn_backward_tile',
    ['S', 'Z', 'Wout', 'Wrec'],
    [3 * T * B * H],
    B,
    H,
    R,
    `
  var<workgroup> aTile : array<f32, ${TILE * TILE}>;
  var<workgroup> wTile : array<f32, ${TILE * TILE}>;
  fn main(index0 : i32) {
    let B = uniforms.B; let T = uniforms.T; let H = uniforms.H; let O = uniforms.O;
    let BH = B * H;
    let run = runOf();
    let TBH = T * BH;
    let pb = run * 3 * TBH;
    let sb = run * statesSize();
    let zb = run * (headRows() * (O + 1));
    let wr = run * H * H; let wo = run * H * O;
    let t = uniforms.offset;
    ${TILE_PLACE}
    let inside = b < B && j < H;
    let e = b * H + j;
    var g = 0.0;
    if (t < T) {
      let arow = pb + TBH + t * BH;
      for (var i0 = 0; i0 < H; i0 += ${TILE}) {
        // invocation (tb, tj) loads a_{t+1}[b0 + tb][i0 + tj] and W_recᵀ[i0 + tb][j0 + tj] = W_rec[j0 + tj][i0 + tb]
        aTile[l] = select(0.0, result[arow + min(b, B - 1) * H + min(i0 + tj, H - 1)], b < B && i0 + tj < H);
        wTile[l] = select(0.0, f32(Wrec[wr + min(j, H - 1) * H + min(i0 + tb, H - 1)]), i0 + tb < H && j < H);
        workgroupBarrier();
        for (var k = 0; k < ${TILE}; k++) { g += aTile[tb * ${TILE} + k] * wTile[k * ${TILE} + tj]; }
        workgroupBarrier();
      }
      if (inside) { result[pb + 2 * TBH + t * BH + e] = g; }
    }
    if (t == 0 || !inside) { return; }
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
  );
}
