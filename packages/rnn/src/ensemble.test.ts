import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  type CreateEnsembleOptions,
  createEnsemble,
  type Ensemble,
  type EnsembleMemberOptions,
  type EnsembleStepRecord,
  ensembleStep,
  ensembleStepTogether,
  runRecord,
} from './ensemble.js';
import type { Activation, Batch, Head } from './implementation.js';
import { INIT_NAMES } from './init.js';
import { optimizerOf } from './method.test-helper.js';
import type { Weights } from './model.js';
import type { StepRecord } from './model-update.js';
import { alphaSchedule } from './omega.js';
import { paperMethod } from './paper-method.js';
import { canReadSync, expectClose, lcg, randomSeq, type Seq } from './plain.test-helper.js';
import { createRnn } from './rnn.js';
import { trainStep } from './trainer.js';

const SIZES = { inputSize: 3, hiddenSize: 5, outputSize: 3 };
const B = 3;
const T = 4;

/** One run's data for one step, as plain arrays. */
interface PlainBatch {
  x: Seq;
  y: unknown;
  mask?: number[][];
}

function plainBatch(head: Head, seed: number, masked: boolean): PlainBatch {
  const rand = lcg(seed);
  const O = SIZES.outputSize;
  const x = randomSeq(rand, B, T, SIZES.inputSize);
  const cls = () => Math.floor(rand() * O);
  const rows = <V>(n: number, f: () => V) => Array.from({ length: n }, f);
  const y =
    head === 'last-softmax'
      ? rows(B, cls)
      : head === 'softmax'
        ? rows(B, () => rows(T, cls))
        : head === 'last-linear'
          ? rows(B, () => rows(O, () => rand() * 2 - 1))
          : rows(B, () => rows(T, () => rows(O, () => (rand() < 0.5 ? 1 : 0))));
  // Every row keeps its first step, so no row is all-zero; later steps are dropped at random.
  const mask = masked
    ? rows(B, () => rows(T, () => 0).map((_, t) => (t === 0 || rand() < 0.7 ? 1 : 0)))
    : undefined;
  return { x, y, mask };
}

const targetDtype = (head: Head) => (head === 'last-softmax' || head === 'softmax' ? 'int32' : 'float32');

/** One model's batch. */
function singleBatch(head: Head, d: PlainBatch): Batch {
  return {
    inputs: tf.tensor3d(d.x),
    targets: tf.tensor(d.y as number[], undefined, targetDtype(head)),
    ...(d.mask ? { mask: tf.tensor2d(d.mask) } : {}),
  };
}

/** The ensemble's batch: run r gets data[r] (a leading run axis on every tensor). */
function stackedBatch(head: Head, data: PlainBatch[]) {
  return {
    inputs: tf.tensor(data.map((d) => d.x)),
    targets: tf.tensor(data.map((d) => d.y) as number[], undefined, targetDtype(head)),
    ...(data[0].mask ? { mask: tf.tensor(data.map((d) => d.mask!)) } : {}),
  };
}

const disposeBatch = (b: { inputs: tf.Tensor; targets: tf.Tensor; mask?: tf.Tensor }) =>
  tf.dispose([b.inputs, b.targets, ...(b.mask ? [b.mask] : [])]);

/** R separate models, each created and trained as one would without the ensemble. */
function separateRuns(options: CreateEnsembleOptions) {
  return options.members.map((m) => ({
    model: createRnn({
      ...SIZES,
      activation: options.activation,
      head: options.head,
      init: m.init,
      seed: m.seed,
    }),
    method: paperMethod(m.method, m),
  }));
}

async function stepSeparately(
  runs: ReturnType<typeof separateRuns>,
  head: Head,
  data: PlainBatch[],
  step: number,
): Promise<StepRecord[]> {
  const out: StepRecord[] = [];
  for (const [r, { model, method }] of runs.entries()) {
    const batch = singleBatch(head, data[r]);
    out.push(await trainStep(model, batch, optimizerOf(method), { ...method, step }));
    disposeBatch(batch);
  }
  return out;
}

function disposeRuns(runs: ReturnType<typeof separateRuns>): void {
  for (const { model, method } of runs) {
    optimizerOf(method).dispose();
    model.dispose();
  }
}

