import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { optimizerOf } from './method.test-helper.js';
import { paperMethod } from './paper-method.js';
import { canReadSync, lcg } from './plain.test-helper.js';
import { createRnn } from './rnn.js';
import { trainStep } from './trainer.js';

/**
 * A temporal-order task as the authors generate it (paper.md section 5), length L = 10:
 * distractors 2 + randint(4) everywhere, v0 at p0 = ⌊0.1L⌋ + randint(⌊0.1L⌋), v1 at
 * p1 = ⌊0.5L⌋ + randint(⌊0.1L⌋), class v0 + 2·v1; one-hot over 6 symbols, 4 classes.
 */
function temporalOrder(
  rand: () => number,
  batch: number,
  L: number,
): { inputs: number[][][]; classes: number[] } {
  const randint = (n: number) => (n <= 0 ? 0 : Math.floor(rand() * n));
  const d = Math.floor(0.1 * L);
  const inputs: number[][][] = [];
  const classes: number[] = [];
  for (let b = 0; b < batch; b++) {
    const symbols = Array.from({ length: L }, () => 2 + randint(4));
    const v0 = randint(2);
    const v1 = randint(2);
    symbols[d + randint(d)] = v0;
    symbols[Math.floor(0.5 * L) + randint(d)] = v1;
    inputs.push(symbols.map((s) => Array.from({ length: 6 }, (_, k) => (k === s ? 1 : 0))));
    classes.push(v0 + 2 * v1);
  }
  return { inputs, classes };
}

const L = 10;
// 200 updates at learning rate 0.5 (the paper uses 0.01 and far longer runs); clipping at 1
// engages on some of them. Seeds 1, 3 and 7 all reached 100% within 120 updates here.
const STEPS = 200;

async function accuracy(
  model: ReturnType<typeof createRnn>,
  data: { inputs: number[][][]; classes: number[] },
) {
  const x = tf.tensor3d(data.inputs);
  const { outputs, states } = model.forward(x);
  const argMax = tf.argMax(outputs, 1);
  const predicted = (await argMax.array()) as number[];
  tf.dispose([x, outputs, states, argMax]);
  return predicted.filter((p, i) => p === data.classes[i]).length / data.classes.length;
}

describeBackends(
  'end to end: SGD-C learns temporal order (L = 10)',
  (backend) => {
    it.skipIf(backend.software || !canReadSync(backend))(
      'reaches ≥ 95% accuracy on 1000 fresh sequences [skipped on software adapters, and where tfjs cannot read back synchronously]',
      async () => {
        await expectNoLeak(async () => {
          const model = createRnn({
            inputSize: 6,
            hiddenSize: 20,
            outputSize: 4,
            init: 'basic-tanh',
            seed: 3,
          });
          const method = paperMethod('SGD-C', { learningRate: 0.5, maxNorm: 1 });
          const rand = lcg(17);
          const test = temporalOrder(lcg(99), 1000, L);
          const before = await accuracy(model, test);
          let clippedSteps = 0;
          const t0 = Date.now();
          for (let step = 0; step < STEPS; step++) {
            const data = temporalOrder(rand, 20, L);
            const batch = { inputs: tf.tensor3d(data.inputs), targets: tf.tensor1d(data.classes, 'int32') };
            const r = await trainStep(model, batch, optimizerOf(method), { ...method, step });
            if (r.clipped) clippedSteps++;
            tf.dispose([batch.inputs, batch.targets]);
          }
          const after = await accuracy(model, test);
          console.log(
            `[${backend.name}] ${STEPS} steps in ${Date.now() - t0} ms: accuracy ${before} -> ${after}, clipped ${clippedSteps}`,
          );
          expect(before).toBeLessThan(0.5);
          expect(after).toBeGreaterThanOrEqual(0.95);
          expect(clippedSteps).toBeGreaterThan(0);
          optimizerOf(method).dispose();
          model.dispose();
        });
      },
    );
  },
  { only: ['cpu', 'wasm', 'webgpu'] },
);
