import { afterAll, describe, expect, it } from 'vitest';
import { describeEngine } from '../../../test/engineChecks.js';
import { randomProblem, reference64, relativeError } from '../../../test/float64.js';
import { WasmSequenceEngine } from './engine.js';
import {
  instantiateFusedWasm,
  instantiateSharedFusedWasm,
  runtimeAccepts,
  sharedMemoryAvailable,
} from './module.js';
import { WasmThreadPair } from './threads.js';

const simd = new WasmSequenceEngine(await instantiateFusedWasm('simd'));
describeEngine('wasm engine (SIMD build)', () => simd);

// Node 20 runs the relaxed build only with --experimental-wasm-relaxed-simd (see vitest.config.ts)
if (runtimeAccepts('relaxed-simd')) {
  const relaxed = new WasmSequenceEngine(await instantiateFusedWasm('relaxed-simd'));
  describeEngine('wasm engine (relaxed-SIMD build)', () => relaxed);
}

// Every phase split between this thread and a worker (threshold 0: even the small test problems).
if (sharedMemoryAvailable()) {
  const shared = await instantiateSharedFusedWasm('simd');
  const pair = await WasmThreadPair.start(shared);
  const two = new WasmSequenceEngine(shared, { threads: pair, threadThreshold: 0 });
  describeEngine('wasm engine on two threads (shared memory)', () => two);
  afterAll(async () => {
    await pair?.stop();
  });
}

// Ensembles: small runs go two at a time, one per thread, each in its own plan.
if (sharedMemoryAvailable()) {
  const shared = await instantiateSharedFusedWasm('simd');
  const pair = await WasmThreadPair.start(shared);
  const two = new WasmSequenceEngine(shared, { threads: pair, threadThreshold: Number.POSITIVE_INFINITY });
  describe('wasm engine: trainMany with runs in pairs on two threads', () => {
    it('gives each run the result of a pass on its own', () => {
      const problems = [1, 2, 3].map((seed) =>
        randomProblem({
          batch: 4,
          time: 7,
          inputSize: 5,
          hiddenSize: 9,
          outputSize: 3,
          activation: 'tanh',
          head: 'softmax',
          oneHot: true,
          omega: 'code',
          seed,
        }),
      );
      const got: number[][] = [];
      two.trainMany(
        problems.map((p, i) => ({ ...p, omegaWeight: i * 0.5 })),
        (r, i) => {
          got[i] = [r.loss, r.omega, ...r.grads.W_rec];
        },
        { views: true },
      );
      expect(got.length).toBe(3);
      problems.forEach((p, i) => {
        const want = reference64(p);
        const wantW = want.grads.W_rec.map((v, j) => v + i * 0.5 * want.omegaGrad[j]);
        expect(Math.abs(got[i][0] - want.loss)).toBeLessThan(2e-5);
        expect(Math.abs(got[i][1] - want.omega)).toBeLessThan(2e-5);
        expect(relativeError(got[i].slice(2), wantW), `run ${i}`).toBeLessThan(1e-4);
      });
    });
  });
  afterAll(async () => {
    await pair?.stop();
  });
}
