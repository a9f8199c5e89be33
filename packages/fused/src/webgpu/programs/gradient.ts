/**
 * The weight gradients and the scalars (loss, Ω), one invocation per element summing over all T·B
 * rows; for an ensemble, each run's α and Ω variant read from the `runs` table.
 */
import {
  column,
  FLAG_COMBINE,
  FLAG_OMEGA,
  FLAG_OMEGA_CODE,
  FLAT,
  type FusedWebGPUProgram,
  flat,
} from './common.js';

/** Kinds of the gradient program (uniform `mode`). */
export const GRAD = { W_in: 0, W_rec: 1, b: 2, W_out: 3, b_out: 4, omegaGrad: 5, loss: 6, omega: 7 } as const;

// NaN from a run-time value: WGSL rejects a NaN that is a constant expression
const RUNTIME_NAN = 'bitcast<f32>(0x7fc00000u | u32(uniforms.mode & 0))';

// the table's Ω column: 0 none, 1 'paper', 2 'code'
const FLAGS_FROM_TABLE = `
  fn ensembleFlags(run : i32) -> i32 {
    let variant = i32(${column('omega')});
    if (variant == 0) { return 0; }
    var f = ${FLAG_OMEGA | FLAG_COMBINE};
    if (variant == 2) { f = f | ${FLAG_OMEGA_CODE}; }
    return f;
  }`;

// Ω's normalisation: 'code' 1/#valid rows (0 with none), 'paper' 1/B
const OMEGA_SCALE = `
  fn omegaScale(flags : i32, ob : i32) -> f32 {
    if ((flags & ${FLAG_OMEGA_CODE}) != 0) {
      if (f32(om[ob + 1]) > 0.0) { return 1.0 / f32(om[ob + 1]); }
      return 0.0;
    }
    return 1.0 / f32(uniforms.B);
  }`;

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
  return flat(
    ensemble ? 'rnn_gradient_ensemble' : 'rnn_gradient',
    ensemble ? ['u', 'S', 'Z', 'P', 'om', 'runs'] : ['u', 'S', 'Z', 'P', 'om'],
    outputShape,
    `${ensemble ? FLAGS_FROM_TABLE : ''}
  ${OMEGA_SCALE}
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

/** The side of the square tiles of {@link gradientGemmProgram}. */
const TILE = 16;

/** Whether gradient `kind` is a product over rows (a GEMM): W_in, W_rec, W_out, ∂Ω/∂W_rec. */
export const isProductGradient = (kind: number) =>
  kind === GRAD.W_in || kind === GRAD.W_rec || kind === GRAD.W_out || kind === GRAD.omegaGrad;

/**
 * The product gradients as tiled GEMMs over the rows (for models too large for per-element
 * loops: issue 19): ∂W[i][j] = Σ_r left[r][i] · right[r][j], one workgroup per 16×16 tile of one
 * run, the rows taken 16 at a time through workgroup memory, so each value of `left` and `right`
 * is read from storage once per tile instead of once per output. left / right per kind: W_in
 * u / a, W_rec S (+ Ω's c·α·s·g when combined) / a, ∂Ω/∂W_rec c·s·g / a, W_out S_{t+1} / dz.
 * Each output sums its rows in the same order as gradientProgram's loop. Uniform `mode` = kind.
 */
export function gradientGemmProgram(
  outputShape: [number, number],
  R = 1,
  ensemble = false,
): FusedWebGPUProgram {
  const [M, N] = outputShape;
  const tiles = Math.ceil(M / TILE) * Math.ceil(N / TILE);
  const flagsOf = ensemble ? 'ensembleFlags(run)' : 'uniforms.flags';
  const alphaOf = ensemble ? column('alpha') : 'uniforms.alpha';
  const program = flat(
    ensemble ? 'rnn_gradient_gemm_ensemble' : 'rnn_gradient_gemm',
    ensemble ? ['u', 'S', 'Z', 'P', 'om', 'runs'] : ['u', 'S', 'Z', 'P', 'om'],
    outputShape,
    `${ensemble ? FLAGS_FROM_TABLE : ''}
  ${OMEGA_SCALE}
  var<workgroup> leftTile : array<f32, ${TILE * TILE}>;
  var<workgroup> rightTile : array<f32, ${TILE * TILE}>;
  fn main(index0 : i32) {
    let run = runOf();
    let flags = ${flagsOf};
    let B = uniforms.B; let T = uniforms.T; let I = uniforms.I; let H = uniforms.H; let O = uniforms.O;
    let TBH = T * B * H;
    let last = lastHead();
    let mode = uniforms.mode;
    var M = H; var N = H; var rows = T * B;
    if (mode == ${GRAD.W_in}) { M = I; }
    if (mode == ${GRAD.W_out}) { N = O; rows = headRows(); }
    let ub = run * B * T * I;
    let sb = run * statesSize();
    let zb = run * (headRows() * (O + 1));
    let pb = run * 3 * TBH;
    let ob = run * (2 + T * B);
    let c = omegaScale(flags, ob);
    let combine = (flags & ${FLAG_COMBINE}) != 0;
    let alpha = ${alphaOf};
    // this workgroup's tile, and this invocation's place in it
    let tilesN = (N + ${TILE - 1}) / ${TILE};
    let i0 = i32(workgroupId.x) / tilesN * ${TILE};
    let j0 = i32(workgroupId.x) % tilesN * ${TILE};
    let l = i32(localIndex);
    let ti = l / ${TILE};
    let tj = l % ${TILE};
    var acc = 0.0;
    for (var r0 = 0; r0 < rows; r0 += ${TILE}) {
      // invocation (ti, tj) loads left[r0 + ti][i0 + tj] and right[r0 + ti][j0 + tj]
      let r = r0 + ti;
      let i = i0 + tj;
      let j = j0 + tj;
      var left = 0.0;
      var right = 0.0;
      if (r < rows) {
        if (mode == ${GRAD.W_out}) {
          var b = r / T;
          var t = r % T;
          if (last) { b = r; t = T - 1; }
          if (i < M) { left = f32(S[sb + (t + 1) * B * H + b * H + i]); }
          if (j < N) { right = f32(Z[zb + r * O + j]); }
        } else {
          if (i < M) {
            if (mode == ${GRAD.W_in}) {
              left = f32(u[ub + ((r % B) * T + r / B) * I + i]);
            } else {
              if (mode == ${GRAD.W_rec}) { left = f32(S[sb + r * H + i]); }
              if (mode == ${GRAD.omegaGrad} || combine) {
                var w = c * f32(om[ob + 2 + r]);
                if (mode == ${GRAD.W_rec}) { w = w * alpha; }
                left += w * f32(P[pb + 2 * TBH + r * H + i]);
              }
            }
          }
          if (j < N) { right = f32(P[pb + TBH + r * H + j]); }
        }
      }
      leftTile[l] = left;
      rightTile[l] = right;
      workgroupBarrier();
      for (var k = 0; k < ${TILE}; k++) { acc += leftTile[k * ${TILE} + ti] * rightTile[k * ${TILE} + tj]; }
      workgroupBarrier();
    }
    let oi = i0 + ti;
    let oj = j0 + tj;
    if (oi < M && oj < N) { result[run * M * N + oi * N + oj] = acc; }
  }`,
    R,
    outputShape.reduce((a, b) => a * b, 1),
    ensemble,
  );
  return { ...program, dispatch: [tiles, R, 1], workgroupSize: [TILE * TILE, 1, 1] };
}
