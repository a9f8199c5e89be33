// CliffguardRnnEnsembleStep on every backend against an independent float64 update: each run's
// gradients from the float64 reference pass (α·∂Ω/∂W_rec added to ∂W_rec), then the global norm,
// the clip wrapper's non-finite skip, Algorithm 1's clip and SGD, and the authors' safeguard whose
// unclipped shrink step replaces the clipped step, written plainly here. One ensemble holds every
// case: plain SGD, a clip, Ω 'code' and 'paper', the safeguard taking over an exploding run (with a
// loose and a tiny threshold: neither clips the shrink step), a run skipped for a non-finite norm
// and a NaN caught by the safeguard.
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { randomProblem, reference64, relativeError } from '../../test/float64.js';
import type { OmegaVariant, SequenceWeights, TrainingProblem } from '../problem.js';
import { ENSEMBLE_RUN_COLUMNS, ENSEMBLE_STATS, RNN_ENSEMBLE_STEP } from './names.js';
import { SAFEGUARD_NORM, SAFEGUARD_SHRINK } from './update.js';
import '../index.js';

const PARAMS = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const;
const [I, H, O, T, B] = [3, 5, 2, 4, 2];

interface Run {
  learningRate: number;
  /** clip threshold; absent: plain SGD */
  maxNorm?: number;
  safeguard?: boolean;
  omega?: OmegaVariant;
  alpha?: number;
  /** replaces the first target (1e12 makes the norm explode; ∞ or NaN make it non-finite) */
  target?: number;
  /** what the run must show (checked against the reference too) */
  expect: { clipped?: boolean; safeguarded?: boolean; skipped?: boolean };
}

const RUNS: Run[] = [
  { learningRate: 0.5, expect: {} },
  { learningRate: 0.5, maxNorm: 0.05, expect: { clipped: true } },
  { learningRate: 0.2, maxNorm: 100, omega: 'code', alpha: 0.5, expect: {} },
  { learningRate: 0.5, maxNorm: 0.05, omega: 'paper', alpha: 2, expect: { clipped: true } },
  { learningRate: 0.5, maxNorm: 1, safeguard: true, target: 1e12, expect: { safeguarded: true } },
  {
    learningRate: 0.5,
    maxNorm: 0.005,
    safeguard: true,
    target: 1e12,
    // the shrink step replaces the clipped step (the authors' order): a tiny threshold leaves it whole
    expect: { safeguarded: true },
  },
  { learningRate: 0.5, maxNorm: 1, target: Number.POSITIVE_INFINITY, expect: { skipped: true } },
  { learningRate: 0.5, maxNorm: 1, safeguard: true, target: Number.NaN, expect: { safeguarded: true } },
];

function problemOf(run: Run, r: number): TrainingProblem {
  const p = randomProblem({
    batch: B,
    time: T,
    inputSize: I,
    hiddenSize: H,
    outputSize: O,
    activation: 'tanh',
    head: 'last-linear',
    oneHot: true,
    omega: run.omega,
    seed: 11 + r,
  });
  if (run.target !== undefined) p.targets[0] = run.target;
  return p;
}

type Weights = Record<keyof SequenceWeights, Float64Array>;

/** One run's update in float64, from the formulas. */
function referenceUpdate(p: TrainingProblem, run: Run) {
  const ref = reference64(p);
  const g = Object.fromEntries(PARAMS.map((k) => [k, Float64Array.from(ref.grads[k])])) as Weights;
  if (run.omega)
    ref.omegaGrad.forEach((v, i) => {
      g.W_rec[i] += (run.alpha ?? 0) * v;
    });
  const normOf = (x: Weights) =>
    Math.sqrt(PARAMS.reduce((s, k) => s + x[k].reduce((a, v) => a + v * v, 0), 0));
  const norm = normOf(g);
  let step = g;
  const safeguarded = Boolean(run.safeguard) && (!Number.isFinite(norm) || norm > SAFEGUARD_NORM);
  if (safeguarded) {
    step = Object.fromEntries(PARAMS.map((k) => [k, new Float64Array(g[k].length)])) as Weights;
    p.weights.W_rec.forEach((w, i) => {
      step.W_rec[i] = SAFEGUARD_SHRINK * w;
    });
  }
  // the safeguard's shrink step is taken as it is: no clip, no skip
  const withClip = run.maxNorm !== undefined && !safeguarded;
  const skipped = withClip && !Number.isFinite(norm);
  const clipped = withClip && !skipped && norm > (run.maxNorm as number);
  const scale = clipped ? (run.maxNorm as number) / norm : 1;
  const next = Object.fromEntries(
    PARAMS.map((k) => [
      k,
      Float64Array.from(p.weights[k], (w, i) => (skipped ? w : w - run.learningRate * scale * step[k][i])),
    ]),
  ) as Weights;
  return {
    loss: ref.loss,
    omega: run.omega ? ref.omega : Number.NaN,
    norm,
    safeguarded,
    clipped,
    skipped,
    next,
  };
}

