import { withGradientClipping } from '@cliffguard/clip';
import { type Batch, createRnn, type RnnModel, trainStep } from '@cliffguard/rnn';
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { lcg, relativeError } from '../test/float64.js';
import { type EnsembleOptions, RnnEnsemble } from './index.js';

const PARAMS = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const;

interface Shape {
  I: number;
  H: number;
  O: number;
  T: number;
  B: number;
  head: 'last-softmax' | 'last-linear';
}

/** A deterministic batch for run r at step s: one-hot inputs, classes or values per head. */
function batchFor(c: Shape, r: number, s: number, targetScale = 1): Batch {
  const rand = lcg(1000 * r + s + 1);
  const u = new Float32Array(c.B * c.T * c.I);
  for (let i = 0; i < c.B * c.T; i++) u[i * c.I + Math.floor(rand() * c.I)] = 1;
  const targets =
    c.head === 'last-softmax'
      ? tf.tensor1d(
          Int32Array.from({ length: c.B }, () => Math.floor(rand() * c.O)),
          'int32',
        )
      : tf.tensor2d(
          Float32Array.from({ length: c.B * c.O }, () => (rand() * 2 - 1) * targetScale),
          [c.B, c.O],
        );
  return { inputs: tf.tensor3d(u, [c.B, c.T, c.I]), targets };
}

const disposeBatch = (b: Batch) => tf.dispose([b.inputs, b.targets]);

function models(c: Shape, seeds: number[]): RnnModel[] {
  return seeds.map((seed) =>
    createRnn({
      inputSize: c.I,
      hiddenSize: c.H,
      outputSize: c.O,
      head: c.head,
      activation: 'tanh',
      init: 'basic-tanh',
      seed,
      implementation: 'fused',
    }),
  );
}

/** R separate runs with trainStep and the clip wrapper, against the ensemble, step by step. */
async function compare(c: Shape, seeds: number[], options: EnsembleOptions, steps: number, targetScale = 1) {
  const separate = models(c, seeds);
  const stacked = models(c, seeds);
  const ensemble = new RnnEnsemble(stacked[0].config, stacked, options);
  const optimizers = options.runs.map((run) =>
    run.maxNorm === undefined
      ? tf.train.sgd(options.learningRate)
      : withGradientClipping(tf.train.sgd(options.learningRate), { maxNorm: run.maxNorm }),
  );
  const clippedSeen: boolean[] = [];
  for (let s = 0; s < steps; s++) {
    const batches = seeds.map((_, r) => batchFor(c, r, s, targetScale));
    const records = await ensemble.step(batches);
    for (const [r, run] of options.runs.entries()) {
      const alpha = run.alpha ?? 0;
      const want = await trainStep(separate[r], batches[r], optimizers[r], {
        omega: alpha > 0 ? { alpha, variant: options.omegaVariant ?? 'paper' } : null,
        safeguard: options.safeguard,
      });
      const got = records[r];
      expect(
        Math.abs(got.loss - want.loss) / Math.max(1, Math.abs(want.loss)),
        `run ${r} step ${s} loss`,
      ).toBeLessThan(2e-5);
      expect(
        Math.abs(got.norm - want.norm) / Math.max(1e-6, want.norm),
        `run ${r} step ${s} norm`,
      ).toBeLessThan(2e-5);
      if (want.omega === null) expect(got.omega).toBeNull();
      else
        expect(Math.abs((got.omega ?? Number.NaN) - want.omega) / Math.max(1, want.omega)).toBeLessThan(2e-5);
      expect(got.clipped, `run ${r} step ${s} clipped`).toBe(want.clipped);
      expect(got.safeguarded, `run ${r} step ${s} safeguarded`).toBe(want.safeguarded);
      clippedSeen[r] = (clippedSeen[r] ?? false) || got.clipped;
    }
    batches.forEach(disposeBatch);
  }
  for (let r = 0; r < seeds.length; r++) {
    const w = ensemble.weightsOf(r);
    for (const k of PARAMS) {
      const err = relativeError(await w[k].data(), await separate[r].variables[k].data());
      expect(err, `run ${r} ${k} after ${steps} steps`).toBeLessThan(1e-5);
    }
    tf.dispose(Object.values(w));
  }
  ensemble.dispose();
  optimizers.forEach((o) => {
    o.dispose();
  });
  [...separate, ...stacked].forEach((m) => {
    m.dispose();
  });
  return clippedSeen;
}

