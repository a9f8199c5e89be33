import { agc, autoClip, chain, nonFiniteGuard, safeguard, withGradientClipping } from '@cliffguard/clip';
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createEnsemble } from './ensemble.js';
import type { Batch } from './implementation.js';
import type { Weights } from './model.js';
import {
  compilePaperMethod,
  type PaperMethodName,
  paperMethod,
  type TrainingMethod,
} from './paper-method.js';
import { canReadSync, lcg, randomSeq } from './plain.test-helper.js';
import { createRnn } from './rnn.js';
import { createTrainer, type Trainer, trainStep } from './trainer.js';

const SIZES = { inputSize: 3, hiddenSize: 6, outputSize: 3 };
const B = 4;
const T = 5;
const STEPS = 20;

/** Step `step`'s batch for run r: fresh inputs and class targets from a seeded stream. */
function batchOf(r: number, step: number, scale = 1): Batch {
  const rand = lcg(1000 * r + step + 1);
  const x = randomSeq(rand, B, T, SIZES.inputSize).map((row) => row.map((v) => v.map((u) => u * scale)));
  const y = Array.from({ length: B }, () => Math.floor(rand() * SIZES.outputSize));
  return { inputs: tf.tensor3d(x), targets: tf.tensor1d(y, 'int32') };
}

/** The batches of R runs stacked along a leading run axis. */
function stackedOf(batches: Batch[]) {
  return tf.tidy(() => ({
    inputs: tf.stack(batches.map((b) => b.inputs)),
    targets: tf.stack(batches.map((b) => b.targets)),
  }));
}

const disposeBatch = (b: { inputs: tf.Tensor; targets: tf.Tensor }) => tf.dispose([b.inputs, b.targets]);

/** Steps 3 and 11 are broken (NaN: the safeguard's shrink step replaces them), every 4th large. */
const scaleAt = (step: number) => (step === 3 || step === 11 ? Number.NaN : step % 4 === 1 ? 40 : 1);

const flat = (w: Weights) =>
  Object.keys(w)
    .sort()
    .flatMap((k) => Array.from(w[k].values));

function expectClose(got: number[], want: number[], tol: number) {
  expect(got.length).toBe(want.length);
  let worst = 0;
  got.forEach((g, i) => {
    worst = Math.max(worst, Math.abs(g - want[i]) / (1 + Math.abs(want[i])));
  });
  expect(worst).toBeLessThan(tol);
}

/** Trains a trainer of R runs STEPS steps on per-run data; returns each run's weights. */
async function train(trainer: Trainer, runs: number): Promise<Weights[]> {
  for (let step = 0; step < STEPS; step++) {
    const per = Array.from({ length: runs }, (_, r) => batchOf(r, step, scaleAt(step)));
    const batch = runs === 1 && trainer.engine === 'model' ? per[0] : stackedOf(per);
    await trainer.step(batch);
    per.forEach(disposeBatch);
    if (batch !== per[0]) disposeBatch(batch);
  }
  const out: Weights[] = [];
  for (let r = 0; r < runs; r++) out.push(await trainer.getWeights(r));
  return out;
}

/** Run r's data through a model trainer of its own (the model engine); its weights, flat. */
async function trainAlone(method: TrainingMethod, seed: number, r: number): Promise<number[]> {
  const model = createRnn({ ...SIZES, seed });
  const single = createTrainer({ model, method });
  for (let step = 0; step < STEPS; step++) {
    const batch = batchOf(r, step, scaleAt(step));
    await single.step(batch);
    disposeBatch(batch);
  }
  const weights = flat(await model.getWeights());
  single.dispose();
  model.dispose();
  return weights;
}

const LR = 0.2;
const paper = (name: PaperMethodName) => paperMethod(name, { learningRate: LR, maxNorm: 1, alpha: 0.5 });
/** A chain no kernel knows: AutoClip (a percentile of past norms) in front of Adam. */
const autoClipAdam: TrainingMethod = {
  name: 'AutoClip + Adam',
  learningRate: 0.01,
  chain: chain(nonFiniteGuard(), autoClip({ percentile: 50 })),
  omega: null,
  optimizer: (lr) => tf.train.adam(lr),
};
const agcSgd: TrainingMethod = {
  name: 'AGC + SGD',
  learningRate: LR,
  chain: chain(safeguard(), agc({ clipping: 0.05 })),
  omega: null,
};

