/**
 * Batched ensembles (issue 7): R independent runs of one config trained as one computation by
 * @cliffguard/rnn's createTrainer (members, the 'fused' implementation, the compiled engine) (one kernel call per step on
 * cpu and wasm; three dispatches for all runs on webgpu, or the multi-dispatch programs for the
 * 'multi-dispatch' path), each run with its own global-norm clip (and Ω for
 * SGD-CR). Run 0 starts from the bench's shared weights and batch (so its losses must follow the
 * single fused run's); runs 1..R-1 from other seeds. A row's throughput is R updates per step.
 */
import {
  compilePaperMethod,
  createTrainer,
  getImplementation,
  paperMethod,
  type Trainer,
} from '@cliffguard/rnn';
import * as tf from '@tensorflow/tfjs-core';
import type { BenchConfig } from '../configs.js';
import { type BatchData, type InitialWeights, initialWeights, makeBatch } from '../data.js';
import { loadFused } from './cliffguard.js';
import type { EnsemblePath, Method, RunningStack, StackFactory } from './stack.js';

function tensors(data: BatchData) {
  return {
    inputs: tf.tensor3d(data.inputs, data.inputShape),
    targets:
      data.targets instanceof Int32Array
        ? tf.tensor(data.targets, data.targetShape, 'int32')
        : tf.tensor(data.targets, data.targetShape, 'float32'),
  };
}

/** The multi-dispatch programs' recurrence for a config: one workgroup while it is small enough. */
const multiDispatchRecurrence = (config: BenchConfig) =>
  config.batchSize * config.hiddenSize <= 4096 ? 'one-workgroup' : 'per-step';

/** The factory for an ensemble of `runs` runs with `method` (SGD, SGD-C or SGD-CR). */
export async function ensembleStack(
  runs: number,
  method: Method,
  path: EnsemblePath = 'persistent',
): Promise<StackFactory> {
  const fusedProblem = await loadFused();
  const methodFor = (config: BenchConfig) =>
    paperMethod(method, {
      learningRate: config.learningRate,
      maxNorm: config.maxNorm,
      alpha: config.omegaWeight,
      omegaVariant: 'paper', // trainStep's default, as the single-run stacks use it
      safeguard: false,
    });
  return {
    impl: path === 'persistent' ? 'fused-ensemble' : 'fused-ensemble-multi',
    method,
    runs,
    unavailable(config: BenchConfig, backend: string): string | null {
      if (fusedProblem !== null) return fusedProblem;
      if (path === 'multi-dispatch' && backend !== 'webgpu')
        return 'the multi-dispatch programs are webgpu only';
      const stacked = getImplementation('fused').stacked;
      if (!stacked) return 'this build of @cliffguard/fused has no batched ensembles';
      const members = [compilePaperMethod(methodFor(config))!];
      if (!stacked.supports(config, members, backend))
        return `@cliffguard/fused has no ensembles on ${backend}`;
      return null;
    },
    async create(config: BenchConfig, data: BatchData, w: InitialWeights): Promise<RunningStack> {
      const { inputSize: I, hiddenSize: H, outputSize: O } = config;
      const ensemble: Trainer = createTrainer({
        inputSize: I,
        hiddenSize: H,
        outputSize: O,
        activation: config.activation,
        head: config.head,
        members: Array.from({ length: runs }, () => ({ method: methodFor(config) })),
        implementation: 'fused',
        engine: 'compiled',
      });
      for (let r = 0; r < runs; r++) {
        const weights = r === 0 ? w : initialWeights(config, 1000 + r);
        ensemble.setWeights(r, {
          W_in: { shape: [I, H], values: weights.W_in },
          W_rec: { shape: [H, H], values: weights.W_rec },
          b: { shape: [H], values: weights.b },
          W_out: { shape: [H, O], values: weights.W_out },
          b_out: { shape: [O], values: weights.b_out },
        });
      }
      const batch = tf.tidy(() => {
        const per = Array.from({ length: runs }, (_, r) =>
          tensors(r === 0 ? data : makeBatch(config, 1000 + r)),
        );
        return { inputs: tf.stack(per.map((b) => b.inputs)), targets: tf.stack(per.map((b) => b.targets)) };
      });
      const { setWebgpuRecurrence } = await import('@cliffguard/fused');
      return {
        async step() {
          if (path === 'persistent') return (await ensemble.step(batch)).loss[0];
          // the setting is read while the step's kernels are recorded, before the first await
          setWebgpuRecurrence(multiDispatchRecurrence(config));
          const pending = ensemble.step(batch);
          setWebgpuRecurrence('auto');
          return (await pending).loss[0];
        },
        dispose() {
          ensemble.dispose();
          tf.dispose([batch.inputs, batch.targets]);
        },
      };
    },
  };
}
