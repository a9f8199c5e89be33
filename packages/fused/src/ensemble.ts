/**
 * Batched ensembles: R independent runs of one model shape (different seeds, inits or methods:
 * SGD, SGD-C, SGD-CR, paper section 3) trained as one computation, so a sweep such as Fig. 7
 * advances all its runs per kernel call. Each run keeps its own global-norm clip (Algorithm 1)
 * and its own Ω weight; a step is one CliffguardRnnEnsembleStep call (gradients, then every run's
 * norm, safeguard, clip and SGD update inside the kernel), five assignments and one readback.
 * The result equals R separate `trainStep`s with `withGradientClipping(tf.train.sgd(lr), …)`.
 */
import type { Batch, ParamName, RnnConfig, RnnModel } from '@cliffguard/rnn';
import * as tf from '@tensorflow/tfjs-core';
import { ENSEMBLE_STATS, RNN_ENSEMBLE_STEP } from './kernels.js';

const PARAMS: readonly ParamName[] = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'];

export interface EnsembleRun {
  /** Ω's weight α for this run (SGD-CR); 0 or absent: no Ω */
  alpha?: number;
  /** global-norm clip threshold (SGD-C, SGD-CR); absent: plain SGD */
  maxNorm?: number;
}

export interface EnsembleOptions {
  /** SGD learning rate, shared by the runs */
  learningRate: number;
  /** one entry per run, in the order of the models */
  runs: EnsembleRun[];
  /** Ω's variant for the runs with α > 0; default 'paper' (as trainStep) */
  omegaVariant?: 'paper' | 'code';
  /** the authors' safeguard (see @cliffguard/rnn trainStep); default false */
  safeguard?: boolean;
}

/** What one step did to one run (the fields of @cliffguard/rnn's StepRecord). */
export interface EnsembleStepRecord {
  loss: number;
  /** global norm of the gradients before clipping (Ω term included) */
  norm: number;
  /** Ω's value, or null for a run without Ω */
  omega: number | null;
  alpha: number;
  /** the clip rescaled this run's step */
  clipped: boolean;
  /** a non-finite step was skipped (runs with a clip, as the clip wrapper's guard does) */
  skipped: boolean;
  /** the safeguard replaced the step */
  safeguarded: boolean;
}

function checkOptions(options: EnsembleOptions, R: number): void {
  if (!(typeof options?.learningRate === 'number' && Number.isFinite(options.learningRate))) {
    throw new RangeError(`learningRate must be a finite number, got ${String(options?.learningRate)}`);
  }
  if (!Array.isArray(options.runs) || options.runs.length !== R) {
    throw new RangeError(
      `runs must list one entry per model (${R}), got ${options.runs?.length ?? options.runs}`,
    );
  }
  options.runs.forEach((run, r) => {
    if (run.alpha !== undefined && !(Number.isFinite(run.alpha) && run.alpha >= 0)) {
      throw new RangeError(`runs[${r}].alpha must be a finite number ≥ 0, got ${run.alpha}`);
    }
    if (run.maxNorm !== undefined && !(Number.isFinite(run.maxNorm) && run.maxNorm > 0)) {
      throw new RangeError(`runs[${r}].maxNorm must be a positive finite number, got ${run.maxNorm}`);
    }
  });
  const v = options.omegaVariant ?? 'paper';
  if (v !== 'paper' && v !== 'code')
    throw new RangeError(`omegaVariant must be 'paper' or 'code', got ${JSON.stringify(v)}`);
}

function sameConfig(a: RnnConfig, b: RnnConfig): boolean {
  return (
    a.inputSize === b.inputSize &&
    a.hiddenSize === b.hiddenSize &&
    a.outputSize === b.outputSize &&
    a.activation === b.activation &&
    a.head === b.head
  );
}

export class RnnEnsemble {
  /** the stacked parameters: W_in [R, I, H], W_rec [R, H, H], b [R, H], W_out [R, H, O], b_out [R, O] */
  readonly variables: Record<ParamName, tf.Variable>;
  readonly size: number;
  private readonly alpha: tf.Tensor1D;
  private readonly maxNorm: tf.Tensor1D;
  private steps = 0;