describeBackends('createTrainer', (backend) => {
  const sync = canReadSync(backend);

  it.skipIf(!sync || backend.software)(
    "is bit for bit today's step for the paper's chain: trainStep with withGradientClipping and the host safeguard",
    async () => {
      await expectNoLeak(async () => {
        for (const name of ['SGD-C', 'SGD-CR'] as const) {
          const m = paper(name);
          const a = createRnn({ ...SIZES, seed: 7 });
          const b = createRnn({ ...SIZES, seed: 7 });
          // today's composition: the clip wrapper (guard + clip), trainStep's own safeguard before it
          const wrapper = withGradientClipping(tf.train.sgd(LR), { maxNorm: 1 });
          const trainer = createTrainer({ model: b, method: m });
          let safeguarded = 0;
          for (let step = 0; step < STEPS; step++) {
            const batch = batchOf(0, step, scaleAt(step));
            const want = await trainStep(a, batch, wrapper, { omega: m.omega, safeguard: true, step });
            const got = await trainer.step(batch);
            expect([got.loss[0], got.norm[0], got.clipped[0], got.skipped[0], got.safeguarded[0]]).toEqual([
              want.loss,
              want.norm,
              want.clipped,
              want.skipped,
              want.safeguarded,
            ]);
            safeguarded += want.safeguarded ? 1 : 0;
            disposeBatch(batch);
          }
          expect(safeguarded).toBe(2);
          expect(flat(await b.getWeights())).toEqual(flat(await a.getWeights()));
          wrapper.dispose();
          trainer.dispose();
          a.dispose();
          b.dispose();
        }
      });
    },
  );

  it('on every backend (GPU ones in device mode, no readback in the chain) a model trainer with the paper chain equals the stacked update', async () => {
    await expectNoLeak(async () => {
      const method = paper('SGD-CR');
      const model = createRnn({ ...SIZES, seed: 41 });
      const single = createTrainer({ model, method });
      const stacked = createTrainer({ ...SIZES, members: [{ method, seed: 41 }], engine: 'compiled' });
      const steps = backend.software ? 4 : STEPS; // step 3 is the broken one
      let safeguarded = 0;
      for (let step = 0; step < steps; step++) {
        const batch = batchOf(0, step, scaleAt(step));
        const one = stackedOf([batch]);
        const got = await single.step(batch);
        const want = await stacked.step(one);
        expect([got.clipped, got.skipped, got.safeguarded]).toEqual([
          want.clipped,
          want.skipped,
          want.safeguarded,
        ]);
        safeguarded += got.safeguarded[0] ? 1 : 0;
        disposeBatch(batch);
        disposeBatch(one);
      }
      expect(safeguarded).toBeGreaterThan(0);
      expectClose(flat(await model.getWeights()), flat(await stacked.getWeights(0)), 1e-5);
      single.dispose();
      stacked.dispose();
      model.dispose();
    });
  });

  it.skipIf(!sync || backend.software)(
    "compiled, is bit for bit today's ensemble step (createEnsemble's members by name)",
    async () => {
      await expectNoLeak(async () => {
        const names = ['SGD', 'SGD-C', 'SGD-CR'] as const;
        const options = { learningRate: LR, maxNorm: 1, alpha: 0.5, safeguard: true };
        const today = createEnsemble({
          ...SIZES,
          members: names.map((method, r) => ({ method, ...options, seed: 30 + r })),
        });
        const trainer = createTrainer({
          ...SIZES,
          members: names.map((name, r) => ({ method: paperMethod(name, options), seed: 30 + r })),
        });
        expect(trainer.engine).toBe('compiled');
        for (let step = 0; step < STEPS; step++) {
          const per = [0, 1, 2].map((r) => batchOf(r, step, scaleAt(step)));
          const batch = stackedOf(per);
          expect(await trainer.step(batch)).toEqual(await today.step(batch));
          per.forEach(disposeBatch);
          disposeBatch(batch);
        }
        for (let r = 0; r < 3; r++) expect(await trainer.getWeights(r)).toEqual(await today.member(r));
        trainer.dispose();
        today.dispose();
      });
    },
  );

  it.skipIf(!sync || backend.software)(
    "steps the paper's chains compiled, op by op and per model to the same weights after 20 steps",
    async () => {
      await expectNoLeak(async () => {
        // SGD with the safeguard (its chain is the safeguard alone): the NaN steps leave it finite
        const sgd = paperMethod('SGD', { learningRate: LR, safeguard: true });
        const methods = [sgd, paper('SGD-C'), paper('SGD-CR')];
        const members = methods.map((method, r) => ({ method, seed: 11 + r }));
        const compiled = createTrainer({ ...SIZES, members, engine: 'compiled' });
        const opByOp = createTrainer({ ...SIZES, members, engine: 'op-by-op' });
        expect([compiled.engine, opByOp.engine]).toEqual(['compiled', 'op-by-op']);
        const c = await train(compiled, 3);
        const o = await train(opByOp, 3);
        for (let r = 0; r < 3; r++) {
          const want = await trainAlone(methods[r], 11 + r, r);
          // op by op IS the model engine on run r's slice: bit for bit
          expect(flat(o[r])).toEqual(want);
          // the stacked update computes the same arithmetic in another order
          expectClose(flat(c[r]), want, 1e-5);
        }
        compiled.dispose();
        opByOp.dispose();
      });
    },
  );

  it.skipIf(!sync || backend.software)(
    'runs any chain for ensembles op by op (AutoClip + Adam, AGC), each run as its own model would',
    async () => {
      await expectNoLeak(async () => {
        const methods = [autoClipAdam, agcSgd, paper('SGD-CR')];
        expect(methods.map((m) => compilePaperMethod(m) !== null)).toEqual([false, false, true]);
        const trainer = createTrainer({
          ...SIZES,
          members: methods.map((method, r) => ({ method, seed: 3 + r })),
        });
        expect(trainer.engine).toBe('op-by-op');
        const got = await train(trainer, 3);
        for (let r = 0; r < 3; r++) expect(flat(got[r])).toEqual(await trainAlone(methods[r], 3 + r, r));
        trainer.dispose();
      });
    },
  );

  it.skipIf(!sync || backend.software)(
    'checkpoints: getState then setState on a fresh trainer continues exactly (Adam slots and AutoClip history included)',
    async () => {
      await expectNoLeak(async () => {
        for (const engine of ['compiled', 'op-by-op'] as const) {
          const method = engine === 'compiled' ? paper('SGD-CR') : autoClipAdam;
          const make = () =>
            createTrainer({
              ...SIZES,
              members: [
                { method, seed: 1 },
                { method, seed: 2 },
              ],
              engine,
            });
          const a = make();
          const b = make();
          const stepBoth = async (trainers: Trainer[], step: number) => {
            const per = [batchOf(0, step), batchOf(1, step)];
            const batch = stackedOf(per);
            for (const t of trainers) await t.step(batch);
            per.forEach(disposeBatch);
            disposeBatch(batch);
          };
          for (let step = 0; step < 4; step++) await stepBoth([a], step);
          const state = await b.getState(); // b untouched: its fresh state, to show setState overwrites
          await b.setState(structuredClone(await a.getState()));
          expect(b.iterations).toBe(4);
          for (let step = 4; step < 8; step++) await stepBoth([a, b], step);
          for (let r = 0; r < 2; r++)
            expect(flat(await b.getWeights(r))).toEqual(flat(await a.getWeights(r)));
          expect(state.iterations).toBe(0);
          a.dispose();
          b.dispose();
        }
      });
    },
  );

  it('a model trainer checkpoints its optimizer too, and toModel gives the run as a model', async () => {
    if (!sync || backend.software) return;
    await expectNoLeak(async () => {
      const model = createRnn({ ...SIZES, seed: 9 });
      const trainer = createTrainer({ model, method: autoClipAdam });
      const batch = batchOf(0, 0);
      await trainer.step(batch);
      const state = await trainer.getState();
      expect(state.optimizers?.[0].inner.length).toBeGreaterThan(1); // Adam's iteration and slots
      expect(trainer.toModel(0)).toBe(model);
      const members = createTrainer({
        ...SIZES,
        members: [{ method: paper('SGD'), seed: 2, init: 'glorot' }],
      });
      await members.step(batch);
      const copy = members.toModel(0);
      expect(flat(await copy.getWeights())).toEqual(flat(await members.getWeights(0)));
      copy.dispose();
      members.dispose();
      // op by op, the runs' own views hold names too: toModel's copies never collide with them
      const opByOp = createTrainer({ ...SIZES, members: [{ method: autoClipAdam, seed: 4 }] });
      const [x, y] = [opByOp.toModel(0), opByOp.toModel(0)];
      expect(flat(await x.getWeights())).toEqual(flat(await y.getWeights()));
      x.dispose();
      y.dispose();
      opByOp.dispose();
      trainer.dispose();
      model.dispose();
      disposeBatch(batch);
    });
  });
});