describeBackends(
  'RnnEnsemble: R runs in one kernel call equal R separate runs',
  () => {
    it('SGD, SGD-C and SGD-CR runs with their own seeds, clips and Ω weights, over 3 steps', async () => {
      await expectNoLeak(async () => {
        const clipped = await compare(
          { I: 6, H: 10, O: 4, T: 12, B: 5, head: 'last-softmax' },
          [1, 2, 3, 4],
          {
            learningRate: 0.5,
            omegaVariant: 'code',
            runs: [{}, { maxNorm: 0.05 }, { maxNorm: 0.05, alpha: 2 }, { maxNorm: 100, alpha: 0.5 }],
          },
          3,
        );
        // the clip bit where its threshold is low, and not where it is high
        expect(clipped).toEqual([false, true, true, false]);
      });
    });

    it("the authors' safeguard replaces a run's exploding step and leaves the others alone", async () => {
      await expectNoLeak(async () => {
        // targets of 1e12 make one run's gradient norm > 1e10; the stacked batches share a shape
        const c: Shape = { I: 3, H: 6, O: 2, T: 5, B: 4, head: 'last-linear' };
        const separate = models(c, [7, 8]);
        const stacked = models(c, [7, 8]);
        const ensemble = new RnnEnsemble(stacked[0].config, stacked, {
          learningRate: 0.01,
          safeguard: true,
          runs: [{ maxNorm: 1 }, { maxNorm: 1 }],
        });
        const batches = [batchFor(c, 0, 0), batchFor(c, 1, 0, 1e12)];
        const records = await ensemble.step(batches);
        expect(records.map((r) => r.safeguarded)).toEqual([false, true]);
        for (const r of [0, 1]) {
          const opt = withGradientClipping(tf.train.sgd(0.01), { maxNorm: 1 });
          const want = await trainStep(separate[r], batches[r], opt, { safeguard: true });
          expect(records[r].safeguarded).toBe(want.safeguarded);
          const w = ensemble.weightsOf(r);
          for (const k of PARAMS) {
            expect(
              relativeError(await w[k].data(), await separate[r].variables[k].data()),
              `run ${r} ${k}`,
            ).toBeLessThan(1e-5);
          }
          tf.dispose(Object.values(w));
          opt.dispose();
        }
        batches.forEach(disposeBatch);
        ensemble.dispose();
        [...separate, ...stacked].forEach((m) => {
          m.dispose();
        });
      });
    });

    it('names what is wrong with an ensemble', async () => {
      await expectNoLeak(async () => {
        const c: Shape = { I: 3, H: 4, O: 2, T: 3, B: 2, head: 'last-softmax' };
        const a = models(c, [1, 2]);
        const wide = models({ ...c, H: 5 }, [3]);
        expect(
          () => new RnnEnsemble(a[0].config, [a[0], wide[0]], { learningRate: 0.1, runs: [{}, {}] }),
        ).toThrow(/models\[1\] has a different configuration/);
        expect(() => new RnnEnsemble(a[0].config, a, { learningRate: 0.1, runs: [{}] })).toThrow(
          /one entry per model \(2\), got 1/,
        );
        expect(
          () => new RnnEnsemble(a[0].config, a, { learningRate: 0.1, runs: [{ maxNorm: 0 }, {}] }),
        ).toThrow(/runs\[0\]\.maxNorm must be a positive finite number, got 0/);
        const e = new RnnEnsemble(a[0].config, a, { learningRate: 0.1, runs: [{}, {}] });
        const one = batchFor(c, 0, 0);
        await expect(e.step([one])).rejects.toThrow(/one batch per run \(2\), got 1/);
        disposeBatch(one);
        e.dispose();
        [...a, ...wide].forEach((m) => {
          m.dispose();
        });
      });
    });
  },
  { only: ['cpu', 'wasm'] },
);
