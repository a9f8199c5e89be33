/**
 * The fused implementation's batched ensembles (@cliffguard/rnn's createEnsemble with
 * `implementation: 'fused'`): R independent runs of one shape, each with its own method (SGD,
 * SGD-C, SGD-CR), learning rate, clip threshold and α, so a sweep such as Fig. 7 advances all its
 * runs per step.
 * - cpu, wasm: ONE CliffguardRnnEnsembleStep call: every run's pass, then, inside the kernel,
 *   every run's global norm (Ω term included), the authors' safeguard, the clip wrapper's
 *   non-finite skip, Algorithm 1's clip and the SGD update.
 * - webgpu (no ensemble kernel): one CliffguardRnnLoss call (the WGSL pass) per run, then the
 *   reference's per-run update on the device (`stackedUpdate`), still one readback per step.
 */
import {
  type PaperMethodSettings,
  type ParamName,
  type RnnConfig,
  type RnnParams,
  type StackedStepResult,
  type StackedTraining,
  stackedUpdate,
} from '@cliffguard/rnn';
import * as tf from '@tensorflow/tfjs-core';
import { ENSEMBLE_RUN_COLUMNS, RNN_ENSEMBLE_STEP, RNN_LOSS } from './kernels.js';
import { runLossKernel } from './ops.js';
import { ACTIVATIONS, HEADS } from './problem.js';

const PARAMS: readonly ParamName[] = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'];

/** Each run's row of the kernel's `runs` input (ENSEMBLE_RUN_COLUMNS). */
function runTable(members: readonly PaperMethodSettings[], alphas: readonly number[]): tf.Tensor2D {
  const rows = members.map((m, r) => {
    const row: Record<(typeof ENSEMBLE_RUN_COLUMNS)[number], number> = {
      alpha: m.usesOmega ? alphas[r] : 0,
      maxNorm: m.clips ? m.threshold : Number.POSITIVE_INFINITY,
      learningRate: m.learningRate,
      safeguard: m.safeguard ? 1 : 0,
      omega: m.usesOmega ? (m.omegaVariant === 'paper' ? 1 : 2) : 0,
    };
    return ENSEMBLE_RUN_COLUMNS.map((c) => row[c]);
  });
  return tf.tensor2d(rows, [members.length, ENSEMBLE_RUN_COLUMNS.length]);
}

type StepFunction = StackedTraining['trainStep'];

/** cpu and wasm: the whole update in one kernel call. */
const kernelStep: StepFunction = (params, config, batch, members, alphas) => {
  const outs = tf.engine().runKernel(
    RNN_ENSEMBLE_STEP,
    {
      ...params,
      inputs: batch.inputs,
      targets: batch.targets,
      mask: batch.mask ?? tf.tensor1d([]),
      runs: runTable(members, alphas),
    },
    { activation: config.activation, head: config.head } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  const next = Object.fromEntries(PARAMS.map((k, i) => [k, outs[i]])) as Record<ParamName, tf.Tensor>;
  return { next, record: outs[PARAMS.length] };
};

/** Backends with the fused pass but no ensemble kernel (webgpu): a pass per run, the update shared. */
const passPerRun: StepFunction = (params, config, batch, members, alphas) => {
  const perRun = (t: tf.Tensor) => tf.unstack(t);
  const weights = Object.fromEntries(PARAMS.map((k) => [k, perRun(params[k])])) as Record<
    ParamName,
    tf.Tensor[]
  >;
  const inputs = perRun(batch.inputs);
  const targets = perRun(batch.targets);
  const masks = batch.mask ? perRun(batch.mask) : undefined;
  const passes = members.map((m, r) =>
    runLossKernel(
      Object.fromEntries(PARAMS.map((k) => [k, weights[k][r]])) as RnnParams,
      inputs[r] as tf.Tensor3D,
      targets[r],
      {
        activation: config.activation,
        head: config.head,
        mask: masks?.[r] as tf.Tensor2D | undefined,
        ...(m.usesOmega ? { omega: m.omegaVariant, omegaWeight: alphas[r] } : {}),
      },
    ),
  );
  return stackedUpdate(
    params,
    {
      loss: tf.stack(passes.map((p) => p.loss)),
      grads: Object.fromEntries(PARAMS.map((k) => [k, tf.stack(passes.map((p) => p[k]))])) as Record<
        ParamName,
        tf.Tensor
      >,
      omega: tf.stack(members.map((m, r) => (m.usesOmega ? passes[r].omega : tf.scalar(Number.NaN)))),
    },
    members,
  );
};

export const fusedStacked: StackedTraining = {
  /** Every activation, head and method, on the backends with the fused kernels. */
  supports(config: RnnConfig, _members: readonly PaperMethodSettings[], backend: string): boolean {
    return (
      ACTIVATIONS.includes(config.activation) &&
      HEADS.includes(config.head) &&
      (tf.getKernel(RNN_ENSEMBLE_STEP, backend) !== undefined ||
        tf.getKernel(RNN_LOSS, backend) !== undefined)
    );
  },

  trainStep(params, config, batch, members, alphas): StackedStepResult {
    const step = tf.getKernel(RNN_ENSEMBLE_STEP, tf.getBackend()) ? kernelStep : passPerRun;
    return step(params, config, batch, members, alphas);
  },
};