describeBackends('createTrainer: slots refilled (replaceMember) and per-run update numbers', (backend) => {
  const sync = canReadSync(backend);
  it.skipIf(backend.software)(
    'a refilled slot is the new run from its first update, beside a run that goes on; bad requests change nothing',
    async () => {
      await expectNoLeak(async () => {
        for (const engine of ['compiled', 'op-by-op'] as const) {
          const trainer = createTrainer({
            ...SIZES,
            members: [
              { method: paper('SGD-C'), seed: 3 },
              { method: paper('SGD'), seed: 4 },
            ],
            engine,
          });
          const half = STEPS / 2;
          const stepBoth = async (from: number, to: number, stepOf: (s: number) => number[]) => {
            for (let s = from; s < to; s++) {
              // run 1's data restarts at the slot's refill (its own update count)
              const per = [batchOf(0, s, scaleAt(s)), batchOf(1, s - (s >= half ? half : 0), 1)];
              const batch = stackedOf(per);
              await trainer.step(batch, { step: stepOf(s) });
              per.forEach(disposeBatch);
              disposeBatch(batch);
            }
          };
          await stepBoth(0, half, (s) => [s, s]);
          const before = flat(await trainer.getWeights(1));
          // an impossible request changes nothing
          expect(() => trainer.replaceMember(1, { method: paper('SGD-CR'), seed: 1.5 })).toThrow(
            /seed must be an integer, got 1.5/,
          );
          expect(() => trainer.replaceMember(2, { seed: 1 })).toThrow(/run index/);
          if (engine === 'compiled') {
            expect(() => trainer.replaceMember(1, { method: agcSgd, seed: 1 })).toThrow(/paper's chain only/);
          }
          expect(flat(await trainer.getWeights(1))).toEqual(before);
          expect(trainer.methods[1].name).toBe('SGD');
          // the new run: SGD-CR from seed 8, drawn as createRnn draws it
          const fresh = createRnn({ ...SIZES, seed: 8 });
          trainer.replaceMember(1, { method: paper('SGD-CR'), seed: 8 });
          expect(trainer.methods[1].name).toBe('SGD-CR');
          expect(flat(await trainer.getWeights(1))).toEqual(flat(await fresh.getWeights()));
          fresh.dispose();
          await stepBoth(half, STEPS, (s) => [s, s - half]);
          // run 0 went on as if alone; run 1 is SGD-CR from seed 8 on its own data for half the steps
          const solo = async (method: TrainingMethod, seed: number, r: number, steps: number) => {
            const model = createRnn({ ...SIZES, seed });
            const one = createTrainer({ model, method });
            for (let s = 0; s < steps; s++) {
              const batch = r === 0 ? batchOf(0, s, scaleAt(s)) : batchOf(1, s, 1);
              await one.step(batch);
              disposeBatch(batch);
            }
            const w = flat(await model.getWeights());
            one.dispose();
            model.dispose();
            return w;
          };
          expectClose(flat(await trainer.getWeights(0)), await solo(paper('SGD-C'), 3, 0, STEPS), 1e-5);
          expectClose(flat(await trainer.getWeights(1)), await solo(paper('SGD-CR'), 8, 1, half), 1e-5);
          trainer.dispose();
        }
      });
    },
  );

  it.skipIf(!sync || backend.software)(
    'sigmoid and tanh runs of different lengths in one trainer: compiled equals op by op, slots refilled with other units and lengths',
    async () => {
      await expectNoLeak(async () => {
        const weights: number[][][] = [];
        for (const engine of ['compiled', 'op-by-op'] as const) {
          const trainer = createTrainer({
            ...SIZES,
            members: [
              { method: paper('SGD-C'), init: 'basic-tanh', seed: 3 },
              { method: paper('SGD-CR'), init: 'sigmoid', seed: 4 },
              { method: paper('SGD'), init: 'sigmoid', seed: 5 },
            ],
            engine,
          });
          const stepAll = async (from: number, to: number, lengths: number[]) => {
            for (let s = from; s < to; s++) {
              const per = [0, 1, 2].map((r) => batchOf(r, s, s % 4 === 1 ? 40 : 1));
              const batch = { ...stackedOf(per), lengths };
              await trainer.step(batch);
              per.forEach(disposeBatch);
              disposeBatch(batch);
            }
          };
          await stepAll(0, 6, [T, 3, 2]);
          // slot 0 takes a sigmoid run, slot 1 a tanh run, and the lengths change with them
          trainer.replaceMember(0, { method: paper('SGD-CR'), init: 'sigmoid', seed: 9 });
          trainer.replaceMember(1, { method: paper('SGD-C'), init: 'smart-tanh', seed: 10 });
          await stepAll(6, 12, [2, T, 4]);
          const model = trainer.toModel(1);
          expect(model.config.activation).toBe('tanh');
          model.dispose();
          weights.push(await Promise.all([0, 1, 2].map(async (r) => flat(await trainer.getWeights(r)))));
          trainer.dispose();
        }
        weights[0].forEach((w, r) => {
          expectClose(w, weights[1][r], 1e-5);
        });
      });
    },
  );

  it("an α schedule reads each run's own update number", async () => {
    await expectNoLeak(async () => {
      const method = paperMethod('SGD-CR', {
        learningRate: LR,
        maxNorm: 1,
        alpha: (s: number) => 1 / (1 + s),
      });
      const trainer = createTrainer({
        ...SIZES,
        members: [
          { method, seed: 1 },
          { method, seed: 2 },
        ],
      });
      const per = [batchOf(0, 0), batchOf(1, 0)];
      const batch = stackedOf(per);
      const record = await trainer.step(batch, { step: [0, 5] });
      expect(record.alpha).toEqual([1, 1 / 6]);
      await expect(trainer.step(batch, { step: [1] })).rejects.toThrow(/one number per run \(2\)/);
      per.forEach(disposeBatch);
      disposeBatch(batch);
      const model = createRnn({ ...SIZES });
      const one = createTrainer({ model, method });
      expect(() => one.replaceMember(0, {})).toThrow(/no slots/);
      one.dispose();
      model.dispose();
      trainer.dispose();
    });
  });
});

describe('createTrainer: bad input names what was expected', () => {
  it('refuses unclear or impossible requests before making anything', async () => {
    await expectNoLeak(async () => {
      const model = createRnn({ ...SIZES, seed: 1 });
      const method = paper('SGD-C');
      expect(() => createTrainer({ model, members: [{ method }], method })).toThrow(/exactly one of `model`/);
      expect(() => createTrainer({ model } as never)).toThrow(/method must be a TrainingMethod/);
      expect(() => createTrainer({ model, method: { ...method, learningRate: -1 } })).toThrow(
        /method.learningRate must be a positive finite number, got -1/,
      );
      expect(() => createTrainer({ ...SIZES, members: [] })).toThrow(/members must be a non-empty array/);
      expect(() =>
        createTrainer({ ...SIZES, members: [{ method: autoClipAdam }], engine: 'compiled' }),
      ).toThrow(
        /engine 'compiled' runs the paper's chain only; members\[0\]'s method 'AutoClip \+ Adam' is not it/,
      );
      expect(() => createTrainer({ ...SIZES, members: [{ method }], engine: 'fast' as never })).toThrow(
        /engine must be 'auto', 'compiled' or 'op-by-op', got "fast"/,
      );
      const t = createTrainer({ ...SIZES, members: [{ method }] });
      await expect(t.setState({ version: 2 } as never)).rejects.toThrow(/expected a state of version 1/);
      expect(() => t.toModel(1)).toThrow(/run index must be an integer in \[0, 0\], got 1/);
      t.dispose();
      model.dispose();
    });
  });

  it('recognises the paper chain whoever built it, and only that', () => {
    const byHand: TrainingMethod = {
      name: 'mine',
      learningRate: 0.1,
      chain: chain(safeguard(), nonFiniteGuard({ policy: 'skip' }), paper('SGD-C').chain.transforms![2]),
      omega: { alpha: 1, variant: 'code' },
    };
    expect(compilePaperMethod(byHand)).toMatchObject({
      name: 'SGD-CR',
      safeguard: true,
      clips: true,
      maxNorm: 1,
    });
    expect(compilePaperMethod({ ...byHand, optimizer: (lr) => tf.train.sgd(lr) })).toBeNull();
    expect(
      compilePaperMethod({ ...byHand, chain: chain(safeguard({ shrink: 0.1 })), omega: null }),
    ).toBeNull();
    expect(compilePaperMethod(paper('SGD'))).toMatchObject({ name: 'SGD', safeguard: false, clips: false });
    expect(compilePaperMethod(paper('SGD-C'))).toMatchObject({ name: 'SGD-C', safeguard: true, maxNorm: 1 });
  });
});