  /** Stacks the weights of `models` (same configuration; e.g. from createRnn with different seeds). */
  constructor(
    readonly config: RnnConfig,
    models: readonly RnnModel[],
    readonly options: EnsembleOptions,
  ) {
    if (!Array.isArray(models) || models.length < 1)
      throw new RangeError('an ensemble needs at least one model');
    models.forEach((m, r) => {
      if (!sameConfig(m.config, config)) {
        throw new RangeError(
          `models[${r}] has a different configuration from models[0]: an ensemble shares one shape`,
        );
      }
    });
    checkOptions(options, models.length);
    this.size = models.length;
    this.variables = Object.fromEntries(
      PARAMS.map((k) => [k, tf.tidy(() => tf.variable(tf.stack(models.map((m) => m.variables[k])), true))]),
    ) as Record<ParamName, tf.Variable>;
    const runs = options.runs;
    this.alpha = tf.tensor1d(runs.map((r) => r.alpha ?? 0));
    this.maxNorm = tf.tensor1d(runs.map((r) => r.maxNorm ?? Number.POSITIVE_INFINITY));
  }

  /** Run r's parameters as new tensors [..] (the caller disposes them), e.g. to write back into a model. */
  weightsOf(r: number): Record<ParamName, tf.Tensor> {
    if (!(Number.isInteger(r) && r >= 0 && r < this.size))
      throw new RangeError(`run ${r} is not in [0, ${this.size})`);
    return Object.fromEntries(
      PARAMS.map((k) => [k, tf.tidy(() => tf.squeeze(tf.slice(this.variables[k], r, 1), [0]))]),
    ) as Record<ParamName, tf.Tensor>;
  }

  /**
   * One SGD step of every run on its own batch (`batches[r]`, all of one shape). Per run, as
   * trainStep + withGradientClipping(sgd): gradients with α·∂Ω/∂W_rec, the pre-clip global norm,
   * the safeguard, a non-finite skip (runs with a clip), the clip by maxNorm / max(norm, maxNorm)
   * (selected, not multiplied, under the threshold), then θ ← θ − lr·g.
   */
  async step(batches: readonly Batch[]): Promise<EnsembleStepRecord[]> {
    if (!Array.isArray(batches) || batches.length !== this.size) {
      throw new RangeError(`step needs one batch per run (${this.size}), got ${batches?.length ?? batches}`);
    }
    const backend = tf.getBackend();
    if (!tf.getKernel(RNN_ENSEMBLE_STEP, backend)) {
      throw new Error(
        `ensembles run on the cpu and wasm backends; '${backend}' has no ${RNN_ENSEMBLE_STEP} kernel`,
      );
    }
    const hasMask = batches.some((b) => b.mask !== undefined);
    if (hasMask && !batches.every((b) => b.mask !== undefined))
      throw new RangeError('either every batch has a mask or none');
    const v = this.variables;
    const stats = tf.tidy(() => {
      const inputs = tf.stack(batches.map((b) => b.inputs));
      const targets = tf.stack(batches.map((b) => b.targets));
      const mask = hasMask ? tf.stack(batches.map((b) => b.mask as tf.Tensor)) : tf.tensor1d([]);
      const attrs = {
        activation: this.config.activation,
        head: this.config.head,
        omega: this.options.omegaVariant ?? 'paper',
        learningRate: this.options.learningRate,
        safeguard: this.options.safeguard ?? false,
      };
      const outs = tf.engine().runKernel(
        RNN_ENSEMBLE_STEP,
        {
          W_in: v.W_in,
          W_rec: v.W_rec,
          b: v.b,
          W_out: v.W_out,
          b_out: v.b_out,
          inputs,
          targets,
          mask,
          alpha: this.alpha,
          maxNorm: this.maxNorm,
        },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      PARAMS.forEach((k, i) => {
        v[k].assign(outs[i]);
      });
      return outs[PARAMS.length];
    });
    const values = await stats.data();
    stats.dispose();
    this.steps++;
    return this.options.runs.map((run, r) => {
      const n = ENSEMBLE_STATS.length;
      const [loss, norm, omega, clipped, skipped, safeguarded] = values.subarray(r * n, r * n + n);
      const alpha = run.alpha ?? 0;
      return {
        loss,
        norm,
        omega: alpha > 0 ? omega : null,
        alpha,
        clipped: clipped === 1,
        skipped: skipped === 1,
        safeguarded: safeguarded === 1,
      };
    });
  }

  /** Steps taken. */
  get stepCount(): number {
    return this.steps;
  }

  dispose(): void {
    tf.dispose([...Object.values(this.variables), this.alpha, this.maxNorm]);
  }
}
