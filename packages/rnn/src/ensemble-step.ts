/**
 * One update of R independent runs of the paper's RNN whose parameters are stacked along a first
 * axis (W_in [R, I, H], W_rec [R, H, H], b [R, H], W_out [R, H, O], b_out [R, O]), as one batched
 * computation: every kernel advances all R runs. Per run, exactly what
 * `trainStep(model, batch, paperMethod(...).optimizer, ...)` does for one model:
 *   forward → loss → BPTT (+ α·∂Ω/∂W_rec, eq. 9-10, SGD-CR) → global norm → Algorithm 1 clip
 *   (norm > maxNorm, SGD-C/SGD-CR) behind the clip wrapper's non-finite skip → w ← w − lr·g,
 *   where the authors' safeguard (a non-finite or huge norm) replaces the clipped step by the
 *   unclipped shrink step g_W_rec = 0.02·W_rec.
 * Every decision is made on the device with per-run masks (tf.where), so a NaN in one run never
 * reaches another, and the step needs no readback of its own.
 */
import { safeguardTriggered } from '@cliffguard/clip';
import * as tf from '@tensorflow/tfjs-core';
import { repeatRows, spreadRuns } from './broadcast.js';
import type {
  Activation,
  Head,
  ParamName,
  RnnConfig,
  RnnImplementation,
  RnnParams,
} from './implementation.js';
import { safeguardGradient } from './model-update.js';
import { type OmegaScale, omegaScale, stackedOmegaAndGradient } from './omega.js';
import type { PaperMethodSettings } from './paper-method.js';
import { stackedLossAndGradients } from './reference.js';

/** The parameters in the order every record and norm uses (the model's order). */
export const PARAM_NAMES: readonly ParamName[] = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'];

/** Rows of the packed per-step record ([RECORD_ROWS.length, R]), read back once. */
export const RECORD_ROWS = ['loss', 'norm', 'omega', 'safeguarded', 'clipped', 'skipped'] as const;

/** A stacked batch: inputs [R, B, T, I], targets [R, ...], mask [R, B, T]. */
export interface StackedBatch {
  inputs: tf.Tensor;
  targets: tf.Tensor;
  mask?: tf.Tensor;
  /**
   * Each run's sequence length where runs of different lengths share the batch (one per run,
   * 1 ≤ lengths[r] ≤ T): run r reads the first lengths[r] steps of its inputs, per-step targets
   * and mask, and the steps after them are padding. Default: every run T.
   */
  lengths?: readonly number[];
}

/** One value per run as a [R] tensor. */
function perRun(values: readonly (number | boolean)[]): tf.Tensor {
  return typeof values[0] === 'boolean'
    ? tf.tensor1d(values as boolean[], 'bool')
    : tf.tensor1d(values as number[], 'float32');
}

/** The global L2 norm of each run's gradients (all its parameters together): [R]. */
export function runNorms(grads: readonly tf.Tensor[]): tf.Tensor {
  const R = grads[0].shape[0];
  const flat = grads.map((g) => (g.rank === 2 ? g : tf.reshape(g, [R, -1])));
  return tf.sqrt(tf.sum(tf.square(tf.concat(flat, 1)), 1));
}

/** Ω's averaging for `users` (the runs that use Ω): 'paper' 1/B, 'code' 1/#valid, per run when they differ. */
function omegaScaleOf(users: readonly PaperMethodSettings[], batch: number): OmegaScale {
  const variants = new Set(users.map((m) => m.omegaVariant));
  if (variants.size === 1) return omegaScale(users[0].omegaVariant, batch);
  const paper = omegaScale('paper', batch);
  const code = omegaScale('code', batch);
  const isPaper = tf.reshape(perRun(users.map((m) => m.omegaVariant === 'paper')), [users.length, 1]);
  return (valid) => tf.where(isPaper, paper(valid), code(valid));
}

/**
 * Ω (eq. 9-10) for the runs that use it, from δ_t and h_t [R, B, T, H] held constant: its value
 * per run ([R], NaN for the others) and α_r·∂Ω/∂W_rec ([R, H, H], exactly 0 for the others, so
 * adding it leaves their gradient as it is and cannot bring them a NaN). Only those runs are
 * computed: a sweep's SGD and SGD-C runs pay nothing for Ω.
 */
