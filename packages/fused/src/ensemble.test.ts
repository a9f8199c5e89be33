import {
  alphaSchedule,
  type Batch,
  createRnn,
  createTrainer,
  methodOptimizer,
  type PaperMethodName,
  type PaperMethodOptions,
  paperMethod,
  type StackedBatch,
  type TrainableImplementation,
  type Trainer,
  type TrainerStepRecord,
  trainStep,
  type Weights,
} from '@cliffguard/rnn';
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it, vi } from 'vitest';
import { lcg, relativeError } from '../test/float64.js';
import { fusedImplementation, fusedStacked } from './index.js';

const PARAMS = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const;

interface Shape {
  I: number;
  H: number;
  O: number;
  T: number;
  B: number;
  head: 'last-softmax' | 'last-linear' | 'sigmoid';
}

/** A deterministic batch for run r at step s: one-hot inputs; classes, values or bits per head. */
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
      : c.head === 'last-linear'
        ? tf.tensor2d(
            Float32Array.from({ length: c.B * c.O }, () => (rand() * 2 - 1) * targetScale),
            [c.B, c.O],
          )
        : tf.tensor3d(
            Float32Array.from({ length: c.B * c.T * c.O }, () => (rand() < 0.3 ? 1 : 0)),
            [c.B, c.T, c.O],
          );
  return { inputs: tf.tensor3d(u, [c.B, c.T, c.I]), targets };
}

/** Run r's batches stacked on a leading axis. */
function stack(batches: Batch[]): StackedBatch {
  return { inputs: tf.stack(batches.map((b) => b.inputs)), targets: tf.stack(batches.map((b) => b.targets)) };
}

/** Fresh batches for every run at step s, stacked (the per-run ones disposed). */
function stackedBatchFor(
  c: Shape,
  runs: number,
  s: number,
  targetScale?: (r: number) => number,
): StackedBatch {
  const batches = Array.from({ length: runs }, (_, r) => batchFor(c, r, s, targetScale?.(r)));
  const stacked = stack(batches);
  batches.forEach(disposeBatch);
  return stacked;
}

const disposeBatch = (b: Batch | StackedBatch) => tf.dispose([b.inputs, b.targets]);

/** A run of a sweep: the paper's method by name with its settings, its init and seed. */
interface SweepMember extends PaperMethodOptions {
  method: PaperMethodName;
  init?: 'basic-tanh' | 'smart-tanh';
  seed: number;
}

/** A trainer of these runs (compiled, unless the engine says otherwise). */
function ensembleOf(
  c: Shape,
  members: SweepMember[],
  implementation: string | TrainableImplementation,
  engine: 'auto' | 'compiled' | 'op-by-op' = 'compiled',
): Trainer {
  return createTrainer({
    inputSize: c.I,
    hiddenSize: c.H,
    outputSize: c.O,
    head: c.head,
    activation: 'tanh',
    members: members.map((m) => ({ method: paperMethod(m.method, m), init: m.init, seed: m.seed })),
    implementation,
    engine,
  });
}

/** Every run's weights, run after run. */
async function weightsOf(t: Trainer): Promise<Weights[]> {
  const out: Weights[] = [];
  for (let r = 0; r < t.size; r++) out.push(await t.getWeights(r));
  return out;
}

/** The largest relative error over every run's parameters. */
async function weightError(got: Trainer, want: Trainer): Promise<Record<string, number>> {
  const [a, b] = [await weightsOf(got), await weightsOf(want)];
  return Object.fromEntries(
    PARAMS.map((k) => [k, Math.max(...a.map((w, r) => relativeError(w[k].values, b[r][k].values)))]),
  );
}

function expectRecordsClose(got: TrainerStepRecord, want: TrainerStepRecord, where: string) {
  const close = (a: number, b: number, floor: number) => Math.abs(a - b) / Math.max(floor, Math.abs(b));
  got.loss.forEach((v, r) => {
    expect(close(v, want.loss[r], 1), `${where} run ${r} loss`).toBeLessThan(2e-5);
  });
  got.norm.forEach((v, r) => {
    expect(close(v, want.norm[r], 1e-6), `${where} run ${r} norm`).toBeLessThan(2e-5);
  });
  got.omega.forEach((v, r) => {
    const w = want.omega[r];
    if (w === null) expect(v, `${where} run ${r} omega`).toBeNull();
    else expect(close(v as number, w, 1), `${where} run ${r} omega`).toBeLessThan(2e-5);
  });
  expect([got.clipped, got.skipped, got.safeguarded, got.alpha], `${where} flags`).toEqual([
    want.clipped,
    want.skipped,
    want.safeguarded,
    want.alpha,
  ]);
}

