/**
 * One update of R independent runs of the paper's RNN whose parameters are stacked along a first
 * axis (W_in [R, I, H], W_rec [R, H, H], b [R, H], W_out [R, H, O], b_out [R, O]), as one batched
 * computation: every kernel advances all R runs. Per run, exactly what
 * `trainStep(model, batch, paperMethod(...).optimizer, ...)` does for one model:
 *   forward → loss → BPTT (+ α·∂Ω/∂W_rec, eq. 9-10, SGD-CR) → global norm → the authors'
 *   safeguard → Algorithm 1 clip (norm > threshold, SGD-C/SGD-CR) behind the clip wrapper's
 *   non-finite skip → w ← w − lr·g.
 * Every decision is made on the device with per-run masks (tf.where), so a NaN in one run never
 * reaches another, and the step needs no readback of its own.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Head, ParamName, RnnConfig, RnnParams } from './implementation.js';
import { type OmegaScale, omegaScale } from './omega.js';
import type { PaperMethodSettings } from './paper-method.js';
import { stackedLossAndGradients } from './reference.js';
import { safeguardGradient, safeguardTriggered } from './train-step.js';

/** The parameters in the order every record and norm uses (the model's order). */
export const PARAM_NAMES: readonly ParamName[] = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'];

/** Rows of the packed per-step record ([RECORD_ROWS.length, R]), read back once. */
export const RECORD_ROWS = ['loss', 'norm', 'omega', 'safeguarded', 'clipped', 'skipped'] as const;

/** A stacked batch: inputs [R, B, T, I], targets [R, ...], mask [R, B, T]. */
export interface StackedBatch {
  inputs: tf.Tensor;
  targets: tf.Tensor;
  mask?: tf.Tensor;
}

/** A per-run value as a tensor [R, 1, …, 1] of rank `rank`, broadcasting over each run's slice. */
function perRun(values: readonly (number | boolean)[], rank: number): tf.Tensor {
  const shape = [values.length, ...new Array(rank - 1).fill(1)];
  return typeof values[0] === 'boolean'
    ? tf.tensor(values as boolean[], shape, 'bool')
    : tf.tensor(values as number[], shape, 'float32');
}

/** A [R] mask reshaped to broadcast over tensors of rank `rank` ([R, 1, …, 1]). */
function spread(mask: tf.Tensor, rank: number): tf.Tensor {
  return tf.reshape(mask, [mask.shape[0], ...new Array(rank - 1).fill(1)]);
}

/** The global L2 norm of each run's gradients (all its parameters together): [R]. */
export function runNorms(grads: readonly tf.Tensor[]): tf.Tensor {
  const R = grads[0].shape[0];
  const flat = grads.map((g) => (g.rank === 2 ? g : tf.reshape(g, [R, -1])));
  return tf.sqrt(tf.sum(tf.square(tf.concat(flat, 1)), 1));
}

/**
 * Ω's averaging per run: the members' variant ('paper' 1/B, 'code' 1/#valid), one factor per run
 * when they differ. Only the members that use Ω decide.
 */
function ensembleOmegaScale(members: readonly PaperMethodSettings[], batch: number): OmegaScale | undefined {
  const users = members.filter((m) => m.usesOmega);
  if (users.length === 0) return undefined;
  const variants = new Set(users.map((m) => m.omegaVariant));
  if (variants.size === 1) return omegaScale(users[0].omegaVariant, batch);
  const paper = omegaScale('paper', batch);
  const code = omegaScale('code', batch);
  return (valid) =>
    tf.where(
      perRun(
        members.map((m) => m.omegaVariant === 'paper'),
        2,
      ),
      paper(valid),
      code(valid),
    );
}

/** ∂E/∂W_rec + α_r ∂Ω/∂W_rec for the runs that use Ω (added before the norm, as the authors' code does). */
function withOmegaTerm(
  gW_rec: tf.Tensor,
  omegaGrad: tf.Tensor,
  members: readonly PaperMethodSettings[],
  alphas: readonly number[],
): tf.Tensor {
  const summed = tf.add(gW_rec, tf.mul(omegaGrad, perRun(alphas, 3)));
  if (members.every((m) => m.usesOmega)) return summed;
  // A select, not α = 0: a run without Ω must not inherit a NaN from its (unused) Ω term.
  return tf.where(
    perRun(
      members.map((m) => m.usesOmega),
      3,
    ),
    summed,
    gW_rec,
  );
}

