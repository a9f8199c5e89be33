/**
 * The ensemble's update in WGSL (CliffguardRnnEnsembleStep on webgpu): the per-run control (norm,
 * the authors' safeguard, the clip wrapper's skip, Algorithm 1's clip), SGD on each parameter, and
 * the record. The array-level twin is kernels/update.ts.
 */
import { ENSEMBLE_STATS } from '../../kernels/names.js';
import { SAFEGUARD_NORM, SAFEGUARD_SHRINK } from '../../kernels/update.js';
import { column, FLAT, type FusedWebGPUProgram, finiteTest, flat, singleWorkgroup, WG } from './common.js';

/**
 * The paper's chain for one run, given its global norm, as WGSL: the authors' safeguard (a
 * non-finite norm or one above 1e10, when on), whose shrink step replaces the clipped step (never
 * clipped or skipped: their order); otherwise the clip wrapper's non-finite skip and Algorithm 1's
 * rescale by maxNorm / ‖g‖ above the threshold (`>`; +Inf: no clip). Returns (safeguarded,
 * clipped, skipped, scale), flags as 0 / 1. Needs `finiteTest`.
 */
export const chainDecisions = `
  fn chainDecisions(norm : f32, safeguardOn : bool, maxNorm : f32) -> vec4<f32> {
    let safeguarded = safeguardOn && (!finite(norm) || norm > ${SAFEGUARD_NORM.toExponential()});
    let withClip = finite(maxNorm) && !safeguarded;
    let skipped = withClip && !finite(norm);
    let clipped = withClip && !skipped && norm > maxNorm;
    let flag = vec3<f32>(select(0.0, 1.0, safeguarded), select(0.0, 1.0, clipped), select(0.0, 1.0, skipped));
    return vec4<f32>(flag, select(1.0, maxNorm / norm, clipped));
  }`;

/** Rows of the update's control buffer [5][R]: what each run's SGD step needs. */
const CONTROL = { norm: 0, safeguarded: 1, clipped: 2, skipped: 3, scale: 4 } as const;
const CONTROL_ROWS = Object.keys(CONTROL).length;

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
    `${finiteTest}${chainDecisions}
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
    let chain = chainDecisions(norm, ${column('safeguard')} == 1.0, ${column('maxNorm')});
    let R = uniforms.R;
    result[${CONTROL.norm} * R + run] = norm;
    result[${CONTROL.safeguarded} * R + run] = chain.x;
    result[${CONTROL.clipped} * R + run] = chain.y;
    result[${CONTROL.skipped} * R + run] = chain.z;
    result[${CONTROL.scale} * R + run] = chain.w;
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