/** The fused ensemble against the op-by-op reference ensemble, step by step, then every weight. */
async function againstReference(c: Shape, members: SweepMember[], steps: number, targetScale = 1) {
  const fused = ensembleOf(c, members, 'fused');
  const reference = ensembleOf(c, members, 'reference');
  const seen: TrainerStepRecord[] = [];
  for (let s = 0; s < steps; s++) {
    const batch = stackedBatchFor(c, members.length, s, () => targetScale);
    const got = await fused.step(batch);
    const want = await reference.step(batch);
    expectRecordsClose(got, want, `step ${s}`);
    seen.push(got);
    disposeBatch(batch);
  }
  for (const [k, err] of Object.entries(await weightError(fused, reference))) {
    expect(err, `${k} after ${steps} steps`).toBeLessThan(1e-5);
  }
  fused.dispose();
  reference.dispose();
  return seen;
}

const SWEEP: SweepMember[] = [
  { method: 'SGD', learningRate: 0.5, init: 'basic-tanh', seed: 1 },
  { method: 'SGD-C', learningRate: 0.5, maxNorm: 0.05, init: 'basic-tanh', seed: 2 },
  { method: 'SGD-CR', learningRate: 0.2, maxNorm: 0.05, alpha: 2, omegaVariant: 'code', seed: 3 },
  { method: 'SGD-CR', learningRate: 0.5, maxNorm: 100, alpha: 0.5, omegaVariant: 'paper', seed: 4 },
];