function omegaTerms(
  W_rec: tf.Tensor,
  deltas: tf.Tensor,
  states: tf.Tensor,
  activation: RnnConfig['activation'],
  members: readonly PaperMethodSettings[],
  alphas: readonly number[],
): { value: tf.Tensor; weighted: tf.Tensor } {
  const users = members.flatMap((m, r) => (m.usesOmega ? [r] : []));
  const all = users.length === members.length;
  const pick = (x: tf.Tensor) => (all ? x : tf.gather(x, users));
  const usersSettings = users.map((r) => members[r]);
  const { value, grad } = stackedOmegaAndGradient(
    pick(W_rec),
    pick(deltas),
    pick(states),
    activation,
    [users.length],
    omegaScaleOf(usersSettings, deltas.shape[1] as number),
  );
  const weighted = tf.mul(grad, spreadRuns(perRun(users.map((r) => alphas[r])), grad.shape));
  if (all) return { value, weighted };
  // Back to all R runs: users' rows in place, a zero (NaN for the value) row for the others.
  const slot = members.map((m, r) => (m.usesOmega ? users.indexOf(r) : users.length));
  const H = grad.shape[1] as number;
  return {
    value: tf.gather(tf.concat([value, tf.fill([1], Number.NaN)]), slot),
    weighted: tf.gather(tf.concat([weighted, tf.zeros([1, H, H])]), slot),
  };
}

/**
 * The stacked parameters as the shared recurrence takes them: b [R, H] repeated over the B rows
 * of a step ([R, B, H]), so adding it to the projections [T, R, B, H] is an equal-suffix add
 * (see broadcast.ts).
 */
export function recurrenceParams(params: RnnParams, batch: number): RnnParams {
  const [R, H] = params.b.shape;
  return { ...params, b: repeatRows(tf.reshape(params.b, [R, 1, H]), batch) };
}

/**
 * Batched ensembles (createEnsemble): one training update of R runs whose parameters are stacked
 * along a leading axis, each with its own method (paper-method settings) and α. The result must
 * equal the reference's `stackedTrainStep` to float32 tolerance.
 */
export interface StackedTraining {
  /** Whether these runs of `config` can step on tfjs backend `backend`. */
  supports(config: RnnConfig, members: readonly PaperMethodSettings[], backend: string): boolean;
  /**
   * The update: every run's new parameters [R, ...] and the record [RECORD_ROWS.length, R]
   * (loss, norm, omega, safeguarded, clipped, skipped). Called inside a tf.tidy.
   */
  trainStep(
    params: RnnParams,
    config: RnnConfig,
    batch: StackedBatch,
    members: readonly PaperMethodSettings[],
    alphas: readonly number[],
  ): StackedStepResult;
  /**
   * Optional: the runs' parameters held in ONE packed state tensor between steps (a GPU step that
   * needs few buffers). An ensemble that steps alone uses it where `supports` says so, packing
   * its weights before the first such step and unpacking them only when they are read.
   */
  readonly packed?: PackedStackedTraining;
}

/**
 * Runs of one ensemble that differ in their units and in their sequences' length (a whole Fig. 7
 * sweep in one ensemble). Run r reads the first `lengths[r]` steps of the batch (inputs, per-step
 * targets and mask); the steps after them are padding that nothing reads.
 */
export interface RunShapes {
  /** each run's activation */
  activations: readonly Activation[];
  /** each run's sequence length, 1 ≤ lengths[r] ≤ the batch's T */
  lengths: readonly number[];
}

/** The packed form of {@link StackedTraining}; the state's layout is the implementation's own. */
export interface PackedStackedTraining {
  supports(config: RnnConfig, members: readonly PaperMethodSettings[], backend: string): boolean;
  /**
   * Whether `trainStep` takes `shapes` (runs of different activations and lengths in one step);
   * otherwise an ensemble of such runs steps its runs group by group.
   */
  readonly mixed?: boolean;
  /** The state holding `params` (stacked [R, ...] each). Called inside a tf.tidy. */
  pack(params: RnnParams, config: RnnConfig, runs: number): tf.Tensor;
  /** The stacked parameters the state holds. Called inside a tf.tidy. */
  unpack(state: tf.Tensor, config: RnnConfig, runs: number): Record<ParamName, tf.Tensor>;
  /**
   * Run r's parameters, shaped as one model's, read from the state without unpacking it (a check
   * or checkpoint of one run between packed steps).
   */
  readRun(
    state: tf.Tensor,
    config: RnnConfig,
    runs: number,
    r: number,
  ): Promise<Record<ParamName, { shape: number[]; values: Float32Array }>>;
  /** The update: the next state and the record [RECORD_ROWS.length, R]. Called inside a tf.tidy. */
  trainStep(
    state: tf.Tensor,
    config: RnnConfig,
    batch: StackedBatch,
    members: readonly PaperMethodSettings[],
    alphas: readonly number[],
    /** per-run activations and lengths (only where `mixed`); absent: config.activation, the batch's T */
    shapes?: RunShapes,
  ): { next: tf.Tensor; record: tf.Tensor };
}

/**
 * An implementation that can also train batched ensembles: the training layer's view of an
 * implementation (implementation.ts itself knows forward and gradients only).
 */
