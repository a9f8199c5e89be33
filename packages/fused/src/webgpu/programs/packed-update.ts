/**
 * The packed update (issue 19): ONE dispatch, one workgroup per run, after the persistent sequence
 * program. Per run it sums the sequences' gradient partials (Ω's part scaled by its
 * normalisation), takes the global norm, decides as updateControlProgram does (the authors'
 * safeguard, the clip wrapper's non-finite skip, Algorithm 1's clip) and applies SGD to every
 * parameter of the packed state; the record [6][R] follows the parameters in the same buffer.
 */
import { ENSEMBLE_STATS } from '../../kernels/names.js';
import { SAFEGUARD_SHRINK } from '../../kernels/update.js';
import { finiteTest } from './common.js';
import { bakedProgram, packedLayout, runColumn, type SequenceShape, scratchLayout } from './sequence.js';
import { chainDecisions } from './update.js';

const WG = 256;

/** The packed state's size: R runs' parameters, then the record [6][R]. */
export function packedStateSize(R: number, I: number, H: number, O: number): number {
  return R * packedLayout(I, H, O).P + ENSEMBLE_STATS.length * R;
}

/** Inputs W (the packed state), G (the sequence program's scratch), runs; output the next state. */
export function packedUpdateProgram(s: SequenceShape) {
  const { R, B, H } = s;
  const L = packedLayout(s.I, H, s.O);
  const X = scratchLayout(s);
  const row = (name: (typeof ENSEMBLE_STATS)[number]) => ENSEMBLE_STATS.indexOf(name);
  const code = `${finiteTest}${chainDecisions}
  const B = ${B}; const R = ${R}; const P = ${L.P}; const Q = ${X.Q};
  const oWrec = ${L.W_rec}; const ob = ${L.b};
  const sPART = ${X.PART}; const sSC = ${X.SC};
  var<workgroup> red : array<f32, ${WG}>;
  // norm, safeguarded, clipped, skipped, scale
  var<workgroup> control : array<f32, 5>;

  fn main(index0 : i32) {
    let run = i32(workgroupId.y);
    let l = i32(localIndex);
    let pb = run * P;
    let variant = i32(${runColumn('omega')});
    // the batch's loss, Ω's terms and valid rows (each invocation sums the B sequences alike)
    var loss = 0.0;
    var terms = 0.0;
    var valid = 0.0;
    for (var b = 0; b < B; b++) {
      let sc = (run * B + b) * Q + sSC;
      loss += G[sc];
      terms += G[sc + 1];
      valid += G[sc + 2];
    }
    // Ω's normalisation: 'paper' 1/B (sum over time, mean over the batch), 'code' 1/valid rows
    var c = 1.0 / f32(B);
    if (variant == 2) { c = select(0.0, 1.0 / valid, valid > 0.0); }

    // the run's gradient, parked in the output, and its squared norm
    var sq = 0.0;
    for (var e = l; e < P; e += ${WG}) {
      var g = 0.0;
      for (var b = 0; b < B; b++) { g += G[(run * B + b) * Q + sPART + e]; }
      ${
        s.omega
          ? `if (variant != 0 && e >= oWrec && e < ob) {
        var om = 0.0;
        for (var b = 0; b < B; b++) { om += G[(run * B + b) * Q + sPART + P + e - oWrec]; }
        g += c * om;
      }`
          : ''
      }
      result[pb + e] = g;
      sq += g * g;
    }
    red[l] = sq;
    workgroupBarrier();
    for (var w = ${WG / 2}; w > 0; w = w / 2) {
      if (l < w) { red[l] += red[l + w]; }
      workgroupBarrier();
    }
    if (l == 0) {
      let norm = sqrt(red[0]);
      let chain = chainDecisions(norm, ${runColumn('safeguard')} == 1.0, ${runColumn('maxNorm')});
      control[0] = norm;
      control[1] = chain.x;
      control[2] = chain.y;
      control[3] = chain.z;
      control[4] = chain.w;
      // NaN from a run-time value: WGSL rejects a NaN that is a constant expression
      let none = bitcast<f32>(0x7fc00000u | u32(run & 0));
      let at = R * P + run;
      result[at + ${row('loss')} * R] = loss;
      result[at + ${row('norm')} * R] = norm;
      result[at + ${row('omega')} * R] = select(none, c * terms, variant != 0);
      result[at + ${row('safeguarded')} * R] = control[1];
      result[at + ${row('clipped')} * R] = control[2];
      result[at + ${row('skipped')} * R] = control[3];
    }
    workgroupBarrier();

    // SGD as tf.train.sgd computes it: w + (−lr)·(g·scale); a skipped run keeps w
    let lr = ${runColumn('learningRate')};
    let safeguarded = control[1] != 0.0;
    let clipped = control[2] != 0.0;
    let skipped = control[3] != 0.0;
    let scale = control[4];
    for (var e = l; e < P; e += ${WG}) {
      let w = f32(W[pb + e]);
      if (skipped) { result[pb + e] = w; continue; }
      var g = result[pb + e];
      if (safeguarded) { g = select(0.0, ${SAFEGUARD_SHRINK.toExponential()} * w, e >= oWrec && e < ob); }
      if (clipped) { g = g * scale; }
      result[pb + e] = -lr * g + w;
    }
  }`;
  return bakedProgram(
    `packed_update_${[R, B, s.T, s.I, H, s.O, s.head, +s.masked, +s.omega].join('_')}`,
    ['W', 'G', 'runs'],
    packedStateSize(R, s.I, H, s.O),
    [1, R, 1],
    WG,
    code,
  );
}