describeBackends('fused ensembles (createTrainer with members and implementation: fused)', (backend) => {
  it('SGD, SGD-C and SGD-CR runs (own seeds, rates, clips, α and Ω variants) equal the reference ensemble', async () => {
    await expectNoLeak(async () => {
      const c: Shape = { I: 4, H: 6, O: 3, T: 5, B: 3, head: 'last-softmax' };
      const seen = await againstReference(c, SWEEP, backend.software ? 1 : 3);
      // the clip bit where its threshold is low, not where it is high or absent
      expect(seen[0].clipped).toEqual([false, true, true, false]);
      expect(seen[0].omega.map((v) => v === null)).toEqual([true, true, false, false]);
    });
  });

  it('sigmoid and tanh runs of different lengths in one trainer equal the reference trainer (webgpu: one packed step)', async () => {
    await expectNoLeak(async () => {
      const c: Shape = { I: 4, H: 6, O: 3, T: 5, B: 3, head: 'last-softmax' };
      const units = ['tanh', 'sigmoid', 'sigmoid', 'tanh'] as const;
      const lengths = [5, 3, 5, 2];
      const of = (implementation: string) =>
        createTrainer({
          inputSize: c.I,
          hiddenSize: c.H,
          outputSize: c.O,
          head: c.head,
          members: SWEEP.map((m, r) => ({
            method: paperMethod(m.method, m),
            activation: units[r],
            init: m.init,
            seed: m.seed,
          })),
          implementation,
          engine: 'compiled',
        });
      const fused = of('fused');
      const reference = of('reference');
      // on webgpu every run steps in the packed step, told each run's units and length
      const packed = vi.spyOn(fusedStacked.packed as NonNullable<typeof fusedStacked.packed>, 'trainStep');
      for (let s = 0; s < (backend.software ? 2 : 3); s++) {
        const batch = { ...stackedBatchFor(c, SWEEP.length, s), lengths };
        expectRecordsClose(await fused.step(batch), await reference.step(batch), `step ${s}`);
        disposeBatch(batch);
      }
      if (backend.name === 'webgpu') {
        expect(packed).toHaveBeenCalled();
        expect(packed.mock.calls[0][5]).toEqual({ activations: [...units], lengths });
      } else expect(packed).not.toHaveBeenCalled();
      packed.mockRestore();
      for (const [k, err] of Object.entries(await weightError(fused, reference))) {
        expect(err, `${k}`).toBeLessThan(1e-5);
      }
      fused.dispose();
      reference.dispose();
    });
  });

  it('sequence heads, and the safeguard replacing one run exploding step', async () => {
    await expectNoLeak(async () => {
      await againstReference({ I: 3, H: 5, O: 4, T: 4, B: 2, head: 'sigmoid' }, SWEEP, 2);
      const guarded = SWEEP.slice(1, 3).map((m) => ({ ...m, safeguard: true }));
      // targets of 1e12 give run 1 a gradient norm above 1e10
      const c: Shape = { I: 3, H: 6, O: 2, T: 5, B: 4, head: 'last-linear' };
      const fused = ensembleOf(c, guarded, 'fused');
      const reference = ensembleOf(c, guarded, 'reference');
      const batch = stackedBatchFor(c, 2, 0, (r) => (r === 1 ? 1e12 : 1));
      const got = await fused.step(batch);
      expectRecordsClose(got, await reference.step(batch), 'safeguard');
      expect(got.safeguarded).toEqual([false, true]);
      for (const [k, err] of Object.entries(await weightError(fused, reference)))
        expect(err, k).toBeLessThan(1e-5);
      disposeBatch(batch);
      fused.dispose();
      reference.dispose();
    });
  });

  it.skipIf(backend.name === 'webgpu')(
    'each run equals its own fused trainStep with paperMethod, over 3 steps (α schedule included)',
    async () => {
      await expectNoLeak(async () => {
        const c: Shape = { I: 4, H: 6, O: 3, T: 5, B: 3, head: 'last-softmax' };
        const members: SweepMember[] = [
          ...SWEEP,
          {
            method: 'SGD-CR',
            learningRate: 0.3,
            alpha: alphaSchedule({ kind: 'inverse-time', alpha0: 2, timescale: 2 }),
            seed: 5,
          },
        ];
        const ensemble = ensembleOf(c, members, 'fused');
        // one-run ensembles: each run's own step, in the kernel, on its own
        const separate = members.map((m) => ({
          model: ensembleOf(c, [m], 'fused'),
          method: paperMethod(m.method, m),
        }));
        for (let s = 0; s < 3; s++) {
          const batches = members.map((_, r) => batchFor(c, r, s));
          const batch = stack(batches);
          const rec = await ensemble.step(batch);
          for (const [r, { model, method }] of separate.entries()) {
            const one = stack([batches[r]]);
            const want = await model.step(one);
            expectRecordsClose(
              {
                loss: [rec.loss[r]],
                norm: [rec.norm[r]],
                omega: [rec.omega[r]],
                alpha: [rec.alpha[r]],
                clipped: [rec.clipped[r]],
                skipped: [rec.skipped[r]],
                safeguarded: [rec.safeguarded[r]],
              },
              want,
              `step ${s} run ${r} (method ${method.name})`,
            );
            disposeBatch(one);
          }
          batches.forEach(disposeBatch);
          disposeBatch(batch);
        }
        for (const [r, { model }] of separate.entries()) {
          const got = await ensemble.getWeights(r);
          const want = await model.getWeights(0);
          for (const k of PARAMS)
            expect(relativeError(got[k].values, want[k].values), `run ${r} ${k}`).toBeLessThan(1e-5);
        }
        ensemble.dispose();
        for (const { model } of separate) model.dispose();
      });
    },
  );

  it.skipIf(backend.name === 'webgpu')(
    'a one-run fused ensemble trains exactly as trainStep with the clip wrapper (the one-kernel step)',
    async () => {
      await expectNoLeak(async () => {
        const c: Shape = { I: 4, H: 6, O: 3, T: 5, B: 3, head: 'last-softmax' };
        const member: SweepMember = {
          method: 'SGD-CR',
          learningRate: 0.4,
          maxNorm: 0.1,
          alpha: 2,
          omegaVariant: 'code',
          safeguard: true,
          init: 'basic-tanh',
          seed: 9,
        };
        const ensemble = ensembleOf(c, [member], 'fused');
        const model = createRnn({
          inputSize: c.I,
          hiddenSize: c.H,
          outputSize: c.O,
          head: c.head,
          activation: 'tanh',
          init: 'basic-tanh',
          seed: 9,
          implementation: 'fused',
        });
        const method = paperMethod('SGD-CR', member);
        const optimizer = methodOptimizer(method); // the chain: safeguard, non-finite skip, clip
        for (let s = 0; s < 3; s++) {
          const batch = batchFor(c, 0, s);
          const one = stack([batch]);
          const rec = await ensemble.step(one);
          const want = await trainStep(model, batch, optimizer, { omega: method.omega });
          expect(Math.abs(rec.loss[0] - want.loss)).toBeLessThan(2e-5);
          expect(Math.abs(rec.norm[0] - want.norm) / want.norm).toBeLessThan(2e-5);
          expect([rec.clipped[0], rec.safeguarded[0]]).toEqual([want.clipped, want.safeguarded]);
          disposeBatch(batch);
          disposeBatch(one);
        }
        const got = await ensemble.getWeights(0);
        for (const k of PARAMS) {
          const err = relativeError(got[k].values, await model.variables[k].data());
          expect(err, k).toBeLessThan(1e-5);
        }
        ensemble.dispose();
        model.dispose();
        optimizer.dispose();
      });
    },
  );

  it('runs of one trainer end bit for bit where one-run trainers stepping alone end (runs are independent)', async () => {
    await expectNoLeak(async () => {
      const c: Shape = { I: 4, H: 6, O: 3, T: 5, B: 3, head: 'last-softmax' };
      const together = ensembleOf(c, SWEEP, 'fused');
      const alone = SWEEP.map((m) => ensembleOf(c, [m], 'fused'));
      for (let s = 0; s < 3; s++) {
        const batches = SWEEP.map((_, r) => stackedBatchFor(c, 1, 10 * s + r));
        const joined = {
          inputs: tf.concat(batches.map((b) => b.inputs)),
          targets: tf.concat(batches.map((b) => b.targets)),
        };
        const got = await together.step(joined);
        for (const [r, e] of alone.entries()) {
          const want = await e.step(batches[r]);
          expect([got.loss[r], got.norm[r], got.clipped[r]]).toEqual([
            want.loss[0],
            want.norm[0],
            want.clipped[0],
          ]);
        }
        batches.forEach(disposeBatch);
        disposeBatch(joined);
      }
      for (const [r, e] of alone.entries())
        expect(await together.getWeights(r)).toEqual(await e.getWeights(0));
      for (const e of [together, ...alone]) e.dispose();
    });
  });

  it('an implementation without batched ensembles steps op by op; a compiled step it cannot take is refused by name', async () => {
    await expectNoLeak(async () => {
      const c: Shape = { I: 3, H: 4, O: 2, T: 3, B: 2, head: 'last-softmax' };
      const { stacked: _, ...plain } = fusedImplementation;
      const noStack = { ...plain, name: 'no-stack' } as TrainableImplementation;
      expect(() => ensembleOf(c, SWEEP.slice(0, 1), noStack, 'compiled')).toThrow(
        /implementation 'no-stack' cannot step these runs on backend '\w+' in one batched step/,
      );
      const never = {
        ...fusedImplementation,
        name: 'never',
        stacked: { ...fusedImplementation.stacked!, supports: () => false },
      };
      expect(() => ensembleOf(c, SWEEP.slice(0, 2), never, 'compiled')).toThrow(
        new RegExp(`'never' cannot step these runs on backend '${backend.name}'`),
      );
      const auto = ensembleOf(c, SWEEP.slice(0, 2), noStack, 'auto');
      expect(auto.engine).toBe('op-by-op');
      auto.dispose();
      const e = ensembleOf(c, SWEEP.slice(0, 2), 'fused');
      expect(e.engine).toBe('compiled');
      const one = batchFor(c, 0, 0);
      const lone = stack([one]);
      await expect(e.step(lone)).rejects.toThrow(/inputs have shape \[1, 2, 3, 3\]; expected \[runs=2, /);
      expect(e.iterations).toBe(0);
      disposeBatch(one);
      disposeBatch(lone);
      e.dispose();
    });
  });
});
