/**
 * The synthetic runs' protocol: Ω's default variant, the first-update ratio ‖α∇Ω‖ / ‖∇E‖, checks
 * on fresh sequences at a fixed or relative schedule (--check-every), and the clipped fraction
 * in the temporal-order report.
 */
import { createTask } from '@cliffguard/datasets';
import { createRnn, type RnnModel } from '@cliffguard/rnn';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { resolveDataDir } from '../core/paths.js';
import type { Block } from '../core/report-types.js';
import type { ExperimentDef, Profile, ResultLine, RunContext } from '../core/types.js';
import { Interrupted } from '../core/types.js';
import { useBackend } from '../runner/backend.js';
import { planRuns } from '../runner/plan.js';
import {
  checkGap,
  freshChunks,
  nextCheckAfter,
  omegaRatio,
  runSynthetic,
  type SyntheticRunConfig,
  type SyntheticRunResult,
  sgdCrRunConfig,
} from '../training/train-synthetic.js';
import { generalize } from './generalize.js';
import { synthetic } from './synthetic.js';
import {
  checkEveryFlag,
  checkProtocolText,
  omegaFlags,
  temporalOrder,
  updateTable,
} from './temporal-order.js';

const SYNTHETIC_EXPERIMENTS: ExperimentDef[] = [temporalOrder, generalize, synthetic];

describe("Ω's default variant", () => {
  it("is the authors' code's (mean over time and batch) with α 4; --omega paper still selects the ICML sum", () => {
    expect(omegaFlags({})).toEqual({ alpha: 4, omega: 'code' });
    expect(omegaFlags({ omega: 'paper' })).toEqual({ alpha: 4, omega: 'paper' });
    expect(omegaFlags({ alpha: '2', omega: 'code' })).toEqual({ alpha: 2, omega: 'code' });
    expect(() => omegaFlags({ omega: 'icml' })).toThrow(/--omega expects 'paper' or 'code', got 'icml'/);
    for (const def of SYNTHETIC_EXPERIMENTS) {
      for (const [flags, omega] of [
        [{}, 'code'],
        [{ omega: 'paper' }, 'paper'],
      ] as const) {
        const { runs } = planRuns(def, { profile: 'quick', flags });
        expect(runs.length).toBeGreaterThan(0);
        for (const r of runs)
          expect([def.name, r.config.omega, r.config.alpha]).toEqual([def.name, omega, 4]);
      }
    }
  });
});

