/** The head: outputs for inference; ∂loss/∂z and each row's share of the loss for training. */
import { FLAG_MASK, FLAG_TRAIN, FLAT, type FusedWebGPUProgram, flat } from './common.js';

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
