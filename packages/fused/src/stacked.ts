/**
 * The fused implementation's batched ensembles (@cliffguard/rnn's createEnsemble with
 * `implementation: 'fused'`): R independent runs of one shape, each with its own method (SGD,
 * SGD-C, SGD-CR), learning rate, clip threshold and α, so a sweep such as Fig. 7 advances all its
 * runs per step.
 * Every backend with the fused kernels runs a step as ONE CliffguardRnnEnsembleStep call: every
 * run's pass, then every run's global norm (Ω term included), the authors' safeguard, the clip
 * wrapper's non-finite skip, Algorithm 1's clip and the SGD update. On cpu and wasm that is the
 * engine plus a loop in JavaScript; on webgpu, WGSL programs each dispatched once for all runs (a
 * run per workgroup row), the update included, so the step stays on the device.
 */
import type {
  PackedStackedTraining,
  PaperMethodSettings,
  ParamName,
  RnnConfig,
  RunShapes,
  StackedTraining,
} from '@cliffguard/rnn';
import * as tf from '@tensorflow/tfjs-core';
import {
  ENSEMBLE_RUN_COLUMNS,
  ENSEMBLE_STATS,
  RNN_ENSEMBLE_PACKED_STEP,
  RNN_ENSEMBLE_STEP,
} from './kernels/names.js';
import { ACTIVATIONS, HEADS } from './problem.js';
import { deviceLimits, persistentFits } from './webgpu/packed.js';
import { persistentAllowed } from './webgpu/runner.js';

const PARAMS: readonly ParamName[] = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'];

/** Each run's row of the kernel's `runs` input (ENSEMBLE_RUN_COLUMNS). */
function runTable(members: readonly PaperMethodSettings[], alphas: readonly number[]): tf.Tensor2D {
  const rows = members.map((m, r) => {
    const row: Record<(typeof ENSEMBLE_RUN_COLUMNS)[number], number> = {
      alpha: m.usesOmega ? alphas[r] : 0,
      maxNorm: m.clips ? m.maxNorm : Number.POSITIVE_INFINITY,
      learningRate: m.learningRate,
      safeguard: m.safeguard ? 1 : 0,
      omega: m.usesOmega ? (m.omegaVariant === 'paper' ? 1 : 2) : 0,
    };
    return ENSEMBLE_RUN_COLUMNS.map((c) => row[c]);
  });
  return tf.tensor2d(rows, [members.length, ENSEMBLE_RUN_COLUMNS.length]);
}

/**
 * The kernel's `shapes` input [R, 2] for runs of different lengths and activations: per run its
 * length and activation code (0 tanh, 1 sigmoid). Checked first: R entries each, every length an
 * integer in [1, T] (the batch's steps), every activation one of ACTIVATIONS.
 */
function shapesTable(shapes: RunShapes, R: number, T: number): tf.Tensor2D {
  const who = 'packed ensemble step';
  for (const k of ['lengths', 'activations'] as const) {
    const list = shapes?.[k];
    if (!Array.isArray(list) || list.length !== R) {
      throw new RangeError(
        `${who}: shapes.${k} must have one entry per run (${R}), got ${Array.isArray(list) ? `${list.length} entries` : String(list)}`,
      );
    }
  }
  shapes.lengths.forEach((length, r) => {
    if (!(Number.isInteger(length) && length >= 1 && length <= T)) {
      throw new RangeError(
        `${who}: shapes.lengths[${r}] = ${String(length)} is not an integer in [1, ${T}] (the batch's steps)`,
      );
    }
  });
  shapes.activations.forEach((activation, r) => {
    if (!ACTIVATIONS.includes(activation)) {
      throw new RangeError(
        `${who}: shapes.activations[${r}] = ${JSON.stringify(activation)} is not one of ${ACTIVATIONS.map((a) => `'${a}'`).join(', ')}`,
      );
    }
  });
  return tf.tensor2d(
    shapes.lengths.flatMap((length, r) => [length, shapes.activations[r] === 'tanh' ? 0 : 1]),
    [R, 2],
  );
}

type StepFunction = StackedTraining['trainStep'];

/** The whole update of every run in one kernel call. */
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

