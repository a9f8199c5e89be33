/**
 * The fused implementation's batched ensembles (@cliffguard/rnn's createEnsemble with
 * `implementation: 'fused'`): R independent runs of one shape, each with its own method (SGD,
 * SGD-C, SGD-CR), learning rate, clip threshold and α, so a sweep such as Fig. 7 advances all its
 * runs per step.
 * - cpu, wasm: ONE CliffguardRnnEnsembleStep call: every run's pass, then, inside the kernel,
 *   every run's global norm (Ω term included), the authors' safeguard, the clip wrapper's
 *   non-finite skip, Algorithm 1's clip and the SGD update.
 * - webgpu: ONE CliffguardRnnEnsembleLoss call (the WGSL programs, each dispatched once for all
 *   runs: a run per workgroup row), then the reference's per-run update on the device
 *   (`stackedUpdate`), still one readback per step.
 */
import {
  type PaperMethodSettings,
  type ParamName,
  type RnnConfig,
  type StackedStepResult,
  type StackedTraining,
  stackedUpdate,
} from '@cliffguard/rnn';
import * as tf from '@tensorflow/tfjs-core';
import { ENSEMBLE_RUN_COLUMNS, RNN_ENSEMBLE_LOSS, RNN_ENSEMBLE_STEP } from './kernels.js';
import { ACTIVATIONS, HEADS } from './problem.js';
import { FLAG_COMBINE, FLAG_OMEGA, FLAG_OMEGA_CODE } from './webgpuPrograms.js';

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

/** Each run's row of CliffguardRnnEnsembleLoss's `runs` input: its Ω flags and α. */
function omegaTable(members: readonly PaperMethodSettings[], alphas: readonly number[]): tf.Tensor2D {
  const rows = members.map((m, r) => {
    if (!m.usesOmega) return [0, 0];
    const code = m.omegaVariant === 'paper' ? 0 : FLAG_OMEGA_CODE;
    // α·∂Ω/∂W_rec summed into W_rec's gradient inside the pass, as the cpu and wasm kernels do
    return [FLAG_OMEGA | FLAG_COMBINE | code, alphas[r]];
  });
  return tf.tensor2d(rows, [members.length, 2]);
}

/** webgpu: one batched pass for every run (CliffguardRnnEnsembleLoss), then the update on the device. */
const batchedPass: StepFunction = (params, config, batch, members, alphas) => {
  const outs = tf.engine().runKernel(
    RNN_ENSEMBLE_LOSS,
    {
      ...params,
      inputs: batch.inputs,
      targets: batch.targets,
      mask: batch.mask ?? tf.tensor1d([]),
      runs: omegaTable(members, alphas),
    },
    {
      activation: config.activation,
      head: config.head,
      omega: members.some((m) => m.usesOmega),
    } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  const [loss, omega, ...grads] = outs;
  return stackedUpdate(
    params,
    {
      loss,
      omega,
      grads: Object.fromEntries(PARAMS.map((k, i) => [k, grads[i]])) as Record<ParamName, tf.Tensor>,
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
        tf.getKernel(RNN_ENSEMBLE_LOSS, backend) !== undefined)
    );
  },

  trainStep(params, config, batch, members, alphas): StackedStepResult {
    const step = tf.getKernel(RNN_ENSEMBLE_STEP, tf.getBackend()) ? kernelStep : batchedPass;
    return step(params, config, batch, members, alphas);
  },
};
