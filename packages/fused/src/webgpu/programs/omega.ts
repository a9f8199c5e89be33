/** Ω's terms, one workgroup per run with a reduction. */
import { type FusedWebGPUProgram, singleWorkgroup, WG } from './common.js';

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