/** What {@link stackedTrainStep} produced: the updated parameters and the packed record [6, R]. */
export interface StackedStepResult {
  next: Record<ParamName, tf.Tensor>;
  record: tf.Tensor;
}

/**
 * The update of R stacked runs (see the file comment). `members[r]` holds run r's method
 * settings, `alphas[r]` its α for this update (ignored unless it uses Ω). Call inside a tf.tidy;
 * returns new tensors and disposes nothing.
 */
export function stackedTrainStep(
  params: RnnParams,
  config: Pick<RnnConfig, 'hiddenSize' | 'activation'> & { head: Head },
  batch: StackedBatch,
  members: readonly PaperMethodSettings[],
  alphas: readonly number[],
): StackedStepResult {
  const R = members.length;
  const [B] = batch.inputs.shape.slice(1);
  const H = config.hiddenSize;
  const scale = ensembleOmegaScale(members, B);
  const stacked = { ...params, b: tf.reshape(params.b, [R, 1, H]) };
  const r = stackedLossAndGradients(
    stacked,
    config.head,
    config.activation,
    batch,
    tf.zeros([R, B, H]),
    [R],
    {
      omegaScale: scale,
    },
  );
  if (r.omega) r.grads.W_rec = withOmegaTerm(r.grads.W_rec, r.omega.grad, members, alphas);

  let grads = PARAM_NAMES.map((k) => r.grads[k]);
  const norm = runNorms(grads);

  // The authors' safeguard: a non-finite or huge norm becomes the shrink step g_W_rec = 0.02·W_rec.
  let broken: tf.Tensor = tf.zeros([R], 'bool');
  if (members.some((m) => m.safeguard)) {
    broken = tf.logicalAnd(
      perRun(
        members.map((m) => m.safeguard),
        1,
      ),
      safeguardTriggered(norm),
    );
    grads = grads.map((g, i) =>
      safeguardGradient(g, spread(broken, g.rank), PARAM_NAMES[i] === 'W_rec' ? params.W_rec : undefined),
    );
  }

  // Algorithm 1 on the gradients the optimizer sees (after the safeguard), with `>`, per run;
  // a non-finite norm there is skipped (the clip wrapper's guard). Plain SGD has neither.
  let clipped: tf.Tensor = tf.zeros([R], 'bool');
  let skipped: tf.Tensor = tf.zeros([R], 'bool');
  if (members.some((m) => m.clips)) {
    const clips = perRun(
      members.map((m) => m.clips),
      1,
    );
    const seen = members.some((m) => m.safeguard) ? runNorms(grads) : norm;
    const threshold = perRun(
      members.map((m) => m.threshold),
      1,
    );
    clipped = tf.logicalAnd(clips, tf.greater(seen, threshold));
    skipped = tf.logicalAnd(clips, tf.logicalNot(tf.isFinite(seen)));
    const factor = tf.div(threshold, seen);
    // Selected, not multiplied by 1, where unclipped: bit for bit what the optimizer gets there.
    grads = grads.map((g) => tf.where(spread(clipped, g.rank), tf.mul(g, spread(factor, g.rank)), g));
  }

  // SGD, no momentum: w ← w + (−lr)·g (tf.train.sgd's arithmetic); skipped runs keep w.
  const negLr = members.map((m) => -m.learningRate);
  const anySkip = members.some((m) => m.clips);
  const next = {} as Record<ParamName, tf.Tensor>;
  PARAM_NAMES.forEach((k, i) => {
    const w = params[k];
    const moved = tf.add(tf.mul(perRun(negLr, w.rank), grads[i]), w);
    next[k] = anySkip ? tf.where(spread(skipped, w.rank), w, moved) : moved;
  });

  const asFloat = (t: tf.Tensor) => tf.cast(t, 'float32');
  const omega = r.omega ? r.omega.value : tf.fill([R], Number.NaN);
  const record = tf.stack([r.loss, norm, omega, asFloat(broken), asFloat(clipped), asFloat(skipped)]);
  return { next, record };
}
