/**
 * Batched ensembles (issue 7): R independent runs of one config trained as one computation by
 * @cliffguard/fused's RnnEnsemble, each run with its own global-norm clip (and Ω for SGD-CR).
 * Run 0 starts from the bench's shared weights and batch (so its losses must follow the single
 * fused run's); runs 1..R-1 from other seeds. A row's throughput is R updates per step.
 */
import { createRnn } from '@cliffguard/rnn';
import * as tf from '@tensorflow/tfjs-core';
import type { BenchConfig } from '../configs.js';
import { type BatchData, type InitialWeights, initialWeights, makeBatch } from '../data.js';
import { loadFused } from './cliffguard.js';
import type { Method, RunningStack, StackFactory } from './stack.js';

interface EnsembleLike {
  step(batches: { inputs: tf.Tensor3D; targets: tf.Tensor }[]): Promise<{ loss: number }[]>;
  dispose(): void;
}
type EnsembleClass = new (
  config: object,
  models: ReturnType<typeof createRnn>[],
  options: { learningRate: number; runs: { maxNorm?: number; alpha?: number }[] },
) => EnsembleLike;

/** RnnEnsemble and its kernel's name, looked up at run time: older fused builds lack them. */
async function ensembleApi(): Promise<{ RnnEnsemble?: EnsembleClass; RNN_ENSEMBLE_STEP?: string }> {
  if ((await loadFused()) !== null) return {};
  return (await import('@cliffguard/fused')) as unknown as {
    RnnEnsemble?: EnsembleClass;
    RNN_ENSEMBLE_STEP?: string;
  };
}

function tensors(data: BatchData) {
  return {
    inputs: tf.tensor3d(data.inputs, data.inputShape),
    targets:
      data.targets instanceof Int32Array
        ? tf.tensor(data.targets, data.targetShape, 'int32')
        : tf.tensor(data.targets, data.targetShape, 'float32'),
  };
}

/** The factory for an ensemble of `runs` runs with `method` (SGD, SGD-C or SGD-CR). */
export async function ensembleStack(runs: number, method: Method): Promise<StackFactory> {
  const fusedProblem = await loadFused();
  const api = await ensembleApi();
  return {
    impl: 'fused-ensemble',
    method,
    runs,
    unavailable(_config: BenchConfig, backend: string): string | null {
      if (fusedProblem !== null) return fusedProblem;
      if (!api.RnnEnsemble || !api.RNN_ENSEMBLE_STEP)
        return 'this build of @cliffguard/fused has no RnnEnsemble';
      if (!tf.getKernel(api.RNN_ENSEMBLE_STEP, backend))
        return `@cliffguard/fused has no ensemble kernel on ${backend}`;
      return null;
    },
    async create(config: BenchConfig, data: BatchData, w: InitialWeights): Promise<RunningStack> {
      const { inputSize: I, hiddenSize: H, outputSize: O } = config;
      const rnnConfig = {
        inputSize: I,
        hiddenSize: H,
        outputSize: O,
        activation: config.activation,
        head: config.head,
      };
      const models = Array.from({ length: runs }, (_, r) => {
        const m = createRnn({ ...rnnConfig, implementation: 'fused' });
        const weights = r === 0 ? w : initialWeights(config, 1000 + r);
        m.setWeights({
          W_in: { shape: [I, H], values: weights.W_in },
          W_rec: { shape: [H, H], values: weights.W_rec },
          b: { shape: [H], values: weights.b },
          W_out: { shape: [H, O], values: weights.W_out },
          b_out: { shape: [O], values: weights.b_out },
        });
        return m;
      });
      const run = {
        ...(method !== 'SGD' ? { maxNorm: config.clipNorm } : {}),
        ...(method === 'SGD-CR' ? { alpha: config.omegaWeight } : {}),
      };
      let ensemble: EnsembleLike;
      try {
        ensemble = new api.RnnEnsemble!(rnnConfig, models, {
          learningRate: config.learningRate,
          runs: models.map(() => run),
        });
      } finally {
        // the ensemble keeps stacked copies of the weights
        for (const m of models) m.dispose();
      }
      const batches = Array.from({ length: runs }, (_, r) =>
        tensors(r === 0 ? data : makeBatch(config, 1000 + r)),
      );
      return {
        async step() {
          const records = await ensemble.step(batches);
          return records[0].loss;
        },
        dispose() {
          ensemble.dispose();
          tf.dispose(batches.flatMap((b) => [b.inputs, b.targets]));
        },
      };
    },
  };
}