const relClose = (a: number, b: number, tol: number) =>
  (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

function expectRecordsMatch(ens: EnsembleStepRecord, separate: StepRecord[], what: string): void {
  separate.forEach((s, r) => {
    const e = runRecord(ens, r);
    const where = `${what}, run ${r}`;
    expect([e.clipped, e.skipped, e.safeguarded, e.alpha], `${where}: flags`).toEqual([
      s.clipped,
      s.skipped,
      s.safeguarded,
      s.alpha,
    ]);
    expect(relClose(e.loss, s.loss, 1e-5), `${where}: loss ${e.loss} vs ${s.loss}`).toBe(true);
    expect(relClose(e.norm, s.norm, 1e-5), `${where}: norm ${e.norm} vs ${s.norm}`).toBe(true);
    if (s.omega === null) expect(e.omega, `${where}: omega`).toBeNull();
    else expect(relClose(e.omega!, s.omega, 1e-4), `${where}: Ω ${e.omega} vs ${s.omega}`).toBe(true);
  });
}

async function expectWeightsMatch(ensemble: Ensemble, runs: ReturnType<typeof separateRuns>, what: string) {
  for (const [r, { model }] of runs.entries()) {
    const got = await ensemble.member(r);
    const want = await model.getWeights();
    for (const k of Object.keys(want)) {
      expect(got[k].shape, `${what} ${k} shape`).toEqual(want[k].shape);
      expectClose(got[k].values, want[k].values, 1e-5, `${what}, run ${r}, ${k}`);
    }
  }
}

/** SGD, SGD-C always clipped, SGD-C never clipped, SGD-C near its threshold: different inits and seeds. */
const WITHOUT_OMEGA: EnsembleMemberOptions[] = [
  { method: 'SGD', init: 'basic-tanh', seed: 11, learningRate: 0.3 },
  { method: 'SGD-C', init: 'smart-tanh', seed: 12, learningRate: 0.5, maxNorm: 1e-3 },
  { method: 'SGD-C', init: 'glorot', seed: 13, learningRate: 0.2, maxNorm: 1e3 },
  { method: 'SGD-C', init: 'orthogonal', seed: 14, learningRate: 0.4, maxNorm: 0.5 },
];

/** SGD-CR in both Ω variants (one clipped, one not) beside runs without Ω. */
const WITH_OMEGA: EnsembleMemberOptions[] = [
  { method: 'SGD-CR', init: 'basic-tanh', seed: 21, learningRate: 0.3, maxNorm: 1e-3, alpha: 2 },
  {
    method: 'SGD-CR',
    init: 'smart-tanh',
    seed: 22,
    learningRate: 0.1,
    maxNorm: 1e3,
    alpha: 0.5,
    omegaVariant: 'code',
  },
  { method: 'SGD', init: 'glorot', seed: 23, learningRate: 0.2 },
  { method: 'SGD-C', init: 'orthogonal', seed: 24, learningRate: 0.3, maxNorm: 1e-3 },
];

/** Every run with Ω: both variants, different α, one clipped. */
const ALL_OMEGA: EnsembleMemberOptions[] = [
  { method: 'SGD-CR', init: 'smart-tanh', seed: 41, learningRate: 0.2, maxNorm: 1e-3, alpha: 4 },
  { method: 'SGD-CR', init: 'basic-tanh', seed: 42, learningRate: 0.1, maxNorm: 1e3, omegaVariant: 'code' },
  { method: 'SGD-CR', init: 'glorot', seed: 43, learningRate: 0.3, maxNorm: 1e3, alpha: 0 },
];

const CASES: { head: Head; activation: Activation; masked: boolean }[] = [
  { head: 'last-softmax', activation: 'tanh', masked: false },
  { head: 'softmax', activation: 'tanh', masked: true },
  { head: 'last-linear', activation: 'sigmoid', masked: false },
  { head: 'sigmoid', activation: 'tanh', masked: true },
];

// The separate runs' SGD-C/SGD-CR go through @cliffguard/clip's wrapper, which reads its norm back
// synchronously: impossible for tfjs webgpu in Node.
const SYNC_NOTE = ' [skipped on software adapters (slow), and where tfjs cannot read back synchronously]';

describe('createEnsemble options', () => {
  const base = { ...SIZES, members: [{ method: 'SGD' as const, learningRate: 0.1 }] };

  it('rejects bad options with errors naming the value', () => {
    expect(() => createEnsemble({ ...base, members: [] })).toThrow(/members must be a non-empty array/);
    expect(() =>
      createEnsemble({ ...base, members: [base.members[0], { method: 'SGD-X' as never, learningRate: 1 }] }),
    ).toThrow(/members\[1\]: unknown method "SGD-X"; expected SGD, SGD-C, SGD-CR/);
    expect(() => createEnsemble({ ...base, members: [{ method: 'SGD-C', learningRate: 0 }] })).toThrow(
      /members\[0\]: learningRate must be a positive finite number, got 0/,
    );
    expect(() =>
      createEnsemble({ ...base, members: [{ method: 'SGD-C', learningRate: 1, maxNorm: -2 }] }),
    ).toThrow(/members\[0\]: maxNorm must be a positive finite number, got -2/);
    expect(() =>
      createEnsemble({ ...base, members: [{ method: 'SGD-CR', learningRate: 1, alpha: Number.NaN }] }),
    ).toThrow(/members\[0\]: alpha must be a finite number ≥ 0 or a schedule, got NaN/);
    expect(() =>
      createEnsemble({ ...base, members: [{ method: 'SGD', learningRate: 1, seed: 1.5 }] }),
    ).toThrow(/seed must be an integer/);
    expect(() =>
      createEnsemble({ ...base, members: [{ method: 'SGD', learningRate: 1, activation: 'relu' as never }] }),
    ).toThrow(/activation must be 'tanh' or 'sigmoid', got "relu"/);
    expect(() => createEnsemble({ ...base, head: 'nope' as never })).toThrow(/unknown head "nope"/);
    expect(() => createEnsemble({ ...base, hiddenSize: 0 })).toThrow(
      /hiddenSize must be a positive integer, got 0/,
    );
  });
});

describeBackends('ensemble', (backend) => {
  it("stacks the members' weights: run r is bit-identical to createRnn with its init and seed", async () => {
    await expectNoLeak(async () => {
      const members = INIT_NAMES.map((init, r) => ({
        method: 'SGD' as const,
        learningRate: 0.1,
        init,
        seed: 100 + r,
        ...(init === 'smart-tanh' ? { smartTanh: { nonZeros: 3, radius: 0.9 } } : {}),
      }));
      const ensemble = createEnsemble({ ...SIZES, activation: 'tanh', members });
      expect(ensemble.size).toBe(members.length);
      expect(ensemble.variables.W_rec.shape).toEqual([members.length, 5, 5]);
      expect(ensemble.variables.b.shape).toEqual([members.length, 5]);
      expect(ensemble.members.map((m) => [m.init, m.seed, m.clips, m.safeguard])).toEqual(
        members.map((m) => [m.init, m.seed, false, false]),
      );
      for (const [r, m] of members.entries()) {
        const model = createRnn({
          ...SIZES,
          activation: 'tanh',
          init: m.init,
          seed: m.seed,
          smartTanh: m.smartTanh,
        });
        expect(await ensemble.member(r)).toEqual(await model.getWeights());
        model.dispose();
      }
      // Defaults as createRnn: smart-tanh, seed 52, tanh units.
      const plain = createEnsemble(base());
      const model = createRnn({ ...SIZES });
      expect([plain.config.activation, plain.members[0].init, plain.members[0].seed]).toEqual([
        'tanh',
        'smart-tanh',
        52,
      ]);
      expect(await plain.member(0)).toEqual(await model.getWeights());
      ensemble.dispose();
      plain.dispose();
      model.dispose();
    });
  });

  for (const c of CASES) {
    for (const [label, members] of [
      ['without Ω', WITHOUT_OMEGA],
      ['with Ω (paper and code variants)', WITH_OMEGA],
      ...(c.head === 'last-softmax' ? ([['every run SGD-CR', ALL_OMEGA]] as const) : []),
    ] as const) {
      it.skipIf(backend.software || !canReadSync(backend))(
        `${c.head} head, ${c.activation}, ${label}: 3 steps equal R separate createRnn + trainStep(paperMethod) runs${SYNC_NOTE}`,
        async () => {
          await expectNoLeak(async () => {
            const options: CreateEnsembleOptions = {
              ...SIZES,
              head: c.head,
              activation: c.activation,
              members,
            };
            const ensemble = createEnsemble(options);
            const runs = separateRuns(options);
            const flags: boolean[] = [];
            for (let step = 0; step < 3; step++) {
              const data = members.map((_, r) => plainBatch(c.head, 1000 * step + r, c.masked));
              const batch = stackedBatch(c.head, data);
              const rec = await ensembleStep(ensemble, batch);
              disposeBatch(batch);
              const separate = await stepSeparately(runs, c.head, data, step);
              expectRecordsMatch(rec, separate, `step ${step}`);
              members.forEach((m, r) => {
                if (m.method !== 'SGD') flags.push(rec.clipped[r]);
              });
            }
            // Both sides of Algorithm 1 were exercised.
            expect(flags).toContain(true);
            expect(flags).toContain(false);
            expect(ensemble.iterations).toBe(3);
            await expectWeightsMatch(ensemble, runs, `${c.head} ${label}`);
            ensemble.dispose();
            disposeRuns(runs);
          });
        },
      );
    }
  }

  it.skipIf(backend.software)(
    'SGD runs on any backend: one step equals separate trainStep runs with tf.train.sgd [skipped on software adapters: slow]',
    async () => {
      await expectNoLeak(async () => {
        const members = [
          { method: 'SGD' as const, init: 'basic-tanh' as const, seed: 1, learningRate: 0.5 },
          { method: 'SGD' as const, init: 'smart-tanh' as const, seed: 2, learningRate: 0.1 },
        ];
        const options = { ...SIZES, members };
        const ensemble = createEnsemble(options);
        const runs = separateRuns(options);
        const data = members.map((_, r) => plainBatch('last-softmax', 7 + r, false));
        const batch = stackedBatch('last-softmax', data);
        const rec = await ensembleStep(ensemble, batch);
        disposeBatch(batch);
        expectRecordsMatch(rec, await stepSeparately(runs, 'last-softmax', data, 0), 'SGD');
        await expectWeightsMatch(ensemble, runs, 'SGD');
        ensemble.dispose();
        disposeRuns(runs);
      });
    },
  );

  it.skipIf(backend.software)(
    'the safeguard and the non-finite skip act per run; a NaN in one run reaches no other [skipped on software adapters: slow]',
    async () => {
      await expectNoLeak(async () => {
        const members: EnsembleMemberOptions[] = [
          { method: 'SGD-C', init: 'basic-tanh', seed: 31, learningRate: 0.5 }, // huge norm: safeguarded
          { method: 'SGD-C', init: 'basic-tanh', seed: 32, learningRate: 0.5 }, // ordinary step
          { method: 'SGD-C', init: 'basic-tanh', seed: 33, learningRate: 0.5, safeguard: false }, // NaN: skipped
          { method: 'SGD', init: 'basic-tanh', seed: 34, learningRate: 0.5, safeguard: true }, // NaN: safeguarded
        ];
        const options: CreateEnsembleOptions = { ...SIZES, head: 'last-linear', members };
        const ensemble = createEnsemble(options);
        const data = members.map((_, r) => plainBatch('last-linear', 40 + r, false));
        // Targets of 1e12 make ∂E/∂W_out ~ 1e12: the norm passes 1e10 while staying finite.
        data[0].y = (data[0].y as number[][]).map((row) => row.map(() => 1e12));
        for (const r of [2, 3]) data[r].x = data[r].x.map((s) => s.map((u) => u.map(() => Number.NaN)));
        const before = await Promise.all(members.map((_, r) => ensemble.member(r)));
        const batch = stackedBatch('last-linear', data);
        const rec = await ensembleStep(ensemble, batch);
        disposeBatch(batch);
        expect(rec.safeguarded).toEqual([true, false, false, true]);
        expect(rec.skipped).toEqual([false, false, true, false]);
        expect(rec.norm[0]).toBeGreaterThan(1e10);
        expect(Number.isNaN(rec.norm[2]) && Number.isNaN(rec.norm[3])).toBe(true);
        const after = await Promise.all(members.map((_, r) => ensemble.member(r)));
        for (const r of [0, 3]) {
          // The shrink step g_W_rec = 0.02·W_rec (its norm is far under the threshold 1), others 0.
          expectClose(
            after[r].W_rec.values,
            before[r].W_rec.values.map((w) => w - 0.5 * 0.02 * w),
            1e-6,
            `run ${r} W_rec`,
          );
          for (const k of ['W_in', 'b', 'W_out', 'b_out']) expect(after[r][k]).toEqual(before[r][k]);
        }
        expect(after[2]).toEqual(before[2]);
        expect(after[1].W_out).not.toEqual(before[1].W_out);
        for (const w of after)
          for (const k of Object.keys(w)) expect(w[k].values.every(Number.isFinite)).toBe(true);

        if (canReadSync(backend)) {
          // The same step taken by separate models.
          const runs = separateRuns(options);
          for (const [r, { model }] of runs.entries()) model.setWeights(before[r]);
          expectRecordsMatch(rec, await stepSeparately(runs, 'last-linear', data, 0), 'safeguard');
          await expectWeightsMatch(ensemble, runs, 'safeguard');
          disposeRuns(runs);
        }
        ensemble.dispose();
      });
    },
  );

  it.skipIf(backend.software)(
    'stepTogether: several ensembles in one computation equal each stepping alone [skipped on software adapters: slow]',
    async () => {
      await expectNoLeak(async () => {
        const head = 'softmax' as const;
        const parts = [WITH_OMEGA.slice(0, 1), WITH_OMEGA.slice(1, 4)];
        const together = parts.map((members) => createEnsemble({ ...SIZES, head, members }));
        const alone = parts.map((members) => createEnsemble({ ...SIZES, head, members }));
        for (let s = 0; s < 2; s++) {
          const data = parts.map((members, i) =>
            members.map((_, r) => plainBatch(head, 100 * i + 10 * s + r, true)),
          );
          const batches = data.map((d) => stackedBatch(head, d));
          // the second ensemble steps at its own update number (an α schedule would read it)
          const got = await ensembleStepTogether(together, batches, [{}, { step: 7 + s }]);
          const want = [await alone[0].step(batches[0]), await alone[1].step(batches[1], { step: 7 + s })];
          got.forEach((g, i) => {
            expectClose(g.loss, want[i].loss, 1e-6, `step ${s} ensemble ${i} loss`);
            expectClose(g.norm, want[i].norm, 1e-6, `step ${s} ensemble ${i} norm`);
            expect([g.clipped, g.skipped, g.safeguarded, g.alpha, g.omega.map((o) => o === null)]).toEqual([
              want[i].clipped,
              want[i].skipped,
              want[i].safeguarded,
              want[i].alpha,
              want[i].omega.map((o) => o === null),
            ]);
          });
          batches.forEach(disposeBatch);
        }
        expect(together.map((e) => e.iterations)).toEqual([2, 2]);
        for (const [i, e] of together.entries()) {
          for (let r = 0; r < e.size; r++) {
            const g = await e.member(r);
            const w = await alone[i].member(r);
            for (const k of Object.keys(w))
              expectClose(g[k].values, w[k].values, 1e-6, `ensemble ${i} run ${r} ${k}`);
          }
        }
        const other = createEnsemble({ ...SIZES, head: 'last-softmax', members: parts[0] });
        const b = stackedBatch(head, [plainBatch(head, 1, true)]);
        await expect(ensembleStepTogether([together[0], other], [b, b])).rejects.toThrow(
          /ensembles\[1\] differs from ensembles\[0\]/,
        );
        await expect(ensembleStepTogether(together, [b])).rejects.toThrow(
          /one batch per ensemble, got 2 ensembles and 1 batches/,
        );
        disposeBatch(b);
        for (const e of [...together, ...alone, other]) e.dispose();
      });
    },
  );

  it.skipIf(backend.software)(
    'a shared batch [B, T, I] is every run seeing the same data [skipped on software adapters: slow]',
    async () => {
      await expectNoLeak(async () => {
        const options = { ...SIZES, head: 'softmax' as const, members: WITH_OMEGA };
        const a = createEnsemble(options);
        const b = createEnsemble(options);
        const d = plainBatch('softmax', 5, true);
        const shared = singleBatch('softmax', d);
        const copies = stackedBatch(
          'softmax',
          WITH_OMEGA.map(() => d),
        );
        const ra = await ensembleStep(a, shared);
        const rb = await ensembleStep(b, copies);
        expect(ra).toEqual(rb);
        expect(new Set(ra.loss).size).toBe(WITH_OMEGA.length); // different runs, different losses
        for (let r = 0; r < a.size; r++) expect(await a.member(r)).toEqual(await b.member(r));
        disposeBatch(shared);
        disposeBatch(copies);
        a.dispose();
        b.dispose();
      });
    },
  );

  it.skipIf(backend.software)(
    'forward: every run at once equals each member model [skipped on software adapters: slow]',
    async () => {
      await expectNoLeak(async () => {
        for (const head of ['last-softmax', 'sigmoid'] as const) {
          const options = { ...SIZES, head, members: WITH_OMEGA };
          const ensemble = createEnsemble(options);
          const data = WITH_OMEGA.map((_, r) => plainBatch(head, 60 + r, false));
          const batch = stackedBatch(head, data);
          const { outputs, states } = ensemble.forward(batch.inputs);
          expect(outputs.shape).toEqual(head === 'sigmoid' ? [4, B, T, 3] : [4, B, 3]);
          expect(states.shape).toEqual([4, B, T, 5]);
          const outs = (await outputs.array()) as number[][];
          const sts = (await states.array()) as number[][];
          for (const [r, m] of WITH_OMEGA.entries()) {
            const model = createRnn({ ...SIZES, head, init: m.init, seed: m.seed });
            const x = tf.tensor3d(data[r].x);
            const single = model.forward(x);
            expectClose(
              (outs[r] as unknown as number[]).flat(3),
              (await single.outputs.data()) as Float32Array,
              1e-6,
              'outputs',
            );
            expectClose(
              (sts[r] as unknown as number[]).flat(3),
              (await single.states.data()) as Float32Array,
              1e-6,
              'states',
            );
            tf.dispose([x, single.outputs, single.states]);
            model.dispose();
          }
          // A shared batch gives every run the same inputs.
          const shared = tf.tensor3d(data[1].x);
          const fromShared = ensemble.forward(shared);
          const o1 = (await fromShared.outputs.array()) as number[][];
          expectClose(
            (o1[1] as unknown as number[]).flat(3),
            (outs[1] as unknown as number[]).flat(3),
            1e-7,
            'shared',
          );
          tf.dispose([outputs, states, shared, fromShared.outputs, fromShared.states]);
          disposeBatch(batch);
          ensemble.dispose();
        }
      });
    },
  );

  it.skipIf(backend.software)(
    'checkpoints: getState/setState resume exactly; member/setMember move one run [skipped on software adapters: slow]',
    async () => {
      await expectNoLeak(async () => {
        const members: EnsembleMemberOptions[] = [
          ...WITH_OMEGA.slice(0, 3),
          {
            method: 'SGD-CR',
            seed: 9,
            learningRate: 0.2,
            alpha: alphaSchedule({ kind: 'inverse-time', alpha0: 1, timescale: 1 }),
          },
        ];
        const options = { ...SIZES, members };
        const a = createEnsemble(options);
        const batches = [0, 1, 2].map((s) =>
          stackedBatch(
            'last-softmax',
            members.map((_, r) => plainBatch('last-softmax', 70 + 10 * s + r, false)),
          ),
        );
        await ensembleStep(a, batches[0]);
        await ensembleStep(a, batches[1]);
        const state = await a.getState();
        expect([state.runs, state.iterations, state.weights.W_rec.shape]).toEqual([4, 2, [4, 5, 5]]);
        const b = createEnsemble({
          ...options,
          members: members.map((m) => ({ ...m, seed: (m.seed ?? 0) + 1 })),
        });
        b.setState(state);
        expect(b.iterations).toBe(2);
        const ra = await ensembleStep(a, batches[2]);
        const rb = await ensembleStep(b, batches[2]);
        expect(rb).toEqual(ra);
        expect(ra.alpha[3]).toBe(1 / 3); // the schedule at update 2
        expect(await b.getState()).toEqual(await a.getState());

        // One run moved into a model and back.
        const model = createRnn({ ...SIZES, init: 'glorot', seed: 5 });
        const w = await model.getWeights();
        const others = await a.member(0);
        a.setMember(2, w);
        expect(await a.member(2)).toEqual(w);
        expect(await a.member(0)).toEqual(others);
        a.setMember(0, w);
        a.setMember(3, w);
        expect(await a.member(3)).toEqual(w);

        // Bad checkpoints change nothing.
        const snapshot = await a.getState();
        const nan: Weights = { ...w, b: { shape: [5], values: new Float32Array(5).fill(Number.NaN) } };
        expect(() => a.setMember(1, nan)).toThrow(/setMember: b\[0\] is NaN; weights must be finite/);
        expect(() =>
          a.setMember(1, { ...w, W_rec: { shape: [4, 4], values: new Float32Array(16) } }),
        ).toThrow(/setMember: W_rec has shape \[4,4\] with 16 values; expected \[5, 5\]/);
        expect(() => a.setState({ ...state, runs: 3 })).toThrow(/the state has 3 runs; this ensemble has 4/);
        expect(() => a.setState({ ...state, version: 2 as never })).toThrow(/expected a state of version 1/);
        expect(() => a.setState({ ...state, iterations: -1 })).toThrow(
          /iterations must be an integer ≥ 0, got -1/,
        );
        expect(() =>
          a.setState({
            ...state,
            weights: { ...state.weights, W_in: { shape: [3, 5], values: new Float32Array(15) } },
          }),
        ).toThrow(/setState: W_in has shape \[3,5\] with 15 values; expected \[4, 3, 5\]/);
        await expect(a.member(4)).rejects.toThrow(/member: run index must be an integer in \[0, 3\], got 4/);
        expect(await a.getState()).toEqual(snapshot);

        for (const batch of batches) disposeBatch(batch);
        model.dispose();
        a.dispose();
        b.dispose();
      });
    },
  );

  it('rejects bad batches with errors naming the shapes, and leaks nothing doing so', async () => {
    await expectNoLeak(async () => {
      const ensemble = createEnsemble({ ...SIZES, members: WITHOUT_OMEGA });
      const data = WITHOUT_OMEGA.map((_, r) => plainBatch('last-softmax', r, false));
      const good = stackedBatch('last-softmax', data);
      const fiveRuns = stackedBatch('last-softmax', [...data, data[0]]);
      await expect(ensembleStep(ensemble, fiveRuns)).rejects.toThrow(
        /inputs have shape \[5, 3, 4, 3\]; expected \[runs=4, batch, time, 3\]/,
      );
      const flat = tf.zeros([3, 4]);
      await expect(ensembleStep(ensemble, { inputs: flat, targets: good.targets } as never)).rejects.toThrow(
        /ensembleStep: inputs must be \[R=4, batch, time, 3\] \(one stream per run\) or \[batch, time, 3\] \(shared by every run\); got \[3, 4\]/,
      );
      const wide = tf.zeros([4, 3, 4, 2]);
      await expect(ensembleStep(ensemble, { inputs: wide, targets: good.targets })).rejects.toThrow(
        /inputs have shape \[4, 3, 4, 2\]; expected \[runs=4, batch, time, 3\]/,
      );
      const sharedTargets = tf.zeros([3], 'int32');
      await expect(ensembleStep(ensemble, { inputs: good.inputs, targets: sharedTargets })).rejects.toThrow(
        /targets have shape \[3\]; head 'last-softmax' expects \[4, 3\]/,
      );
      const mask = tf.ones([4, 3, 4]);
      await expect(ensembleStep(ensemble, { ...good, mask })).rejects.toThrow(
        /a mask applies to the per-step heads 'softmax' and 'sigmoid' only/,
      );
      await expect(ensembleStep({} as never, good)).rejects.toThrow(/needs an Ensemble from createEnsemble/);
      expect(ensemble.iterations).toBe(0);
      tf.dispose([flat, wide, sharedTargets, mask]);
      disposeBatch(good);
      disposeBatch(fiveRuns);
      ensemble.dispose();
      await expect(ensembleStep(ensemble, good)).rejects.toThrow(/this ensemble has been disposed/);
    });
  });

  it.skipIf(backend.software)(
    'leaks nothing over many steps (Ω, safeguard, clipping) [skipped on software adapters: slow]',
    async () => {
      await expectNoLeak(async () => {
        const ensemble = createEnsemble({ ...SIZES, members: [...WITH_OMEGA, ...WITHOUT_OMEGA] });
        const batch = stackedBatch(
          'last-softmax',
          ensemble.members.map((_, r) => plainBatch('last-softmax', r, false)),
        );
        await ensembleStep(ensemble, batch);
        const count = tf.memory().numTensors;
        for (let step = 1; step < 10; step++) {
          const rec = await ensembleStep(ensemble, batch);
          expect(rec.loss.every(Number.isFinite)).toBe(true);
        }
        expect(tf.memory().numTensors).toBe(count);
        disposeBatch(batch);
        ensemble.dispose();
      });
    },
  );
});

function base(): CreateEnsembleOptions {
  return { ...SIZES, members: [{ method: 'SGD', learningRate: 0.1 }] };
}

/** Run r's plain data cut to its first L steps (what the run reads of a padded batch). */
function cutTo(head: Head, d: PlainBatch, L: number): PlainBatch {
  const perStep = head === 'softmax' || head === 'sigmoid';
  return {
    x: d.x.map((seq) => seq.slice(0, L)),
    y: perStep ? (d.y as unknown[][]).map((seq) => seq.slice(0, L)) : d.y,
    ...(d.mask ? { mask: d.mask.map((row) => row.slice(0, L)) } : {}),
  };
}

/** Sigmoid and tanh runs (by their inits, no shared activation) of lengths 2 and 4 (T = 4). */
const MIXED: (EnsembleMemberOptions & { length: number })[] = [
  { method: 'SGD-C', init: 'basic-tanh', seed: 61, learningRate: 0.3, maxNorm: 0.05, length: 2 },
  { method: 'SGD-CR', init: 'sigmoid', seed: 62, learningRate: 0.5, maxNorm: 1e3, alpha: 2, length: 4 },
  { method: 'SGD', init: 'smart-tanh', seed: 63, learningRate: 0.2, length: 4 },
  {
    method: 'SGD-CR',
    init: 'sigmoid',
    seed: 64,
    learningRate: 0.4,
    maxNorm: 0.05,
    omegaVariant: 'code',
    length: 2,
  },
  {
    method: 'SGD-C',
    init: 'glorot',
    activation: 'sigmoid',
    seed: 65,
    learningRate: 0.3,
    maxNorm: 1e3,
    length: 2,
  },
];

describeBackends('ensemble of mixed runs', (backend) => {
  it("takes each run's units from its init unless given, and replaceMember draws a run of other units", async () => {
    await expectNoLeak(async () => {
      const ensemble = createEnsemble({ ...SIZES, members: MIXED });
      expect(ensemble.members.map((m) => m.activation)).toEqual([
        'tanh',
        'sigmoid',
        'tanh',
        'sigmoid',
        'sigmoid',
      ]);
      expect(ensemble.mixed).toBe(true);
      ensemble.replaceMember(1, { method: 'SGD', learningRate: 0.1, init: 'basic-tanh', seed: 5 });
      ensemble.replaceMember(3, { method: 'SGD', learningRate: 0.1, init: 'basic-tanh', seed: 6 });
      ensemble.replaceMember(4, { method: 'SGD', learningRate: 0.1, init: 'basic-tanh', seed: 7 });
      expect(ensemble.mixed).toBe(false);
      ensemble.replaceMember(0, { method: 'SGD', learningRate: 0.1, init: 'sigmoid', seed: 8 });
      expect(ensemble.members[0].activation).toBe('sigmoid');
      // an ensemble given one activation keeps it for every run, whatever the init
      const shared = createEnsemble({ ...SIZES, activation: 'tanh', members: MIXED.slice(0, 2) });
      shared.replaceMember(0, { method: 'SGD', learningRate: 0.1, init: 'sigmoid' });
      expect(shared.members.map((m) => m.activation)).toEqual(['tanh', 'tanh']);
      expect(shared.mixed).toBe(false);
      ensemble.dispose();
      shared.dispose();
    });
  });

  for (const c of [
    { head: 'last-softmax' as const, masked: false },
    { head: 'softmax' as const, masked: true },
  ]) {
    it.skipIf(backend.software || !canReadSync(backend))(
      `${c.head}: sigmoid and tanh runs of lengths 2 and 4 in one ensemble step as each run alone on its own steps${SYNC_NOTE}`,
      async () => {
        await expectNoLeak(async () => {
          const ensemble = createEnsemble({ ...SIZES, head: c.head, members: MIXED });
          const runs = MIXED.map((m) => ({
            model: createRnn({
              ...SIZES,
              head: c.head,
              activation: m.activation,
              init: m.init,
              seed: m.seed,
            }),
            method: paperMethod(m.method, m),
          }));
          const lengths = MIXED.map((m) => m.length);
          const flags: boolean[] = [];
          for (let step = 0; step < 3; step++) {
            // padded to T = 4: the short runs' last steps hold data they must not read
            const data = MIXED.map((_, r) => plainBatch(c.head, 500 * step + r, c.masked));
            const batch = { ...stackedBatch(c.head, data), lengths };
            const rec = await ensembleStep(ensemble, batch);
            disposeBatch(batch);
            const own = data.map((d, r) => cutTo(c.head, d, lengths[r]));
            const separate: StepRecord[] = [];
            for (const [r, { model, method }] of runs.entries()) {
              const one = singleBatch(c.head, own[r]);
              separate.push(await trainStep(model, one, optimizerOf(method), { ...method, step }));
              disposeBatch(one);
            }
            expectRecordsMatch(rec, separate, `step ${step}`);
            MIXED.forEach((m, r) => {
              if (m.method !== 'SGD') flags.push(rec.clipped[r]);
            });
          }
          expect(flags).toContain(true);
          expect(flags).toContain(false);
          await expectWeightsMatch(ensemble, runs, `${c.head} mixed`);
          // forward: each run with its own units (full T, no lengths)
          const inputs = tf.tensor(MIXED.map((_, r) => plainBatch(c.head, 9 + r, false).x));
          const { outputs, states } = ensemble.forward(inputs);
          for (const [r, { model }] of runs.entries()) {
            const x = tf.tidy(() => tf.squeeze(tf.slice(inputs, r, 1), [0])) as tf.Tensor3D;
            const alone = model.forward(x);
            x.dispose();
            const mine = tf.tidy(() => tf.squeeze(tf.slice(states, r, 1), [0]));
            expectClose(await mine.data(), await alone.states.data(), 1e-5, `forward states, run ${r}`);
            const out = tf.tidy(() => tf.squeeze(tf.slice(outputs, r, 1), [0]));
            expectClose(await out.data(), await alone.outputs.data(), 1e-5, `forward outputs, run ${r}`);
            tf.dispose([mine, out, alone.outputs, alone.states]);
          }
          tf.dispose([inputs, outputs, states]);
          ensemble.dispose();
          disposeRuns(runs);
        });
      },
    );
  }

  it('refuses bad lengths, naming the value, and changes nothing', async () => {
    await expectNoLeak(async () => {
      const ensemble = createEnsemble({ ...SIZES, members: MIXED });
      const before = await ensemble.member(0);
      const data = MIXED.map((_, r) => plainBatch('last-softmax', r, false));
      const batch = stackedBatch('last-softmax', data);
      await expect(ensembleStep(ensemble, { ...batch, lengths: [2, 4] })).rejects.toThrow(
        /batch.lengths must be one sequence length per run \(5\)/,
      );
      await expect(ensembleStep(ensemble, { ...batch, lengths: [2, 4, 5, 1, 1] })).rejects.toThrow(
        /batch.lengths\[2\] must be an integer in \[1, 4\] \(the batch's time steps\), got 5/,
      );
      await expect(ensembleStep(ensemble, { ...batch, lengths: [2, 4, 0.5, 1, 1] })).rejects.toThrow(
        /batch.lengths\[2\] must be an integer in \[1, 4\]/,
      );
      const other = createEnsemble({ ...SIZES, members: MIXED });
      await expect(ensembleStepTogether([ensemble, other], [batch, batch])).rejects.toThrow(
        /ensembles\[0\] has runs of different units or a batch with lengths; step it alone/,
      );
      expect(await ensemble.member(0)).toEqual(before);
      expect(ensemble.iterations).toBe(0);
      disposeBatch(batch);
      ensemble.dispose();
      other.dispose();
    });
  });
});