describe('--check-every', () => {
  it('takes a whole number or a percentage, and rejects anything else naming the value', () => {
    expect(checkEveryFlag({})).toBe('5%');
    expect(checkEveryFlag({ 'check-every': '1000' })).toBe(1000);
    expect(checkEveryFlag({ 'check-every': 250 })).toBe(250);
    expect(checkEveryFlag({ 'check-every': '5%' })).toBe('5%');
    expect(checkEveryFlag({ 'check-every': '2.5%' })).toBe('2.5%');
    expect(checkEveryFlag({ 'check-every': '100%' })).toBe('100%');
    for (const bad of ['abc', '0', '-5', '120%', '0%', '1.5', '5 %', '']) {
      expect(() => checkEveryFlag({ 'check-every': bad })).toThrow(
        `--check-every expects a whole number of updates >= 1 (for example 1000) or a percentage above 0% and at most 100% (for example 5%), got '${bad}'`,
      );
    }
  });

  it('reaches every synthetic experiment: default 5% with floor 25 (quick) / 50 (paper); recorded in the config and the protocol', () => {
    for (const def of SYNTHETIC_EXPERIMENTS) {
      for (const [profile, floor] of [
        ['quick', 25],
        ['paper', 50],
      ] as [Profile, number][]) {
        const five = planRuns(def, { profile, flags: {} });
        for (const r of five.runs) expect([r.config.checkEvery, r.config.checkFloor]).toEqual(['5%', floor]);
        const fixed = planRuns(def, { profile, flags: { 'check-every': '1000' } });
        for (const r of fixed.runs) expect(r.config.checkEvery).toBe(1000);
        // results made under another schedule never merge with these
        expect(fixed.runs[0].protocol).not.toBe(five.runs[0].protocol);
      }
      expect(() => planRuns(def, { profile: 'quick', flags: { 'check-every': '120%' } })).toThrow(
        /--check-every .* got '120%'/,
      );
      expect(def.options?.map((o) => o.name)).toContain('check-every');
    }
  });

  it('schedules checks N apart, or max(floor, ⌈p·step⌉) apart: the update of success is known to within p', () => {
    expect([0, 999, 1000, 1500].map((s) => nextCheckAfter(1000, 50, s))).toEqual([1000, 1000, 2000, 2000]);
    const steps = (every: '5%' | '10%', floor: number, until: number) => {
      const out: number[] = [];
      for (let s = nextCheckAfter(every, floor, 0); s <= until; s = nextCheckAfter(every, floor, s))
        out.push(s);
      return out;
    };
    const five = steps('5%', 50, 5_000_000);
    // 50 apart up to 1,000 (5% of 1,000 is exactly 50, not 51), then 5% of the step reached
    expect(five.slice(0, 3)).toEqual([50, 100, 150]);
    expect(five.slice(19, 25)).toEqual([1000, 1050, 1103, 1159, 1217, 1278]);
    expect(five).toHaveLength(194);
    for (let i = 1; i < five.length; i++) {
      const gap = five[i] - five[i - 1];
      expect(gap).toBe(Math.max(50, Math.ceil(0.05 * five[i - 1] - 1e-9)));
      // a success first seen at five[i] happened after five[i-1]: within 5% (+ one update) of it
      if (five[i - 1] >= 1000) expect(gap).toBeLessThanOrEqual(0.05 * five[i - 1] + 1);
    }
    // a resumed run finds its next check from the step alone
    expect(nextCheckAfter('5%', 50, 1103)).toBe(1159);
    expect(nextCheckAfter('5%', 50, 1120)).toBe(1159);
    // whole values stay whole: 1.1% of 3,000 is 33 (33.00000000000001 in floating point)
    expect(checkGap('1.1%', 25, 3000)).toBe(33);
    expect(steps('10%', 25, 400)).toEqual([
      25, 50, 75, 100, 125, 150, 175, 200, 225, 250, 275, 303, 334, 368,
    ]);
  });

  it('states in the protocol what each check draws and on what schedule', () => {
    expect(checkProtocolText({ checkEvery: '5%', checkFloor: 50, checkSize: 1000, evalSize: 10_000 })).toBe(
      'checks each after max(50, ⌈5% of the updates so far⌉) more updates, each drawing 1,000 new sequences from a stream separate from training; ' +
        'where under 1% of them are wrong, 10,000 further new sequences decide: success = error < 1% on them',
    );
    expect(checkProtocolText({ checkEvery: 250, checkFloor: 25, checkSize: 1000, evalSize: 500 })).toMatch(
      /^checks every 250 updates, each drawing 1,000 new sequences/,
    );
    // older results (a fixed probe set, no floor recorded) say what they did
    expect(checkProtocolText({ checkEvery: 1000, checkSize: 1000, evalSize: 10_000 })).toBe(
      'checks every 1,000 updates on a fixed set of 1,000 sequences, success = error < 1% on 10,000 fixed fresh sequences',
    );
  });
});

