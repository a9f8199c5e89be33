// One chain through every engine: the paper's chain compiled into the fused kernel (this
// backend's), compiled into the reference's stacked ops, op by op with the fused and the reference
// implementations, and per model; and a chain no kernel knows (AutoClip + Adam) through every path
// that can run it. After 20 steps every path holds the same weights (float32 tolerance).
import { autoClip, canReadSync, chain, nonFiniteGuard } from '@cliffguard/clip';
import {
  type Batch,
  createRnn,
  createTrainer,
  paperMethod,
  type Trainer,
  type TrainingMethod,
  type Weights,
} from '@cliffguard/rnn';
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { lcg, relativeError } from '../test/float64.js';
import './index.js'; // registers the 'fused' implementation

const SIZES = {
  inputSize: 4,
  hiddenSize: 8,
  outputSize: 3,
  activation: 'tanh' as const,
  head: 'last-softmax' as const,
};
const B = 3;
const T = 6;
const STEPS = 20;
const PARAMS = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const;

/** Run r's batch at step s: one-hot inputs, classes; every 5th step's inputs scaled up (clipped steps). */
function batchFor(r: number, s: number): Batch {
  const rand = lcg(7919 * r + s + 3);
  const u = new Float32Array(B * T * SIZES.inputSize);
  const scale = s % 5 === 2 ? 30 : 1;
  for (let i = 0; i < B * T; i++) u[i * SIZES.inputSize + Math.floor(rand() * SIZES.inputSize)] = scale;
  const y = Int32Array.from({ length: B }, () => Math.floor(rand() * SIZES.outputSize));
  return { inputs: tf.tensor3d(u, [B, T, SIZES.inputSize]), targets: tf.tensor1d(y, 'int32') };
}

const disposeBatch = (b: { inputs: tf.Tensor; targets: tf.Tensor }) => tf.dispose([b.inputs, b.targets]);

/** Trains R runs (a members trainer, or one model trainer per run) 20 steps; each run's weights. */
async function trainMembers(trainer: Trainer): Promise<Weights[]> {
  for (let s = 0; s < STEPS; s++) {
    const per = Array.from({ length: trainer.size }, (_, r) => batchFor(r, s));
    const batch = tf.tidy(() => ({
      inputs: tf.stack(per.map((b) => b.inputs)),
      targets: tf.stack(per.map((b) => b.targets)),
    }));
    await trainer.step(batch);
    per.forEach(disposeBatch);
    disposeBatch(batch);
  }
  const out: Weights[] = [];
  for (let r = 0; r < trainer.size; r++) out.push(await trainer.getWeights(r));
  return out;
}

async function trainModels(methods: TrainingMethod[], seeds: number[]): Promise<Weights[]> {
  const out: Weights[] = [];
  for (const [r, method] of methods.entries()) {
    const model = createRnn({ ...SIZES, init: 'basic-tanh', seed: seeds[r], implementation: 'fused' });
    const trainer = createTrainer({ model, method });
    for (let s = 0; s < STEPS; s++) {
      const b = batchFor(r, s);
      await trainer.step(b);
      disposeBatch(b);
    }
    out.push(await model.getWeights());
    trainer.dispose();
    model.dispose();
  }
  return out;
}

function expectSameWeights(got: Weights[], want: Weights[], where: string, tol: number) {
  got.forEach((w, r) => {
    for (const k of PARAMS) {
      expect(relativeError(w[k].values, want[r][k].values), `${where}: run ${r} ${k}`).toBeLessThan(tol);
    }
  });
}

const paperMethods = [
  paperMethod('SGD-C', { learningRate: 0.3, maxNorm: 0.5 }),
  paperMethod('SGD-CR', { learningRate: 0.3, maxNorm: 0.5, alpha: 2 }),
];
const autoClipAdam: TrainingMethod = {
  name: 'AutoClip + Adam',
  learningRate: 0.02,
  chain: chain(nonFiniteGuard(), autoClip({ percentile: 25 })),
  omega: null,
  optimizer: (lr) => tf.train.adam(lr),
};
const SEEDS = [21, 22];

function trainerOf(methods: TrainingMethod[], implementation: string, engine: 'compiled' | 'op-by-op') {
  return createTrainer({
    ...SIZES,
    members: methods.map((method, r) => ({ method, init: 'basic-tanh' as const, seed: SEEDS[r] })),
    implementation,
    engine,
  });
}

describeBackends('one chain, every engine', (backend) => {
  // op by op and per model read each step's norm back: not on webgpu outside a browser
  const sync = canReadSync(backend.name);

  it("the paper's chain: fused kernel, reference stacked ops, op by op (fused, reference) and per model agree after 20 steps", async () => {
    await expectNoLeak(async () => {
      const kernel = trainerOf(paperMethods, 'fused', 'compiled');
      const want = await trainMembers(kernel);
      kernel.dispose();
      const stackedOps = trainerOf(paperMethods, 'reference', 'compiled');
      expectSameWeights(await trainMembers(stackedOps), want, 'reference stacked', 1e-5);
      stackedOps.dispose();
      if (!sync) return;
      for (const implementation of ['fused', 'reference']) {
        const t = trainerOf(paperMethods, implementation, 'op-by-op');
        expectSameWeights(await trainMembers(t), want, `op by op (${implementation})`, 1e-5);
        t.dispose();
      }
      expectSameWeights(await trainModels(paperMethods, SEEDS), want, 'per model (fused)', 1e-5);
    });
  });

  it.skipIf(!sync || backend.software)(
    'a chain no kernel knows (AutoClip + Adam): op by op with fused and with the reference, and per model',
    async () => {
      await expectNoLeak(async () => {
        const methods = [autoClipAdam, autoClipAdam];
        const fused = trainerOf(methods, 'fused', 'op-by-op');
        const want = await trainMembers(fused);
        fused.dispose();
        const reference = trainerOf(methods, 'reference', 'op-by-op');
        expectSameWeights(await trainMembers(reference), want, 'op by op (reference)', 1e-5);
        reference.dispose();
        // op by op IS the per-model engine on each run's slice: bit for bit
        expectSameWeights(await trainModels(methods, SEEDS), want, 'per model (fused)', 1e-12);
        expect(() => trainerOf(methods, 'fused', 'compiled')).toThrow(/runs the paper's chain only/);
      });
    },
  );
});