/** One run's parameters in the packed state: their shapes, sizes, and P (all five). */
function runLayout(config: RnnConfig) {
  const { inputSize: I, hiddenSize: H, outputSize: O } = config;
  const shapes: Record<ParamName, number[]> = {
    W_in: [I, H],
    W_rec: [H, H],
    b: [H],
    W_out: [H, O],
    b_out: [O],
  };
  const sizes = PARAMS.map((k) => shapes[k].reduce((a, b) => a * b, 1));
  return { shapes, sizes, P: sizes.reduce((a, b) => a + b, 0) };
}

/**
 * The packed runs of the webgpu persistent step (CliffguardRnnEnsemblePackedStep): the state is
 * per run W_in | W_rec | b | W_out | b_out, row-major, then room for the record [6, R]. Runs of
 * different lengths and activations (`shapes`) step together, each reading its first T_r steps.
 */
const packedRuns: PackedStackedTraining = {
  /** trainStep takes `shapes`: runs of different lengths and activations in one step */
  mixed: true,

  /** webgpu, where the hidden units fit one workgroup (at most 256), recurrences on 'auto'. */
  supports(config: RnnConfig, _members: readonly PaperMethodSettings[], backend: string): boolean {
    return (
      ACTIVATIONS.includes(config.activation) &&
      HEADS.includes(config.head) &&
      tf.getKernel(RNN_ENSEMBLE_PACKED_STEP, backend) !== undefined &&
      persistentAllowed() &&
      persistentFits(config.hiddenSize, deviceLimits(tf.findBackend(backend)))
    );
  },

  pack(params, _config, runs) {
    const flat = PARAMS.map((k) => tf.reshape(params[k], [runs, -1]));
    return tf.concat([tf.reshape(tf.concat(flat, 1), [-1]), tf.zeros([ENSEMBLE_STATS.length * runs])]);
  },

  unpack(state, config, runs) {
    const { shapes, sizes, P } = runLayout(config);
    const perRun = tf.reshape(tf.slice(state, 0, runs * P), [runs, P]);
    const parts = tf.split(perRun, sizes, 1);
    return Object.fromEntries(
      PARAMS.map((k, i) => [k, tf.reshape(parts[i], [runs, ...shapes[k]])]),
    ) as Record<ParamName, tf.Tensor>;
  },

  async readRun(state, config, _runs, r) {
    const { shapes, sizes, P } = runLayout(config);
    const slice = tf.slice(state, r * P, P);
    let values: Float32Array;
    try {
      values = Float32Array.from((await slice.data()) as Float32Array);
    } finally {
      slice.dispose();
    }
    let at = 0;
    return Object.fromEntries(
      PARAMS.map((k, i) => {
        const part = values.slice(at, at + sizes[i]);
        at += sizes[i];
        return [k, { shape: shapes[k], values: part }];
      }),
    ) as Record<ParamName, { shape: number[]; values: Float32Array }>;
  },

  trainStep(state, config, batch, members, alphas, shapes) {
    // checked before any tensor is made
    const perRun =
      shapes === undefined ? null : shapesTable(shapes, members.length, batch.inputs.shape[2] as number);
    const [next, record] = tf.engine().runKernel(
      RNN_ENSEMBLE_PACKED_STEP,
      {
        state,
        inputs: batch.inputs,
        targets: batch.targets,
        mask: batch.mask ?? tf.tensor1d([]),
        runs: runTable(members, alphas),
        shapes: perRun ?? tf.tensor1d([]),
      },
      {
        activation: config.activation,
        head: config.head,
        hiddenSize: config.hiddenSize,
        outputSize: config.outputSize,
      } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
    return { next, record };
  },
};

export const fusedStacked: StackedTraining = {
  /** Every activation, head and method, on the backends with the fused kernels. */
  supports(config: RnnConfig, _members: readonly PaperMethodSettings[], backend: string): boolean {
    return (
      ACTIVATIONS.includes(config.activation) &&
      HEADS.includes(config.head) &&
      tf.getKernel(RNN_ENSEMBLE_STEP, backend) !== undefined
    );
  },

  trainStep: kernelStep,

  packed: packedRuns,
};
