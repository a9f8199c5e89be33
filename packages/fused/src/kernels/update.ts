/**
 * The ensemble's SGD update of one run on typed arrays (CliffguardRnnEnsembleStep on cpu and wasm),
 * in the paper's order: the global norm, the authors' safeguard, the clip wrapper's non-finite skip,
 * Algorithm 1's clip, then SGD. The WGSL twin is webgpu/programs/update.ts.
 */
import { SAFEGUARD_NORM, SAFEGUARD_SHRINK } from '@cliffguard/rnn';

/** The authors' safeguard's constants, from their one home in @cliffguard/rnn. */
export { SAFEGUARD_NORM, SAFEGUARD_SHRINK };

/**
 * One SGD update of each run r's parameters θ_r with gradient g_r (Ω included), as trainStep with
 * withGradientClipping(sgd): norm = ‖g‖ over all parameters (before clipping); a run with a clip
 * skips a non-finite step and scales by maxNorm / norm above it; θ ← θ − lr·g. The safeguard (a
 * non-finite or huge norm) replaces that step by the unclipped shrink step g_W_rec = 0.02·W_rec. Writes the new parameters into `next`, returns [norm, clipped, skipped, safeguarded].
 */
export function sgdUpdate(
  theta: Record<string, Float32Array>,
  g: Record<string, Float32Array>,
  next: Record<string, Float32Array>,
  lr: number,
  maxNorm: number,
  safeguard: boolean,
): [number, number, number, number] {
  const keys = Object.keys(theta);
  const norm = Math.sqrt(sumOfSquares(keys.map((k) => g[k])));
  let grads = g;
  let safeguarded = 0;
  if (safeguard && (!Number.isFinite(norm) || norm > SAFEGUARD_NORM)) {
    safeguarded = 1;
    grads = Object.fromEntries(
      keys.map((k) => [
        k,
        k === 'W_rec'
          ? theta[k].map((w) => Math.fround(w * SAFEGUARD_SHRINK))
          : new Float32Array(theta[k].length),
      ]),
    );
  }
  // The authors' order: the shrink step replaces the clipped step, so it is never clipped or skipped.
  const withClip = Number.isFinite(maxNorm) && !safeguarded;
  const skipped = withClip && !Number.isFinite(norm) ? 1 : 0;
  const clipped = withClip && !skipped && norm > maxNorm ? 1 : 0;
  const scale = clipped ? Math.fround(maxNorm / norm) : 1;
  for (const k of keys) {
    if (skipped) next[k].set(theta[k]);
    else sgdStep(theta[k], grads[k], next[k], Math.fround(-lr), scale);
  }
  return [norm, clipped, skipped, safeguarded];
}

/** Σ x² over several arrays, in float64 (plain typed-array loops: V8 keeps them monomorphic). */
function sumOfSquares(arrays: readonly Float32Array[]): number {
  let s = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      s += v * v;
    }
  }
  return s;
}

/** out = t + step·(d·scale) in tf.train.sgd's float32 arithmetic (each product rounded). */
function sgdStep(t: Float32Array, d: Float32Array, out: Float32Array, step: number, scale: number): void {
  if (scale === 1) {
    for (let i = 0; i < t.length; i++) out[i] = Math.fround(step * d[i]) + t[i];
  } else {
    for (let i = 0; i < t.length; i++) out[i] = Math.fround(step * Math.fround(d[i] * scale)) + t[i];
  }
}