function runsTable(): tf.Tensor2D {
  const rows = RUNS.map((run) => {
    const row: Record<(typeof ENSEMBLE_RUN_COLUMNS)[number], number> = {
      alpha: run.alpha ?? 0,
      maxNorm: run.maxNorm ?? Number.POSITIVE_INFINITY,
      learningRate: run.learningRate,
      safeguard: run.safeguard ? 1 : 0,
      omega: run.omega === undefined ? 0 : run.omega === 'paper' ? 1 : 2,
    };
    return ENSEMBLE_RUN_COLUMNS.map((c) => row[c]);
  });
  return tf.tensor2d(rows, [RUNS.length, ENSEMBLE_RUN_COLUMNS.length]);
}

const stackOf = (arrays: ArrayLike<number>[], shape: number[]) => {
  const all = new Float32Array(arrays.length * arrays[0].length);
  arrays.forEach((a, r) => {
    all.set(a, r * a.length);
  });
  return tf.tensor(all, [arrays.length, ...shape]);
};

describeBackends('CliffguardRnnEnsembleStep (the whole update of R runs in one kernel call)', () => {
  it('equals a float64 norm, safeguard, skip, clip and SGD for every run of a mixed ensemble', async () => {
    await expectNoLeak(async () => {
      const R = RUNS.length;
      const problems = RUNS.map(problemOf);
      const shapes = { W_in: [I, H], W_rec: [H, H], b: [H], W_out: [H, O], b_out: [O] };
      const inputs = {
        ...Object.fromEntries(
          PARAMS.map((k) => [
            k,
            stackOf(
              problems.map((p) => p.weights[k]),
              shapes[k],
            ),
          ]),
        ),
        inputs: stackOf(
          problems.map((p) => p.inputs),
          [B, T, I],
        ),
        targets: stackOf(
          problems.map((p) => p.targets),
          [B, O],
        ),
        mask: tf.tensor1d([]),
        runs: runsTable(),
      };
      const outs = tf.engine().runKernel(
        RNN_ENSEMBLE_STEP,
        inputs as unknown as tf.NamedTensorMap,
        {
          activation: 'tanh',
          head: 'last-linear',
        } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      expect(outs.map((t) => t.shape)).toEqual([
        ...PARAMS.map((k) => [R, ...shapes[k]]),
        [ENSEMBLE_STATS.length, R],
      ]);
      const stats = await outs[PARAMS.length].data();
      const stat = (name: (typeof ENSEMBLE_STATS)[number], r: number) =>
        stats[ENSEMBLE_STATS.indexOf(name) * R + r];
      const next = await Promise.all(outs.slice(0, PARAMS.length).map((t) => t.data()));
      for (const [r, run] of RUNS.entries()) {
        const want = referenceUpdate(problems[r], run);
        const where = `run ${r}`;
        const flags = {
          clipped: stat('clipped', r) === 1,
          safeguarded: stat('safeguarded', r) === 1,
          skipped: stat('skipped', r) === 1,
        };
        expect(flags, `${where} flags`).toEqual({
          clipped: want.clipped,
          safeguarded: want.safeguarded,
          skipped: want.skipped,
        });
        // the case the run was built for (so the reference cannot drift away from it unnoticed)
        expect(flags, `${where} case`).toEqual({
          clipped: false,
          safeguarded: false,
          skipped: false,
          ...run.expect,
        });
        for (const [name, value] of [
          ['loss', want.loss],
          ['norm', want.norm],
          ['omega', want.omega],
        ] as const) {
          const got = stat(name, r);
          if (Number.isFinite(value)) {
            expect(Math.abs(got - value) / Math.max(1, Math.abs(value)), `${where} ${name}`).toBeLessThan(
              2e-5,
            );
          } else {
            expect(Number.isFinite(got), `${where} ${name} = ${got}, want ${value}`).toBe(false);
          }
        }
        for (const [i, k] of PARAMS.entries()) {
          const size = problems[r].weights[k].length;
          const mine = next[i].slice(r * size, (r + 1) * size);
          const before = problems[r].weights[k];
          expect(relativeError(mine, want.next[k]), `${where} ${k}`).toBeLessThan(1e-5);
          // the step itself, so a wrong scale or rate cannot hide behind the weights' size
          const moved = Array.from(mine, (w, j) => w - before[j]);
          const wanted = Array.from(want.next[k], (w, j) => w - before[j]);
          expect(relativeError(moved, wanted, 1e-4), `${where} step of ${k}`).toBeLessThan(2e-3);
          if (want.skipped) expect(Array.from(mine), `${where} ${k} kept`).toEqual(Array.from(before));
        }
      }
      tf.dispose([...outs, ...Object.values(inputs)]);
    });
  });
});
