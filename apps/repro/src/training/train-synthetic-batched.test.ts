// Batched runs in this process (cpu, the fused implementation): the same runs as runSynthetic
// trains alone, a run that fails to start fails alone, a stop checkpoints every run in a slot and a
// resume ends where an uninterrupted run ends; no tensor left behind.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { resolveDataDir } from '../core/paths.js';
import type { BatchedRun, RunContext, RunSpec } from '../core/types.js';
import { useBackend } from '../runner/backend.js';
import { runSynthetic, type SyntheticRunConfig, sgdCrRunConfig } from './train-synthetic.js';
import { stackBatches, syntheticBatchKey, trainSyntheticBatched } from './train-synthetic-batched.js';
import { saveWeights } from './weights.js';

const base: SyntheticRunConfig = sgdCrRunConfig({
  task: 'temporal-order',
  init: 'smart-tanh',
  alpha: 4,
  omega: 'code',
  minLength: 10,
  maxLength: 10,
  maxUpdates: 60,
  evalSize: 200,
  paperProfile: false,
});
/** SGD-C and SGD-CR, seeds 1 and 2, and one SGD-CR run with a shorter cap (so runs end at different updates). */
const RUNS: { config: SyntheticRunConfig; seed: number }[] = [
  { config: { ...base, method: 'SGD-C' }, seed: 1 },
  { config: base, seed: 1 },
  { config: { ...base, maxUpdates: 25 }, seed: 3 },
  { config: { ...base, method: 'SGD-C' }, seed: 2 },
  { config: base, seed: 2 },
];

type Checkpoints = Map<number, { step: number; state: unknown }>;

/** A run's context: checkpoints (when `due`) into `saved`, resumes from it, stops when `stop()` holds. */
function contextOf(i: number, saved: Checkpoints, due = () => false, stop = () => false): RunContext {
  return {
    backend: 'cpu',
    dataDir: resolveDataDir(),
    resume: <S>() => saved.get(i) as { step: number; state: S } | undefined,
    checkpointDue: () => due() || stop(),
    checkpoint: (step, state) => saved.set(i, { step, state: JSON.parse(JSON.stringify(state)) }),
    stopRequested: stop,
    progress: () => {},
  };
}

interface Told {
  results: Map<number, Record<string, unknown>>;
  stopped: number[];
  failed: Map<number, unknown>;
}

/** Handles for `runs`; what each run tells lands in the returned record. */
function handlesOf(
  runs: typeof RUNS,
  context: (i: number) => RunContext,
): { handles: BatchedRun[]; told: Told } {
  const told: Told = { results: new Map(), stopped: [], failed: new Map() };
  const handles = runs.map(
    (r, i): BatchedRun => ({
      run: { id: `run${i}`, experiment: 'temporal-order', profile: 'quick', protocol: '', ...r } as RunSpec,
      start: () => context(i),
      done: (result) => told.results.set(i, result),
      stopped: () => told.stopped.push(i),
      failed: (err) => told.failed.set(i, err),
    }),
  );
  return { handles, told };
}

/** A result without what tells the two ways apart. */
const sameRun = (r: Record<string, unknown>) => {
  const { trainer: _trainer, batched: _batched, ...rest } = r;
  return rest;
};

