// CliffguardRnnEnsemblePackedStep (webgpu): the persistent sequence program and the packed update
// give, step after step, the weights and records of CliffguardRnnEnsembleStep (the multi-dispatch
// programs, themselves tested against the cpu kernel), for every head, both activations, a mask,
// both Ω variants, the safeguard's shrink step, the clip, and a skipped step; in three dispatches
// per step whatever the number of runs. A mixed step (the `shapes` input: runs of different
// lengths and activations) gives, run for run, the homogeneous steps of its runs grouped by
// (length, activation) on the batch sliced to each group's length.

import {
  createTrainer,
  type PaperMethodSettings,
  paperMethod,
  type RunShapes,
  type Trainer,
} from '@cliffguard/rnn';
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { lcg, relativeError } from '../../test/float64.js';
import { fusedImplementation, fusedStacked, setWebgpuRecurrence } from '../index.js';
import { ENSEMBLE_RUN_COLUMNS, RNN_ENSEMBLE_PACKED_STEP, RNN_ENSEMBLE_STEP } from '../kernels/names.js';
import type { Activation, Head } from '../problem.js';
import { deviceLimits } from './packed.js';
import { packedLayout, sequenceWorkgroupBytes } from './programs/sequence.js';

const PARAMS = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const;
type Row = Record<(typeof ENSEMBLE_RUN_COLUMNS)[number], number>;
/** The runs' methods: SGD; SGD-C with the safeguard; SGD-CR 'code' and 'paper'; a clip without safeguard (skips). */
const METHODS: Row[] = [
  { alpha: 0, maxNorm: Number.POSITIVE_INFINITY, learningRate: 0.3, safeguard: 0, omega: 0 },
  { alpha: 0, maxNorm: 0.5, learningRate: 0.3, safeguard: 1, omega: 0 },
  { alpha: 0.5, maxNorm: 0.5, learningRate: 0.3, safeguard: 1, omega: 2 },
  { alpha: 2, maxNorm: 2, learningRate: 0.1, safeguard: 1, omega: 1 },
  { alpha: 0, maxNorm: 0.5, learningRate: 0.3, safeguard: 0, omega: 0 },
];

interface Problem {
  R: number;
  B: number;
  T: number;
  I: number;
  H: number;
  O: number;
  head: Head;
  activation: Activation;
}

/** Step s's batch: one-hot inputs scaled (NaN at a broken step), targets and a mask for the head. */
function batchOf(p: Problem, s: number, scale: number) {
  const { R, B, T, I, O, head } = p;
  const rand = lcg(31 * s + 7);
  const u = new Float32Array(R * B * T * I);
  for (let i = 0; i < R * B * T; i++) u[i * I + Math.floor(rand() * I)] = scale;
  const classes = (n: number) => Int32Array.from({ length: n }, () => Math.floor(rand() * O));
  const targets =
    head === 'last-softmax'
      ? tf.tensor2d(classes(R * B), [R, B], 'int32')
      : head === 'softmax'
        ? tf.tensor3d(classes(R * B * T), [R, B, T], 'int32')
        : head === 'last-linear'
          ? tf.tensor3d(
              Float32Array.from({ length: R * B * O }, () => rand() * 2 - 1),
              [R, B, O],
            )
          : tf.tensor4d(
              Float32Array.from({ length: R * B * T * O }, () => (rand() < 0.4 ? 1 : 0)),
              [R, B, T, O],
            );
  const perStep = head === 'softmax' || head === 'sigmoid';
  const mask = perStep
    ? tf.tensor3d(
        Float32Array.from({ length: R * B * T }, () => (rand() < 0.8 ? 1 : 0)),
        [R, B, T],
      )
    : tf.tensor1d([]);
  return { inputs: tf.tensor4d(u, [R, B, T, I]), targets, mask };
}

function initialParams(p: Problem): Record<(typeof PARAMS)[number], tf.Tensor> {
  const { R, I, H, O } = p;
  const rand = lcg(101 + H);
  const f = (shape: number[], scale: number) =>
    tf.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rand() * 2 - 1) * scale),
      shape,
    );
  return {
    W_in: f([R, I, H], 0.5),
    W_rec: f([R, H, H], 1.2 / Math.sqrt(H)),
    b: f([R, H], 0.1),
    W_out: f([R, H, O], 0.5),
    b_out: f([R, O], 0.1),
  };
}

/** The packed state of `params`: per run W_in | W_rec | b | W_out | b_out, then a record's room. */
const pack = (params: Record<string, tf.Tensor>, R: number) =>
  tf.tidy(() =>
    tf.concat([
      tf.reshape(
        tf.concat(
          PARAMS.map((k) => tf.reshape(params[k], [R, -1])),
          1,
        ),
        [-1],
      ),
      tf.zeros([6 * R]),
    ]),
  );