export interface TrainableImplementation extends RnnImplementation {
  /** Batched ensembles; absent: an ensemble using this implementation cannot step. */
  readonly stacked?: StackedTraining;
}

/** What {@link stackedTrainStep} produced: the updated parameters and the packed record [6, R]. */
export interface StackedStepResult {
  next: Record<ParamName, tf.Tensor>;
  record: tf.Tensor;
}

/** R runs' gradients, the input of {@link stackedUpdate}. */
export interface RunGradients {
  /** each run's task loss [R] */
  loss: tf.Tensor;
  /** each run's gradients [R, ...], α·∂Ω/∂W_rec already in W_rec for the runs that use Ω */
  grads: Record<ParamName, tf.Tensor>;
  /** Ω's value [R], NaN for the runs without Ω */
  omega: tf.Tensor;
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
  const anyOmega = members.some((m) => m.usesOmega);
  const r = stackedLossAndGradients(
    recurrenceParams(params, B),
    config.head,
    config.activation,
    batch,
    tf.zeros([R, B, H]),
    [R],
    { keepDeltas: anyOmega },
  );
  let omega: tf.Tensor = tf.fill([R], Number.NaN);
  const grads = { ...r.grads };
  if (anyOmega) {
    const o = omegaTerms(params.W_rec, r.deltas!, r.states, config.activation, members, alphas);
    // Added before the norm and the clip, as the authors' code does.
    grads.W_rec = tf.add(grads.W_rec, o.weighted);
    omega = o.value;
  }
  return stackedUpdate(params, { loss: r.loss, grads, omega }, members);
}

/**
 * Everything after the gradients, per run and decided on the device: the global norm, the
 * authors' safeguard, Algorithm 1's clip behind the non-finite skip, and SGD. Shared by every
 * implementation whose ensembles compute only the gradients (the reference, fused on webgpu).
 */
export function stackedUpdate(
  params: RnnParams,
  gradients: RunGradients,
  members: readonly PaperMethodSettings[],
): StackedStepResult {
  const R = members.length;
  let grads = PARAM_NAMES.map((k) => gradients.grads[k]);
  const norm = runNorms(grads);

  // The authors' safeguard: a non-finite or huge norm becomes the shrink step g_W_rec = 0.02·W_rec.
  const guarded = members.some((m) => m.safeguard);
  let broken: tf.Tensor = tf.zeros([R], 'bool');
  if (guarded) {
    broken = tf.logicalAnd(perRun(members.map((m) => m.safeguard)), safeguardTriggered(norm));
    grads = grads.map((g, i) =>
      safeguardGradient(
        g,
        spreadRuns(broken, g.shape),
        PARAM_NAMES[i] === 'W_rec' ? params.W_rec : undefined,
      ),
    );
  }

  // Algorithm 1 with `>`, per run; a non-finite norm is skipped (the clip wrapper's guard). A
  // safeguarded run's shrink step replaces its clipped step (the authors' order): never clipped or
  // skipped. Plain SGD has neither.
  const clipping = members.some((m) => m.clips);
  let clipped: tf.Tensor = tf.zeros([R], 'bool');
  let skipped: tf.Tensor = tf.zeros([R], 'bool');
  if (clipping) {
    const clips = tf.logicalAnd(perRun(members.map((m) => m.clips)), tf.logicalNot(broken));
    const maxNorm = perRun(members.map((m) => m.maxNorm));
    clipped = tf.logicalAnd(clips, tf.greater(norm, maxNorm));
    skipped = tf.logicalAnd(clips, tf.logicalNot(tf.isFinite(norm)));
    const factor = tf.div(maxNorm, norm);
    // Selected, not multiplied by 1, where unclipped: bit for bit what the optimizer gets there.
    grads = grads.map((g) =>
      tf.where(spreadRuns(clipped, g.shape), tf.mul(g, spreadRuns(factor, g.shape)), g),
    );
  }

  // SGD, no momentum: w ← w + (−lr)·g (tf.train.sgd's arithmetic); skipped runs keep w.
  const negLr = perRun(members.map((m) => -m.learningRate));
  const next = {} as Record<ParamName, tf.Tensor>;
  PARAM_NAMES.forEach((k, i) => {
    const w = params[k];
    const moved = tf.add(tf.mul(spreadRuns(negLr, w.shape), grads[i]), w);
    next[k] = clipping ? tf.where(spreadRuns(skipped, w.shape), w, moved) : moved;
  });

  const asFloat = (t: tf.Tensor) => tf.cast(t, 'float32');
  const record = tf.stack([
    gradients.loss,
    norm,
    gradients.omega,
    asFloat(broken),
    asFloat(clipped),
    asFloat(skipped),
  ]);
  return { next, record };
}
