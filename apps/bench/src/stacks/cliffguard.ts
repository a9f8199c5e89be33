/**
 * cliffguard's training step: `createRnn` + a model trainer (`createTrainer({ model, method })`)
 * of @cliffguard/rnn with one of its implementations ('reference' op by op, 'fused' from
 * @cliffguard/fused), and the paper's methods (`paperMethod`): SGD (tf.train.sgd), SGD-C (the
 * same behind the clip chain: non-finite skip, global-norm clip), SGD-CR (SGD-C plus Ω, eq.
 * 9-10). The authors' safeguard is off in every method, so SGD-C / SGD measures the clip alone.
 */
import {
  type Batch,
  createRnn,
  createTrainer,
  getImplementation,
  listImplementations,
  paperMethod,
} from '@cliffguard/rnn';
import * as tf from '@tensorflow/tfjs-core';
import type { BenchConfig } from '../configs.js';
import type { BatchData, InitialWeights } from '../data.js';
import type { Method, RunningStack, StackFactory } from './stack.js';

/**
 * Imports @cliffguard/fused (which registers 'fused'); null when it imports, else why not.
 * Kept as a promise: the import compiles its WebAssembly module once.
 */
let fusedImport: Promise<string | null> | undefined;
export function loadFused(): Promise<string | null> {
  fusedImport ??= import('@cliffguard/fused').then(
    () => null,
    (err: Error) => `@cliffguard/fused did not import: ${err.message}`,
  );
  return fusedImport;
}

/** Which engine runs the fused kernels on `backend` (e.g. 'wasm-relaxed-simd'), for the flags. */
export async function fusedEngine(backend: string): Promise<string | undefined> {
  if ((await loadFused()) !== null) return undefined;
  const { kernelInfo } = await import('@cliffguard/fused');
  return kernelInfo().engines[backend];
}

function rnnConfig(config: BenchConfig) {
  return {
    inputSize: config.inputSize,
    hiddenSize: config.hiddenSize,
    outputSize: config.outputSize,
    activation: config.activation,
    head: config.head,
  };
}

function batchTensors(data: BatchData): Batch {
  const inputs = tf.tensor3d(data.inputs, data.inputShape);
  const targets =
    data.targets instanceof Int32Array
      ? tf.tensor(data.targets, data.targetShape, 'int32')
      : tf.tensor(data.targets, data.targetShape, 'float32');
  return { inputs, targets };
}

/** The paper's method as the bench runs it: no safeguard, Ω as eq. 9 prints it (sum over time). */
function methodFor(method: Method, config: BenchConfig) {
  return paperMethod(method, {
    learningRate: config.learningRate,
    maxNorm: config.maxNorm,
    alpha: config.omegaWeight,
    omegaVariant: 'paper',
    safeguard: false,
  });
}

/** The stack factory for implementation `impl` ('reference', 'fused', ...) and `method`. */
export function cliffguardStack(
  impl: string,
  method: Method,
  fusedProblem: string | null = null,
): StackFactory {
  return {
    impl,
    method,
    unavailable(config: BenchConfig, backend: string): string | null {
      if (impl === 'fused' && fusedProblem !== null) return fusedProblem;
      if (!listImplementations().includes(impl)) {
        return `no RNN implementation '${impl}' is registered (registered: ${listImplementations().join(', ')})`;
      }
      const supported = getImplementation(impl).supports(rnnConfig(config), backend);
      if (!supported) return `'${impl}' does not support ${config.name} on ${backend}`;
      // SGD-C / SGD-CR: on GPU backends the clip chain runs in device mode (no readback in a step)
      return null;
    },
    async create(config: BenchConfig, data: BatchData, w: InitialWeights): Promise<RunningStack> {
      const { inputSize: I, hiddenSize: H, outputSize: O } = config;
      const model = createRnn({ ...rnnConfig(config), implementation: impl });
      model.setWeights({
        W_in: { shape: [I, H], values: w.W_in },
        W_rec: { shape: [H, H], values: w.W_rec },
        b: { shape: [H], values: w.b },
        W_out: { shape: [H, O], values: w.W_out },
        b_out: { shape: [O], values: w.b_out },
      });
      const trainer = createTrainer({ model, method: methodFor(method, config) });
      const batch = batchTensors(data);
      return {
        async step() {
          const record = await trainer.step(batch);
          return record.loss[0];
        },
        dispose() {
          trainer.dispose();
          model.dispose();
          tf.dispose([batch.inputs, batch.targets]);
        },
      };
    },
  };
}