/** Steps `steps` times both ways; every step's record and the final weights agree. */
async function compare(p: Problem, steps: number, scaleAt: (s: number) => number) {
  const R = p.R;
  const table = tf.tensor2d(
    Array.from({ length: R }, (_, r) => ENSEMBLE_RUN_COLUMNS.map((c) => METHODS[r % METHODS.length][c])),
  );
  let params = initialParams(p);
  let state = pack(params, R);
  const seen = { clipped: 0, safeguarded: 0, skipped: 0 };
  for (let s = 0; s < steps; s++) {
    const batch = batchOf(p, s, scaleAt(s));
    const attrs = { activation: p.activation, head: p.head } as unknown as tf.NamedAttrMap;
    const want = tf
      .engine()
      .runKernel(
        RNN_ENSEMBLE_STEP,
        { ...params, ...batch, runs: table } as unknown as tf.NamedTensorMap,
        attrs,
      ) as tf.Tensor[];
    const [next, record] = tf
      .engine()
      .runKernel(
        RNN_ENSEMBLE_PACKED_STEP,
        { state, ...batch, runs: table } as unknown as tf.NamedTensorMap,
        { ...attrs, hiddenSize: p.H, outputSize: p.O } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
    const where = `${p.head}/${p.activation} H ${p.H} step ${s}`;
    const got = Array.from(await record.data());
    const expected = Array.from(await want[PARAMS.length].data());
    // rows: loss, norm, omega (NaN without Ω), safeguarded, clipped, skipped
    for (let row = 0; row < 6; row++) {
      for (let r = 0; r < R; r++) {
        const [g, w] = [got[row * R + r], expected[row * R + r]];
        if (Number.isNaN(w)) expect(g, `${where} row ${row} run ${r}`).toBeNaN();
        else if (row >= 3) expect(g, `${where} row ${row} run ${r}`).toBe(w);
        else expect(Math.abs(g - w) / (1 + Math.abs(w)), `${where} row ${row} run ${r}`).toBeLessThan(2e-5);
      }
    }
    seen.safeguarded += expected.slice(3 * R, 4 * R).filter((v) => v === 1).length;
    seen.clipped += expected.slice(4 * R, 5 * R).filter((v) => v === 1).length;
    seen.skipped += expected.slice(5 * R, 6 * R).filter((v) => v === 1).length;
    tf.dispose([...Object.values(params), state, record, ...Object.values(batch)]);
    params = Object.fromEntries(PARAMS.map((k, i) => [k, want[i]])) as typeof params;
    tf.dispose(want[PARAMS.length]);
    state = next;
  }
  // the final weights, unpacked run by run
  const L = packedLayout(p.I, p.H, p.O);
  const packed = await state.data();
  for (const [i, k] of PARAMS.entries()) {
    const w = await params[k].data();
    const size = w.length / R;
    const offset = [L.W_in, L.W_rec, L.b, L.W_out, L.b_out][i];
    const mine = new Float32Array(w.length);
    for (let r = 0; r < R; r++)
      mine.set(packed.subarray(r * L.P + offset, r * L.P + offset + size), r * size);
    // plain SGD takes a NaN step as it is: the same entries are NaN both ways
    const nan = (x: Float32Array, i: number) => Number.isNaN(x[i]);
    expect(
      mine.map((_, i) => +nan(mine, i)),
      `${p.head} ${k} NaNs`,
    ).toEqual(w.map((_, i) => +nan(w as Float32Array, i)));
    const finite = (x: ArrayLike<number>) => Array.from(x).filter((_, i) => !Number.isNaN(w[i]));
    expect(relativeError(finite(mine), finite(w)), `${p.head}/${p.activation} H ${p.H} ${k}`).toBeLessThan(
      1e-4,
    );
  }
  tf.dispose([...Object.values(params), state, table]);
  return seen;
}

/** A mixed ensemble (T = 9): per run its length, activation and method (METHODS' row). */
const MIXED: { length: number; activation: Activation; method: number }[] = [
  { length: 5, activation: 'tanh', method: 2 },
  { length: 9, activation: 'sigmoid', method: 3 },
  { length: 9, activation: 'tanh', method: 1 },
  { length: 5, activation: 'sigmoid', method: 4 },
  { length: 5, activation: 'tanh', method: 3 },
  { length: 9, activation: 'sigmoid', method: 2 },
];
const MIXED_SHAPES: RunShapes = {
  lengths: MIXED.map((m) => m.length),
  activations: MIXED.map((m) => m.activation),
};

/** The small mixed problem of the dispatch and refusal tests (softmax head, T = 9). */
const mixedProblem = (H: number): Problem => ({
  R: MIXED.length,
  B: 2,
  T: 9,
  I: 4,
  H,
  O: 3,
  head: 'softmax',
  activation: 'tanh',
});

/** METHODS' row as the rnn package's settings (runTable gives the row back). */
const settingsOf = (m: Row): PaperMethodSettings => ({
  name: m.omega !== 0 ? 'SGD-CR' : Number.isFinite(m.maxNorm) ? 'SGD-C' : 'SGD',
  learningRate: m.learningRate,
  maxNorm: m.maxNorm,
  alpha: m.alpha,
  omegaVariant: m.omega === 1 ? 'paper' : 'code',
  safeguard: m.safeguard === 1,
  clips: Number.isFinite(m.maxNorm),
  usesOmega: m.omega !== 0,
});

const perStepHead = (head: Head) => head === 'softmax' || head === 'sigmoid';

/** A batch as arrays: inputs [R,B,T,I], targets (per head), mask [R,B,T] (per-step heads). */
interface BatchArrays {
  inputs: Float32Array;
  targets: Float32Array | Int32Array;
  mask: Float32Array | null;
}

/** Step s's batch (batchOf's), where `garbage`, with every run's steps after its length spoiled. */
async function mixedArrays(p: Problem, s: number, scale: number, garbage: boolean): Promise<BatchArrays> {
  const batch = batchOf(p, s, scale);
  const perStep = perStepHead(p.head);
  const arrays: BatchArrays = {
    inputs: (await batch.inputs.data()) as Float32Array,
    targets: (await batch.targets.data()) as Float32Array | Int32Array,
    mask: perStep ? ((await batch.mask.data()) as Float32Array) : null,
  };
  tf.dispose(Object.values(batch));
  if (!garbage) return arrays;
  const { B, T, I, O } = p;
  for (const [r, { length }] of MIXED.entries()) {
    for (let b = 0; b < B; b++) {
      for (let t = length; t < T; t++) {
        const at = (r * B + b) * T + t;
        arrays.inputs.fill(Number.NaN, at * I, (at + 1) * I);
        if (arrays.mask) arrays.mask[at] = Number.NaN;
        // a class no head has, a NaN target
        if (p.head === 'softmax') arrays.targets[at] = 99;
        if (p.head === 'sigmoid') arrays.targets.fill(Number.NaN, at * O, (at + 1) * O);
      }
    }
  }
  return arrays;
}

/** Runs `runs` of a [R, B, T, rest] array, their first L steps (T = L = 1: no time axis). */
function takeRuns<A extends Float32Array | Int32Array>(
  x: A,
  [B, T, rest]: number[],
  runs: number[],
  L: number,
): A {
  const out = new (x.constructor as new (n: number) => A)(runs.length * B * L * rest);
  for (const [k, r] of runs.entries()) {
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < L; t++) {
        const from = ((r * B + b) * T + t) * rest;
        out.set(x.subarray(from, from + rest), ((k * B + b) * L + t) * rest);
      }
    }
  }
  return out;
}