/** The global L2 norm of plain arrays, in double precision. */
function norm(...arrays: ArrayLike<number>[]): number {
  let s = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/**
 * ‖α∇Ω‖ / ‖∇E‖ computed another way: the model's gradients with and without Ω, W_rec's
 * difference against the task gradient over all parameters.
 */
function ratioByDifference(
  model: RnnModel,
  batch: { inputs: tf.Tensor3D; targets: tf.Tensor },
  variant: 'paper' | 'code',
  alpha: number,
) {
  const plain = model.lossAndGradients(batch);
  const withOmega = model.lossAndGradients(batch, { omega: { variant, weight: alpha } });
  try {
    const task = norm(...Object.values<tf.Tensor>(plain.grads).map((g) => g.dataSync()));
    const a = withOmega.grads.W_rec.dataSync();
    const b = plain.grads.W_rec.dataSync();
    return norm(a.map((x, i) => x - b[i])) / task;
  } finally {
    for (const r of [plain, withOmega])
      tf.dispose([r.loss, r.lastState, r.omega!, ...Object.values<tf.Tensor>(r.grads)].filter(Boolean));
  }
}

const quietContext = (overrides: Partial<RunContext> = {}): RunContext => ({
  backend: 'cpu',
  dataDir: resolveDataDir(),
  resume: () => undefined,
  checkpointDue: () => false,
  checkpoint: () => {},
  stopRequested: () => false,
  progress: () => {},
  ...overrides,
});

function temporalOrderConfig(over: Partial<SyntheticRunConfig>): SyntheticRunConfig {
  return {
    ...sgdCrRunConfig({
      task: 'temporal-order',
      init: 'smart-tanh',
      alpha: 4,
      omega: 'code',
      minLength: 10,
      maxLength: 10,
      maxUpdates: 60,
      evalSize: 200,
      paperProfile: false,
    }),
    ...over,
  };
}

/** Fig. 7's model for `task`: 50 hidden units, smart-tanh. */
function paperModel(task: ReturnType<typeof createTask>, seed: number, implementation?: string) {
  return createRnn({
    inputSize: task.inputSize,
    hiddenSize: 50,
    outputSize: task.outputSize,
    head: task.head,
    init: 'smart-tanh',
    seed,
    implementation,
  });
}

describe('the first-update ratio ‖α∇Ω‖ / ‖∇E‖', () => {
  it("is T times larger for the ICML Ω (sum over time) than for the code's (mean over time), and matches the gradients' difference", async () => {
    await useBackend('cpu');
    for (const T of [10, 20]) {
      const task = createTask('temporal-order', { seed: 5, minLength: T, maxLength: T });
      const model = paperModel(task, 3);
      const batch = task.nextBatch(20);
      await omegaRatio(model, batch, { variant: 'code', alpha: 4 }); // warm-up
      const before = tf.memory().numTensors;
      const paper = (await omegaRatio(model, batch, { variant: 'paper', alpha: 4 }))!;
      const code = (await omegaRatio(model, batch, { variant: 'code', alpha: 4 }))!;
      // every (t, b) term is valid at ρ 0.95: 'paper' = (1/B) Σ, 'code' = Σ / (B·T)
      expect(Math.abs(paper / code / T - 1)).toBeLessThan(1e-4);
      expect(code).toBeGreaterThan(0.1);
      // linear in α
      const half = (await omegaRatio(model, batch, { variant: 'code', alpha: 2 }))!;
      expect(Math.abs(half / code - 0.5)).toBeLessThan(1e-5);
      for (const [variant, got] of [
        ['paper', paper],
        ['code', code],
      ] as const) {
        expect(Math.abs(got / ratioByDifference(model, batch, variant, 4) - 1)).toBeLessThan(1e-4);
      }
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([batch.inputs, batch.targets]);
      model.dispose();
    }
  });

  it("is each SGD-CR run's omegaRatio, measured on the run's first minibatch before the first update", async () => {
    await useBackend('cpu');
    const config = temporalOrderConfig({ maxUpdates: 5 });
    await runSynthetic(config, 2, quietContext()); // warm-up
    const before = tf.memory().numTensors;
    const run = await runSynthetic(config, 2, quietContext());
    const plainSgd = await runSynthetic({ ...config, method: 'SGD-C' }, 2, quietContext());
    expect(tf.memory().numTensors).toBe(before);
    expect(plainSgd.omegaRatio).toBeUndefined();
    // the same model and minibatch, rebuilt: the training stream is seeded 1000·seed + 7
    const task = createTask('temporal-order', { seed: 2007, minLength: 10, maxLength: 10 });
    const model = paperModel(task, 2, run.implementation);
    const batch = task.nextBatch(20);
    const want = ratioByDifference(model, batch, 'code', 4);
    tf.dispose([batch.inputs, batch.targets]);
    model.dispose();
    expect(run.omegaRatio).toBeGreaterThan(0.1);
    expect(Math.abs((run.omegaRatio as number) / want - 1)).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('checks on fresh sequences', () => {
  it('draw new sequences from their own stream at each check; the stream state restores the draws', () => {
    const stream = createTask('temporal-order', { seed: 11, minLength: 10, maxLength: 20 });
    const saved = stream.getState();
    const first = [...freshChunks(stream, 2500)];
    expect(first.map((c) => c.inputShape[0])).toEqual([1000, 1000, 500]);
    const second = [...freshChunks(stream, 2500)];
    expect(Array.from(second[0].targets)).not.toEqual(Array.from(first[0].targets));
    stream.setState(saved);
    expect([...freshChunks(stream, 2500)].map((c) => Array.from(c.targets))).toEqual(
      first.map((c) => Array.from(c.targets)),
    );
  });

  it('differ between checks of a (nearly) frozen model, where a fixed set would score the same', async () => {
    await useBackend('cpu');
    const run = await runSynthetic(
      temporalOrderConfig({ method: 'SGD', lr: 1e-12, checkEvery: 10, maxUpdates: 60 }),
      1,
      quietContext(),
    );
    expect([run.checks, run.checkEvery, run.updates]).toEqual([6, 10, 60]);
    const errors = run.trace.filter((p) => p.checkError !== null).map((p) => [p.step, p.checkError]);
    expect(errors.map(([s]) => s)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(new Set(errors.map(([, e]) => e)).size).toBeGreaterThanOrEqual(3);
  });

  it('count and schedule are recorded; a run stopped at a checkpoint and resumed ends exactly as an uninterrupted one', async () => {
    await useBackend('cpu');
    const config = temporalOrderConfig({ checkEvery: '10%', maxUpdates: 80 });
    const straight = await runSynthetic(config, 4, quietContext());
    // 10% with floor 25: checks at 25, 50, 75, then 80 (the last update)
    expect([straight.checks, straight.checkEvery, straight.checkFloor]).toEqual([4, '10%', 25]);
    expect(straight.trace.filter((p) => p.checkError !== null).map((p) => p.step)).toEqual([25, 50, 75, 80]);
    const before = tf.memory().numTensors;
    let saved: { step: number; state: unknown } | undefined;
    await expect(
      runSynthetic(
        config,
        4,
        quietContext({
          checkpointDue: () => true,
          checkpoint: (step, state) => {
            if (step === 60) saved = { step, state };
          },
          stopRequested: () => saved !== undefined,
        }),
      ),
    ).rejects.toBeInstanceOf(Interrupted);
    expect(saved?.step).toBe(60);
    expect(tf.memory().numTensors).toBe(before);
    const resumed = await runSynthetic(
      config,
      4,
      quietContext({ resume: <S>() => saved as { step: number; state: S } }),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(resumed).toEqual(straight);
  });
});

describe('the temporal-order report', () => {
  const line = (
    method: string,
    init: string,
    L: number,
    seed: number,
    result: Partial<SyntheticRunResult>,
  ): ResultLine => ({
    runId: `temporal-order:${method}/${init}/L${L}:s${seed}`,
    experiment: 'temporal-order',
    profile: 'quick',
    protocol: 'p',
    configHash: 'c',
    config: { ...temporalOrderConfig({}), method, init, minLength: L, maxLength: L },
    seed,
    result: {
      success: false,
      updates: 10,
      finalError: 0.5,
      diverged: false,
      clippedFraction: 0,
      trace: [],
      ...result,
    },
    timing: { seconds: 1, backend: 'cpu', resumedFromStep: 0, finishedAt: '', host: '' },
  });

  it('shows the median clipped fraction per method and the median first-update Ω ratio per init and L', () => {
    const lines = [
      ...[0.1, 0.3, 0.2].map((f, s) => line('SGD-C', 'basic-tanh', 50, s, { clippedFraction: f })),
      ...[
        [0.5, 2],
        [0.7, 6],
        [0.6, 4],
      ].map(([f, r], s) => line('SGD-CR', 'basic-tanh', 50, s, { clippedFraction: f, omegaRatio: r })),
      line('SGD-CR', 'basic-tanh', 100, 0, { clippedFraction: 0.25, omegaRatio: null }),
    ];
    const [table] = updateTable(lines) as Extract<Block, { kind: 'table' }>[];
    expect(table.header).toEqual([
      'init',
      'L',
      'SGD-C: clipped',
      'SGD-CR: clipped',
      'SGD-CR: ‖α∇Ω‖ / ‖∇E‖ at update 1',
    ]);
    expect(table.rows).toEqual([
      ['basic-tanh', '50', '0.200', '0.600', '4.00'],
      ['basic-tanh', '100', '–', '0.250', '–'],
    ]);
    expect(table.caption).toMatch(/Ω as in the authors' code \(mean over time and batch\)/);
    const md = JSON.stringify(temporalOrder.report({ profile: 'quick', lines, missing: [], command: '' }));
    expect(md).toContain("α 4, Ω as in the authors' code (mean over time and batch)");
    expect(md).not.toMatch(/Ω paper/);
    expect(md).toContain('SGD-CR: ‖α∇Ω‖ / ‖∇E‖ at update 1');
  });
});