describe('trainSyntheticBatched (cpu, fused)', () => {
  it('groups runs by units and one length', () => {
    expect(syntheticBatchKey(base)).toBe('temporal-order/tanh/H50/B20/L10');
    expect(syntheticBatchKey({ ...base, init: 'sigmoid', method: 'SGD' })).toBe(
      'temporal-order/sigmoid/H50/B20/L10',
    );
    expect(syntheticBatchKey({ ...base, maxLength: 20 })).toBeUndefined();
    // mixed: one key for both units and every length of a task, size and minibatch
    const mixed = [base, { ...base, init: 'sigmoid' as const }, { ...base, minLength: 30, maxLength: 30 }];
    expect(new Set(mixed.map((c) => syntheticBatchKey(c, true)))).toEqual(
      new Set(['temporal-order/H50/B20/mixed']),
    );
    expect(syntheticBatchKey({ ...base, hidden: 40 }, true)).toBe('temporal-order/H40/B20/mixed');
    expect(syntheticBatchKey({ ...base, maxLength: 20 }, true)).toBeUndefined();
  });

  it('pads minibatches of different lengths to the longest and gives each run its length', async () => {
    await useBackend('cpu');
    // run 0: B = 2 sequences of 1 step; run 1: 2 sequences of 2 steps (I = 2)
    const s = stackBatches(tf, [
      {
        length: 1,
        inputs: new Float32Array([1, 2, 3, 4]),
        inputShape: [2, 1, 2],
        targets: new Int32Array([7, 8]),
        targetShape: [2],
      },
      {
        length: 2,
        inputs: new Float32Array([5, 6, 7, 8, 9, 10, 11, 12]),
        inputShape: [2, 2, 2],
        targets: new Int32Array([1, 2]),
        targetShape: [2],
      },
    ]);
    expect(s.inputs.shape).toEqual([2, 2, 2, 2]);
    expect([...(await s.inputs.data())]).toEqual([1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect([...(await s.targets.data())]).toEqual([7, 8, 1, 2]);
    expect(s.lengths).toEqual([1, 2]);
    // per-step targets ([B, T]) are padded alike
    const p = stackBatches(
      tf,
      [
        {
          length: 1,
          inputs: new Float32Array([1, 2]),
          inputShape: [1, 1, 2],
          targets: new Int32Array([3]),
          targetShape: [1, 1],
        },
        {
          length: 2,
          inputs: new Float32Array([4, 5, 6, 7]),
          inputShape: [1, 2, 2],
          targets: new Int32Array([8, 9]),
          targetShape: [1, 2],
        },
      ],
      true,
    );
    expect([p.targets.shape, [...(await p.targets.data())]]).toEqual([
      [2, 1, 2],
      [3, 0, 8, 9],
    ]);
    expect(() =>
      stackBatches(tf, [
        {
          length: 1,
          inputs: new Float32Array(2),
          inputShape: [1, 1, 2],
          targets: new Int32Array(1),
          targetShape: [1],
        },
        {
          length: 1,
          inputs: new Float32Array(3),
          inputShape: [1, 1, 3],
          targets: new Int32Array(1),
          targetShape: [1],
        },
      ]),
    ).toThrow(/incompatible shapes \(inputs \[1,1,3\] and \[1,1,2\].*only the time axis may differ/);
    tf.dispose([s.inputs, s.targets, p.inputs, p.targets]);
  });

  it('one trainer holds sigmoid and tanh runs of two lengths: each run as runSynthetic trains it alone', async () => {
    await useBackend('cpu');
    const none: Checkpoints = new Map();
    const long = { ...base, minLength: 14, maxLength: 14, maxUpdates: 40 };
    const runs: typeof RUNS = [
      { config: { ...base, method: 'SGD-C' }, seed: 1 },
      { config: { ...long, init: 'sigmoid', method: 'SGD' }, seed: 2 },
      { config: long, seed: 3 },
      { config: { ...base, init: 'sigmoid', maxUpdates: 25 }, seed: 4 },
      { config: { ...long, method: 'SGD-C', init: 'basic-tanh' }, seed: 5 },
    ];
    expect(new Set(runs.map((r) => syntheticBatchKey(r.config, true))).size).toBe(1);
    const alone = [];
    for (const [i, r] of runs.entries()) alone.push(await runSynthetic(r.config, r.seed, contextOf(i, none)));
    const before = tf.memory().numTensors;
    const { handles, told } = handlesOf(runs, (i) => contextOf(i, none));
    await trainSyntheticBatched(handles, { slots: 3, backend: 'cpu', stopRequested: () => false });
    expect([...told.failed.values()]).toEqual([]);
    for (const [i, want] of alone.entries()) {
      const got = told.results.get(i) as Record<string, unknown>;
      expect(sameRun(got), `run ${i}`).toEqual(sameRun(want));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stacks minibatches along a leading run axis', async () => {
    await useBackend('cpu');
    const a = {
      length: 1,
      inputs: new Float32Array([1, 2]),
      inputShape: [1, 1, 2] as [number, number, number],
    };
    const s = stackBatches(tf, [
      { ...a, targets: new Int32Array([3]), targetShape: [1] },
      { ...a, inputs: new Float32Array([4, 5]), targets: new Int32Array([6]), targetShape: [1] },
    ]);
    expect(s.inputs.shape).toEqual([2, 1, 1, 2]);
    expect([...(await s.inputs.data())]).toEqual([1, 2, 4, 5]);
    expect([s.targets.dtype, ...(await s.targets.data())]).toEqual(['int32', 3, 6]);
    tf.dispose([s.inputs, s.targets]);
  });

  it('trains the same runs as runSynthetic, refilling slots, and leaves no tensor behind', async () => {
    await useBackend('cpu');
    const none: Checkpoints = new Map();
    // each run alone (this also warms up what tfjs keeps for good: kernels, caches)
    const alone = [];
    for (const [i, r] of RUNS.entries()) alone.push(await runSynthetic(r.config, r.seed, contextOf(i, none)));
    expect(new Set(alone.map((r) => r.updates)).size).toBeGreaterThan(1);
    const before = tf.memory().numTensors;

    // a run whose checkpoint has a W_rec of the wrong shape fails alone; the others train on
    const zeros = (shape: number[]) => ({
      shape,
      values: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    });
    const bad = saveWeights({
      W_in: zeros([6, 50]),
      W_rec: zeros([3, 3]),
      b: zeros([50]),
      W_out: zeros([50, 4]),
      b_out: zeros([4]),
    });
    const broken: Checkpoints = new Map([[5, { step: 1, state: { weights: bad } }]]);
    const { handles, told } = handlesOf([...RUNS, RUNS[0]], (i) => contextOf(i, broken));
    await trainSyntheticBatched(handles, { slots: 2, backend: 'cpu', stopRequested: () => false });
    expect([...told.failed.keys()]).toEqual([5]);
    expect(String(told.failed.get(5))).toMatch(/W_rec/);
    expect(told.stopped).toEqual([]);
    for (const [i, want] of alone.entries()) {
      const got = told.results.get(i) as Record<string, unknown>;
      expect([got.trainer, got.batched, want.trainer]).toEqual(['batched', 2, 'ensemble']);
      // the compiled step keeps runs independent: every number is the same, to the bit
      expect(sameRun(got), `run ${i}`).toEqual(sameRun(want));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a stop checkpoints every run in a slot; resumed, they end where uninterrupted runs end', async () => {
    await useBackend('cpu');
    const straight = handlesOf(RUNS, (i) => contextOf(i, new Map()));
    await trainSyntheticBatched(straight.handles, { slots: 3, backend: 'cpu', stopRequested: () => false });
    const before = tf.memory().numTensors;

    // stop once the slots' runs have taken 20 updates each (checkpoints now and then before that)
    const saved: Checkpoints = new Map();
    let updates = 0;
    const stop = () => updates >= 20 * 3;
    const counting = (i: number): RunContext => {
      const ctx = contextOf(i, saved, () => updates % 7 === 0, stop);
      return {
        ...ctx,
        checkpointDue: () => {
          updates += 1;
          return ctx.checkpointDue();
        },
      };
    };
    const first = handlesOf(RUNS, counting);
    await trainSyntheticBatched(first.handles, { slots: 3, backend: 'cpu', stopRequested: stop });
    expect(first.told.stopped.sort()).toEqual([0, 1, 2]); // the runs in slots; none started after the stop
    expect(first.told.results.size + first.told.failed.size).toBe(0);
    // the run that saw the stop first checkpointed at update 20, the others at their next update
    for (const c of saved.values()) expect([20, 21]).toContain(c.step);
    expect(saved.size).toBe(3);

    const second = handlesOf(RUNS, (i) => contextOf(i, saved));
    await trainSyntheticBatched(second.handles, { slots: 3, backend: 'cpu', stopRequested: () => false });
    expect(second.told.results.size).toBe(RUNS.length);
    for (const [i, want] of straight.told.results)
      expect(second.told.results.get(i), `run ${i}`).toEqual(want);
    expect(tf.memory().numTensors).toBe(before);
  });
});