/** The tensors of runs `runs` of a batch, sliced to their first L steps (all runs, T: as it is). */
function batchTensors(p: Problem, a: BatchArrays, runs: number[], L: number) {
  const { B, T, I, O, head } = p;
  const n = runs.length;
  const targets =
    head === 'last-softmax'
      ? tf.tensor2d(takeRuns(a.targets, [B, 1, 1], runs, 1), [n, B], 'int32')
      : head === 'softmax'
        ? tf.tensor3d(takeRuns(a.targets, [B, T, 1], runs, L), [n, B, L], 'int32')
        : head === 'last-linear'
          ? tf.tensor3d(takeRuns(a.targets, [B, 1, O], runs, 1), [n, B, O])
          : tf.tensor4d(takeRuns(a.targets, [B, T, O], runs, L), [n, B, L, O]);
  return {
    inputs: tf.tensor4d(takeRuns(a.inputs, [B, T, I], runs, L), [n, B, L, I]),
    targets,
    mask: a.mask ? tf.tensor3d(takeRuns(a.mask, [B, T, 1], runs, L), [n, B, L]) : tf.tensor1d([]),
  };
}

/** The runs' rows of the `runs` input. */
const tableOf = (runs: number[]) =>
  tf.tensor2d(runs.map((r) => ENSEMBLE_RUN_COLUMNS.map((c) => METHODS[MIXED[r].method][c])));

/** One mixed step through the rnn-facing wrapper (packedRuns.trainStep), as an ensemble calls it. */
function mixedStep(p: Problem, state: tf.Tensor, batch: ReturnType<typeof batchTensors>, shapes?: RunShapes) {
  const packed = fusedStacked.packed;
  if (!packed?.mixed) throw new Error('the packed runs take no shapes');
  const members = MIXED.map((m) => settingsOf(METHODS[m.method]));
  const config = {
    inputSize: p.I,
    hiddenSize: p.H,
    outputSize: p.O,
    activation: 'tanh' as const,
    head: p.head,
  };
  const { mask, ...rest } = batch;
  const stacked = perStepHead(p.head) ? batch : rest;
  return tf.tidy(() =>
    packed.trainStep(
      state,
      config,
      stacked,
      members,
      members.map((m) => m.alpha as number),
      shapes,
    ),
  );
}

/**
 * The mixed ensemble stepped `steps` times beside its runs grouped by (length, activation), each
 * group a homogeneous packed step on the batch sliced to its length; the padding is NaN (and an
 * out-of-range class), so a run that read it would show. Every step's record and the final
 * weights agree run for run.
 */
async function compareMixed(p: Problem, steps: number, scaleAt: (s: number) => number) {
  const R = MIXED.length;
  const params = initialParams(p);
  let state = pack(params, R);
  const keys = [...new Set(MIXED.map((m) => `${m.length}/${m.activation}`))];
  const groups = keys.map((key) => {
    const runs = MIXED.flatMap((m, r) => (`${m.length}/${m.activation}` === key ? [r] : []));
    const index = tf.tensor1d(runs, 'int32');
    const mine = Object.fromEntries(PARAMS.map((k) => [k, tf.gather(params[k], index)]));
    const group = { runs, ...MIXED[runs[0]], state: pack(mine, runs.length), table: tableOf(runs) };
    tf.dispose([index, ...Object.values(mine)]);
    return group;
  });
  tf.dispose(Object.values(params));
  const seen = { clipped: 0, safeguarded: 0, skipped: 0, omega: 0 };
  for (let s = 0; s < steps; s++) {
    const arrays = await mixedArrays(p, s, scaleAt(s), true);
    const batch = batchTensors(p, arrays, [...MIXED.keys()], p.T);
    const { next, record } = mixedStep(p, state, batch, MIXED_SHAPES);
    const got = Array.from(await record.data());
    for (const g of groups) {
      const sliced = batchTensors(p, arrays, g.runs, g.length);
      const [gNext, gRecord] = tf.engine().runKernel(
        RNN_ENSEMBLE_PACKED_STEP,
        { state: g.state, ...sliced, runs: g.table } as unknown as tf.NamedTensorMap,
        {
          activation: g.activation,
          head: p.head,
          hiddenSize: p.H,
          outputSize: p.O,
        } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      const want = Array.from(await gRecord.data());
      const n = g.runs.length;
      for (const [k, r] of g.runs.entries()) {
        const where = `${p.head} step ${s} run ${r} (${g.length} steps, ${g.activation})`;
        // rows: loss, norm, omega (NaN without Ω), safeguarded, clipped, skipped
        for (let row = 0; row < 6; row++) {
          const [x, w] = [got[row * R + r], want[row * n + k]];
          if (Number.isNaN(w)) expect(x, `${where} row ${row}`).toBeNaN();
          else if (row >= 3) expect(x, `${where} row ${row}`).toBe(w);
          else expect(Math.abs(x - w) / (1 + Math.abs(w)), `${where} row ${row}`).toBeLessThan(2e-5);
        }
        seen.safeguarded += want[3 * n + k];
        seen.clipped += want[4 * n + k];
        seen.skipped += want[5 * n + k];
        seen.omega += +Number.isFinite(want[2 * n + k]);
      }
      tf.dispose([g.state, gRecord, ...Object.values(sliced)]);
      g.state = gNext;
    }
    tf.dispose([state, record, ...Object.values(batch)]);
    state = next;
  }
  // the final weights, run by run
  const { P } = packedLayout(p.I, p.H, p.O);
  const mixed = await state.data();
  for (const g of groups) {
    const mine = await g.state.data();
    for (const [k, r] of g.runs.entries()) {
      const w = mine.subarray(k * P, (k + 1) * P);
      const x = mixed.subarray(r * P, (r + 1) * P);
      expect(w.every(Number.isFinite), `${p.head} run ${r} finite`).toBe(true);
      expect(relativeError(x, w), `${p.head} run ${r} weights`).toBeLessThan(1e-4);
    }
  }
  tf.dispose([state, ...groups.flatMap((g) => [g.state, g.table])]);
  return seen;
}

/** Counts the compute dispatches `work` records (the prototype every encoder inherits from). */
function countDispatches(work: () => void): number {
  const proto = (globalThis as { GPUComputePassEncoder?: { prototype: Record<string, unknown> } })
    .GPUComputePassEncoder?.prototype;
  if (!proto) throw new Error('no GPUComputePassEncoder in this realm');
  const original = proto.dispatchWorkgroups as (...args: unknown[]) => void;
  let n = 0;
  proto.dispatchWorkgroups = function (this: unknown, ...args: unknown[]) {
    n++;
    return original.apply(this, args);
  };
  try {
    work();
  } finally {
    proto.dispatchWorkgroups = original;
  }
  return n;
}

describeBackends('the packed ensemble step (CliffguardRnnEnsemblePackedStep)', (backend) => {
  const webgpu = backend.name === 'webgpu';
  // steps 2 and 5 are broken (NaN), step 1 large (clips)
  const scaleAt = (s: number) => (s === 2 || s === 5 ? Number.NaN : s === 1 ? 30 : 1);

  it.skipIf(!webgpu)(
    'equals the multi-dispatch step for every head and both activations [webgpu only]',
    async () => {
      await expectNoLeak(async () => {
        const total = { clipped: 0, safeguarded: 0, skipped: 0 };
        for (const head of ['last-softmax', 'softmax', 'last-linear', 'sigmoid'] as const) {
          for (const activation of ['tanh', 'sigmoid'] as const) {
            const seen = await compare({ R: 5, B: 3, T: 6, I: 4, H: 7, O: 3, head, activation }, 7, scaleAt);
            for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += seen[k];
          }
        }
        // the cases the comparison covered
        expect(total.safeguarded).toBeGreaterThan(0);
        expect(total.clipped).toBeGreaterThan(0);
        expect(total.skipped).toBeGreaterThan(0);
      });
    },
  );

  it.skipIf(!webgpu)(
    'keeps W_rec in workgroup memory or reads it from the state alike: Fig. 7 sizes (50 units) and 100 [webgpu only]',
    async () => {
      await expectNoLeak(async () => {
        const limit = deviceLimits(tf.backend()).maxComputeWorkgroupStorageSize;
        // 50 units: W_rec in workgroup memory; 100: read from the state (over 16 KiB, WebGPU's default)
        expect(sequenceWorkgroupBytes(50, true)).toBeLessThanOrEqual(limit);
        expect(sequenceWorkgroupBytes(100, true)).toBeGreaterThan(Math.min(limit, 32768));
        await compare(
          { R: 3, B: 4, T: 12, I: 6, H: 50, O: 4, head: 'last-softmax', activation: 'tanh' },
          3,
          scaleAt,
        );
        await compare(
          { R: 2, B: 2, T: 5, I: 6, H: 100, O: 4, head: 'softmax', activation: 'sigmoid' },
          3,
          scaleAt,
        );
      });
    },
  );

  it.skipIf(!webgpu)('is three dispatches a step whatever the number of runs [webgpu only]', async () => {
    await expectNoLeak(async () => {
      for (const R of [1, 7]) {
        const p: Problem = { R, B: 2, T: 5, I: 6, H: 50, O: 4, head: 'last-softmax', activation: 'tanh' };
        const params = initialParams(p);
        const state = pack(params, R);
        const batch = batchOf(p, 0, 1);
        const table = tf.tensor2d(
          Array.from({ length: R }, (_, r) => ENSEMBLE_RUN_COLUMNS.map((c) => METHODS[r % 4][c])),
        );
        let outs: tf.Tensor[] = [];
        const n = countDispatches(() => {
          outs = tf.engine().runKernel(
            RNN_ENSEMBLE_PACKED_STEP,
            { state, ...batch, runs: table } as unknown as tf.NamedTensorMap,
            {
              activation: 'tanh',
              head: 'last-softmax',
              hiddenSize: 50,
              outputSize: 4,
            } as unknown as tf.NamedAttrMap,
          ) as tf.Tensor[];
        });
        await outs[1].data();
        expect(n, `R = ${R}`).toBe(3);
        tf.dispose([...Object.values(params), state, ...Object.values(batch), table, ...outs]);
      }
    });
  });

  it.skipIf(!webgpu)('names a state of the wrong size [webgpu only]', async () => {
    const p: Problem = { R: 2, B: 2, T: 3, I: 4, H: 5, O: 3, head: 'last-softmax', activation: 'tanh' };
    const batch = batchOf(p, 0, 1);
    const table = tf.tensor2d([
      ENSEMBLE_RUN_COLUMNS.map((c) => METHODS[0][c]),
      ENSEMBLE_RUN_COLUMNS.map((c) => METHODS[1][c]),
    ]);
    const state = tf.zeros([10]);
    expect(() =>
      tf.engine().runKernel(
        RNN_ENSEMBLE_PACKED_STEP,
        { state, ...batch, runs: table } as unknown as tf.NamedTensorMap,
        {
          activation: 'tanh',
          head: 'last-softmax',
          hiddenSize: 5,
          outputSize: 3,
        } as unknown as tf.NamedAttrMap,
      ),
    ).toThrow(/state must be \[.*\] for 2 runs of 4→5→3, got \[10\]/);
    tf.dispose([state, table, ...Object.values(batch)]);
  });

  it.skipIf(!webgpu)(
    'a mixed step (lengths 5 and 9, tanh and sigmoid runs, T = 9) equals its runs grouped by (length, activation), each on its slice of the batch, for every head [webgpu only]',
    async () => {
      await expectNoLeak(async () => {
        const total = { clipped: 0, safeguarded: 0, skipped: 0, omega: 0 };
        for (const head of ['last-softmax', 'softmax', 'last-linear', 'sigmoid'] as const) {
          const p: Problem = { R: MIXED.length, B: 3, T: 9, I: 4, H: 7, O: 3, head, activation: 'tanh' };
          const seen = await compareMixed(p, 5, scaleAt);
          for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += seen[k];
        }
        // the cases the comparison covered
        expect(total.safeguarded).toBeGreaterThan(0);
        expect(total.clipped).toBeGreaterThan(0);
        expect(total.skipped).toBeGreaterThan(0);
        expect(total.omega).toBeGreaterThan(0);
      });
    },
  );

  it.skipIf(!webgpu)(
    'reads shapes: a short run or a sigmoid run differs from the same run stepped unmixed on the padded batch [webgpu only]',
    async () => {
      await expectNoLeak(async () => {
        for (const head of ['last-softmax', 'softmax'] as const) {
          const p: Problem = { R: MIXED.length, B: 3, T: 9, I: 4, H: 7, O: 3, head, activation: 'tanh' };
          const params = initialParams(p);
          const state = pack(params, p.R);
          // finite data in every step: unmixed, each run reads all 9 steps
          const batch = batchTensors(p, await mixedArrays(p, 0, 1, false), [...MIXED.keys()], p.T);
          const mixed = mixedStep(p, state, batch, MIXED_SHAPES);
          const plain = mixedStep(p, state, batch);
          const [a, b] = [await mixed.record.data(), await plain.record.data()];
          const [wa, wb] = [await mixed.next.data(), await plain.next.data()];
          const { P } = packedLayout(p.I, p.H, p.O);
          const R = p.R;
          for (const [r, m] of MIXED.entries()) {
            // the loss and the norm (rows 0 and 1)
            const gap = Math.max(...[r, R + r].map((i) => Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i]))));
            const weights = relativeError(wa.subarray(r * P, (r + 1) * P), wb.subarray(r * P, (r + 1) * P));
            const where = `${head} run ${r} (${m.length} steps, ${m.activation})`;
            if (m.length === p.T && m.activation === 'tanh') {
              expect(gap, `${where} loss and norm`).toBeLessThan(2e-5);
              expect(weights, `${where} weights`).toBeLessThan(1e-5);
            } else {
              expect(gap, `${where} loss and norm`).toBeGreaterThan(1e-3);
              expect(weights, `${where} weights`).toBeGreaterThan(1e-4);
            }
          }
          tf.dispose([...Object.values(params), state, ...Object.values(batch), mixed.next, mixed.record]);
          tf.dispose([plain.next, plain.record]);
        }
      });
    },
  );

  it.skipIf(!webgpu)('a mixed step is still three dispatches [webgpu only]', async () => {
    await expectNoLeak(async () => {
      const p = mixedProblem(7);
      const params = initialParams(p);
      const state = pack(params, p.R);
      const batch = batchTensors(p, await mixedArrays(p, 0, 1, true), [...MIXED.keys()], p.T);
      let outs: { next: tf.Tensor; record: tf.Tensor } | undefined;
      const n = countDispatches(() => {
        outs = mixedStep(p, state, batch, MIXED_SHAPES);
      });
      if (!outs) throw new Error('no step');
      // loss and norm of every run
      expect((await outs.record.data()).subarray(0, 2 * p.R).every(Number.isFinite)).toBe(true);
      expect(n).toBe(3);
      tf.dispose([...Object.values(params), state, ...Object.values(batch), outs.next, outs.record]);
    });
  });

  it.skipIf(!webgpu)(
    'refuses wrong shapes (tensor or arrays) naming the value and what was expected, and changes nothing [webgpu only]',
    async () => {
      await expectNoLeak(async () => {
        const p = mixedProblem(5);
        const params = initialParams(p);
        const state = pack(params, p.R);
        const before = Array.from(await state.data());
        const arrays = await mixedArrays(p, 0, 1, true);
        const batch = batchTensors(p, arrays, [...MIXED.keys()], p.T);
        const table = tableOf([...MIXED.keys()]);
        const good = MIXED.flatMap((m) => [m.length, m.activation === 'tanh' ? 0 : 1]);
        const withRow = (r: number, row: [number, number]) => {
          const rows = good.slice();
          rows.splice(2 * r, 2, ...row);
          return tf.tensor2d(rows, [p.R, 2]);
        };
        const kernelCases: [tf.Tensor, RegExp][] = [
          [tf.tensor2d([5, 0, 9, 1], [2, 2]), /shapes must be \[6, 2\] .*or empty, got \[2, 2\]/],
          [tf.tensor1d(good), /shapes must be \[6, 2\] .*got \[12\]/],
          [tf.tensor2d(good.concat(good), [6, 4]), /shapes must be \[6, 2\] .*got \[6, 4\]/],
          [withRow(1, [0, 0]), /run 1's length shapes\[1, 0\] = 0 is not an integer in \[1, 9\]/],
          [withRow(2, [10, 0]), /run 2's length shapes\[2, 0\] = 10 is not an integer in \[1, 9\]/],
          [withRow(4, [4.5, 1]), /run 4's length shapes\[4, 0\] = 4.5 is not an integer in \[1, 9\]/],
          [
            withRow(3, [5, 2]),
            /run 3's activation code shapes\[3, 1\] = 2 is not 0 \(tanh\) or 1 \(sigmoid\)/,
          ],
          [
            withRow(5, [9, -1]),
            /run 5's activation code shapes\[5, 1\] = -1 is not 0 \(tanh\) or 1 \(sigmoid\)/,
          ],
        ];
        const attrs = { activation: 'tanh', head: p.head, hiddenSize: p.H, outputSize: p.O };
        for (const [shapes, message] of kernelCases) {
          expect(() =>
            tf
              .engine()
              .runKernel(
                RNN_ENSEMBLE_PACKED_STEP,
                { state, ...batch, runs: table, shapes } as unknown as tf.NamedTensorMap,
                attrs as unknown as tf.NamedAttrMap,
              ),
          ).toThrow(message);
          shapes.dispose();
        }
        // a class out of range within a run's steps is refused (the padding's are not read)
        const bad = { ...arrays, targets: Int32Array.from(arrays.targets) };
        bad.targets[(0 * p.B + 1) * p.T + 4] = 99;
        const badBatch = batchTensors(p, bad, [...MIXED.keys()], p.T);
        const shapes = tf.tensor2d(good, [p.R, 2]);
        expect(() =>
          tf
            .engine()
            .runKernel(
              RNN_ENSEMBLE_PACKED_STEP,
              { state, ...badBatch, runs: table, shapes } as unknown as tf.NamedTensorMap,
              attrs as unknown as tf.NamedAttrMap,
            ),
        ).toThrow(/targets\[13\] = 99 \(run 0, sequence 1, step 4\) is not a class index in \[0, 3\)/);
        tf.dispose([shapes, ...Object.values(badBatch)]);
        // the wrapper checks the arrays before it makes a tensor
        const lengths = MIXED_SHAPES.lengths;
        const activations = MIXED_SHAPES.activations;
        const arrayCases: [unknown, RegExp][] = [
          [
            { lengths: lengths.slice(1), activations },
            /shapes\.lengths must have one entry per run \(6\), got 5 entries/,
          ],
          [{ lengths }, /shapes\.activations must have one entry per run \(6\), got undefined/],
          [
            { lengths: [5, 9, 10, 5, 5, 9], activations },
            /shapes\.lengths\[2\] = 10 is not an integer in \[1, 9\]/,
          ],
          [
            { lengths: [0, 9, 9, 5, 5, 9], activations },
            /shapes\.lengths\[0\] = 0 is not an integer in \[1, 9\]/,
          ],
          [
            { lengths: [5, 9, 9, 2.5, 5, 9], activations },
            /shapes\.lengths\[3\] = 2\.5 is not an integer in \[1, 9\]/,
          ],
          [
            { lengths, activations: ['tanh', 'sigmoid', 'tanh', 'sigmoid', 'relu', 'tanh'] },
            /shapes\.activations\[4\] = "relu" is not one of 'tanh', 'sigmoid'/,
          ],
        ];
        for (const [shapes, message] of arrayCases) {
          expect(() => mixedStep(p, state, batch, shapes as RunShapes)).toThrow(message);
        }
        expect(Array.from(await state.data())).toEqual(before);
        tf.dispose([...Object.values(params), state, ...Object.values(batch), table]);
      });
    },
  );

  it.skipIf(!webgpu)(
    'a compiled trainer steps packed runs: as the multi-dispatch step, weights read and written between steps, 3 dispatches a step [webgpu only]',
    async () => {
      await expectNoLeak(async () => {
        const sizes = { inputSize: 6, hiddenSize: 50, outputSize: 4 };
        const p: Problem = { R: 3, B: 4, T: 10, I: 6, H: 50, O: 4, head: 'last-softmax', activation: 'tanh' };
        const method = (name: 'SGD' | 'SGD-C' | 'SGD-CR') =>
          paperMethod(name, { learningRate: 0.05, maxNorm: 1, alpha: 2, omegaVariant: 'code' });
        const make = () =>
          createTrainer({
            ...sizes,
            members: [
              { method: method('SGD'), seed: 1 },
              { method: method('SGD-C'), seed: 2 },
              { method: method('SGD-CR'), seed: 3 },
            ],
            implementation: fusedImplementation,
            engine: 'compiled',
          });
        /** 12 steps; after step 5 run 1 is read, run 2 rewritten and slot 0 refilled. */
        const train = async (t: Trainer, counts: number[]) => {
          const records = [];
          const reads: Awaited<ReturnType<Trainer['getWeights']>>[] = [];
          for (let s = 0; s < 12; s++) {
            const batch = batchOf(p, s, s === 3 ? Number.NaN : s === 1 ? 30 : 1);
            const { inputs, targets } = batch;
            let pending: Promise<unknown> = Promise.resolve();
            counts.push(
              countDispatches(() => {
                pending = t.step({ inputs, targets });
              }),
            );
            records.push(await pending);
            tf.dispose(Object.values(batch));
            // a run read between steps (a check): from the packed state, no unpacking
            if (s === 8) reads.push(await t.getWeights(0));
            if (s === 5) {
              const w1 = await t.getWeights(1);
              w1.b.values = w1.b.values.map((v) => v + 0.01);
              t.setWeights(2, w1);
              t.replaceMember(0, { method: method('SGD-CR'), seed: 9 });
            }
          }
          const weights = [await t.getWeights(0), await t.getWeights(1), await t.getWeights(2)];
          return { records, weights: [...weights, ...reads] };
        };
        setWebgpuRecurrence('one-workgroup');
        let multi: Awaited<ReturnType<typeof train>>;
        const a = make();
        try {
          multi = await train(a, []);
        } finally {
          a.dispose();
          setWebgpuRecurrence('auto');
        }
        const b = make();
        const counts: number[] = [];
        const persistent = await train(b, counts);
        b.dispose();
        expect(JSON.stringify(persistent.records.map((r) => (r as { clipped: boolean[] }).clipped))).toBe(
          JSON.stringify(multi.records.map((r) => (r as { clipped: boolean[] }).clipped)),
        );
        for (const [s, rec] of persistent.records.entries()) {
          const want = multi.records[s] as { loss: number[]; norm: number[]; safeguarded: boolean[] };
          const got = rec as typeof want;
          expect(got.safeguarded, `step ${s}`).toEqual(want.safeguarded);
          for (let r = 0; r < 3; r++) {
            for (const k of ['loss', 'norm'] as const) {
              const [g, w] = [got[k][r], want[k][r]];
              if (Number.isNaN(w)) expect(g).toBeNaN();
              else expect(Math.abs(g - w) / (1 + Math.abs(w)), `step ${s} run ${r} ${k}`).toBeLessThan(1e-4);
            }
          }
        }
        expect(persistent.weights).toHaveLength(4);
        for (let r = 0; r < 4; r++) {
          for (const k of PARAMS) {
            expect(persistent.weights[r][k].shape, `${k} shape`).toEqual(multi.weights[r][k].shape);
            const [g, w] = [persistent.weights[r][k].values, multi.weights[r][k].values];
            const finite = (x: ArrayLike<number>) => Array.from(x).filter((_, i) => Number.isFinite(w[i]));
            expect(relativeError(finite(g), finite(w)), `run ${r} ${k}`).toBeLessThan(1e-4);
          }
        }
        // steady steps: the sequence program, the packed update, the record's copy (the first
        // step and the one after the weights were written also pack the state; a read does not)
        expect(counts.filter((n) => n === 3).length).toBe(10);
      });
    },
  );
});
