/**
 * The benchmark core, shared by the Node CLI (one child process per backend) and the browser
 * page (one frame per backend): on the current tfjs backend, for each config, build every stack
 * from the same weights and batch, time the first step apart, warm up, then time steps
 * round-robin across the stacks (so slow drift on a shared machine hits every stack alike), and
 * account for every tensor. Browser-safe: no node imports.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BenchConfig } from './configs.js';
import { initialWeights, makeBatch } from './data.js';
import { canCountDispatches, countDispatches } from './dispatches.js';
import { stepFlops } from './flops.js';
import type { Method, RunningStack, StackFactory } from './stacks/stack.js';
import { gflopsPerSecond, summarizeTimes, type TimeSummary } from './stats.js';

/** One measured stack on one config and backend. Field names are the JSON file's. */
export interface ResultRow extends TimeSummary {
  config: string;
  backend: string;
  /** implementation or stack: 'reference', 'fused', 'tfjs-layers', 'pytorch' */
  impl: string;
  method: Method;
  /** runs trained together per step (ensembles); 1 otherwise */
  runs: number;
  /** runs × steps per second: training updates per second summed over the runs */
  updates_per_s: number;
  /** warm-up steps run after the first step and before timing */
  warmup: number;
  /** the first step alone (kernel compilation, wasm start-up, lazy allocations) */
  ms_first: number;
  /** nominal FLOP per step (see flops.ts) */
  flop: number;
  gflops: number;
  /** loss of every step run, first step first (read back each step) */
  losses: number[];
  /** every timed step's milliseconds, in round order (round i of every stack ran back to back) */
  ms_steps: number[];
  /** tf.memory() around the whole config: before any stack was built, after all were freed */
  tensors_before: number;
  tensors_after: number;
  bytes_before: number;
  bytes_after: number;
  /** what this stack held in steady state (model, optimizer state, batch) */
  tensors_in_use: number;
  bytes_in_use: number;
  /** tensors gained over the timed steps (should be 0) */
  tensors_growth: number;
  /** tensors this stack left behind after dispose (should be 0) */
  tensors_leaked: number;
  /**
   * GPU compute dispatches one step issues (webgpu rows; null on other backends): counted, not
   * timed, on the last untimed step (the last warm-up step, or the first step with no warm-up)
   * by wrapping the compute pass encoder's dispatch methods (dispatches.ts)
   */
  dispatches_per_step: number | null;
  /** false when a leak or a non-finite loss was seen */
  ok: boolean;
  /** what went wrong, when not ok */
  problems?: string[];
}

/** A stack that could not run here, and why. */
export interface SkippedRow {
  config: string;
  backend: string;
  impl: string;
  method: Method;
  reason: string;
}

/** A stack that threw while being built or stepped; the others go on. */
export interface FailedRow {
  config: string;
  backend: string;
  impl: string;
  method: Method;
  error: string;
}

export interface ProgressEvent {
  config: string;
  backend: string;
  /** steps run so far on this config (all stacks), and the expected total */
  done: number;
  total: number;
}

export interface CoreOptions {
  configs: BenchConfig[];
  /** the tfjs backend already set (recorded in the rows) */
  backend: string;
  stacks: StackFactory[];
  /** timed steps per stack; when absent, adaptive between minSteps and maxSteps within budgetMs */
  steps?: number;
  warmup?: number;
  minSteps?: number;
  maxSteps?: number;
  /** time budget per config for the timed rounds (adaptive mode) */
  budgetMs?: number;
  seed?: number;
  onProgress?: (e: ProgressEvent) => void;
}

export interface CoreResult {
  rows: ResultRow[];
  skipped: SkippedRow[];
  failed: FailedRow[];
}

interface Tracked {
  factory: StackFactory;
  stack: RunningStack;
  heldTensors: number;
  heldBytes: number;
  growth: number;
  leftBehind: number;
  losses: number[];
  times: number[];
  msFirst: number;
  dispatches: number | null;
}

const now = () => performance.now();

/** Runs every config on the current backend. */
export async function runCore(options: CoreOptions): Promise<CoreResult> {
  const out: CoreResult = { rows: [], skipped: [], failed: [] };
  for (const config of options.configs) {
    const result = await runConfig(config, options);
    out.rows.push(...result.rows);
    out.skipped.push(...result.skipped);
    out.failed.push(...result.failed);
  }
  return out;
}

async function runConfig(config: BenchConfig, options: CoreOptions): Promise<CoreResult> {
  const { backend } = options;
  const seed = options.seed ?? 1;
  const warmup = options.warmup ?? 2;
  const skipped: SkippedRow[] = [];
  const runnable = options.stacks.filter((f) => {
    const reason = f.unavailable(config, backend);
    if (reason !== null)
      skipped.push({ config: config.name, backend, impl: f.impl, method: f.method, reason });
    return reason === null;
  });
  const failed: FailedRow[] = [];
  const fail = (f: StackFactory, err: unknown) =>
    failed.push({
      config: config.name,
      backend,
      impl: f.impl,
      method: f.method,
      error: (err as Error)?.message ?? String(err),
    });
  if (runnable.length === 0) return { rows: [], skipped, failed };

  const data = makeBatch(config, seed);
  const weights = initialWeights(config, seed);
  const before = tf.memory();
  const tracked: Tracked[] = [];
  for (const factory of runnable) {
    const m0 = tf.memory();
    let stack: RunningStack;
    try {
      stack = await factory.create(config, data, weights);
    } catch (err) {
      fail(factory, err);
      continue;
    }
    const m1 = tf.memory();
    tracked.push({
      factory,
      stack,
      heldTensors: m1.numTensors - m0.numTensors,
      heldBytes: m1.numBytes - m0.numBytes,
      growth: 0,
      leftBehind: 0,
      losses: [],
      times: [],
      msFirst: 0,
      dispatches: null,
    });
  }

  let active = [...tracked];
  let done = 0;
  let total = runnable.length * (1 + warmup + (options.steps ?? options.minSteps ?? 5));
  const progress = () => options.onProgress?.({ config: config.name, backend, done, total });
  // one step of one stack: time it, keep its loss, and count the tensors it gained
  // on webgpu, the last untimed step of each stack also counts its compute dispatches
  const countHere = backend === 'webgpu' && canCountDispatches();
  const stepOnce = async (t: Tracked, timed: boolean, count = false) => {
    const m0 = tf.memory();
    const t0 = now();
    let loss: number;
    try {
      if (count && countHere) {
        const counted = await countDispatches(() => t.stack.step());
        loss = counted.result;
        t.dispatches = counted.dispatches;
      } else {
        loss = await t.stack.step();
      }
    } catch (err) {
      // this stack is out; the others go on
      fail(t.factory, err);
      active = active.filter((a) => a !== t);
      return 0;
    }
    const ms = now() - t0;
    const m1 = tf.memory();
    t.losses.push(loss);
    if (timed) {
      t.times.push(ms);
      t.growth += m1.numTensors - m0.numTensors;
    } else {
      // first step and warm-up may allocate lazily (optimizer state): count it as held
      t.heldTensors += m1.numTensors - m0.numTensors;
      t.heldBytes += m1.numBytes - m0.numBytes;
    }
    done++;
    progress();
    return ms;
  };

  try {
    for (const t of [...active]) t.msFirst = await stepOnce(t, false, warmup === 0);
    for (let i = 0; i < warmup; i++) {
      for (const t of [...active]) await stepOnce(t, false, i === warmup - 1);
    }
    const timedStart = now();
    for (let round = 0; ; round++) {
      if (
        options.steps !== undefined
          ? round >= options.steps
          : adaptiveDone(round, now() - timedStart, options)
      ) {
        break;
      }
      if (active.length === 0) break;
      for (const t of [...active]) await stepOnce(t, true);
      if (options.steps === undefined && round === 0) {
        total = done + runnable.length * (estimateRounds(now() - timedStart, options) - 1);
      }
    }
  } finally {
    // dispose in reverse order so each stack's freed count is its own
    for (const t of [...tracked].reverse()) {
      const m0 = tf.memory().numTensors;
      try {
        t.stack.dispose();
      } catch (err) {
        if (active.includes(t)) fail(t.factory, err);
        active = active.filter((a) => a !== t);
      }
      const freed = m0 - tf.memory().numTensors;
      t.leftBehind = t.heldTensors + t.growth - freed;
    }
  }
  const after = tf.memory();
  const rows = active.map((t) => toRow(config, backend, warmup, t, before, after));
  return { rows, skipped, failed };
}

function adaptiveDone(round: number, elapsedMs: number, o: CoreOptions): boolean {
  const minSteps = o.minSteps ?? 5;
  const maxSteps = o.maxSteps ?? 50;
  if (round < minSteps) return false;
  return round >= maxSteps || elapsedMs >= (o.budgetMs ?? 3000);
}

function estimateRounds(firstRoundMs: number, o: CoreOptions): number {
  const minSteps = o.minSteps ?? 5;
  const maxSteps = o.maxSteps ?? 50;
  const fit = Math.ceil((o.budgetMs ?? 3000) / Math.max(firstRoundMs, 1e-3));
  return Math.min(maxSteps, Math.max(minSteps, fit));
}

function toRow(
  config: BenchConfig,
  backend: string,
  warmup: number,
  t: Tracked,
  before: tf.MemoryInfo,
  after: tf.MemoryInfo,
): ResultRow {
  const summary = summarizeTimes(t.times);
  const runs = t.factory.runs ?? 1;
  const flop = runs * stepFlops(config, { omega: t.factory.method === 'SGD-CR' });
  const leaked = t.leftBehind;
  const problems: string[] = [];
  if (leaked !== 0) problems.push(`left ${leaked} tensor(s) behind after dispose`);
  if (t.growth !== 0) problems.push(`gained ${t.growth} tensor(s) over ${summary.steps} timed steps`);
  if (!t.losses.every(Number.isFinite)) problems.push('non-finite loss');
  return {
    config: config.name,
    backend,
    impl: t.factory.impl,
    method: t.factory.method,
    runs,
    ...summary,
    updates_per_s: runs * summary.steps_per_s,
    warmup,
    ms_first: t.msFirst,
    flop,
    gflops: gflopsPerSecond(flop, summary.ms_median),
    losses: t.losses,
    ms_steps: t.times,
    tensors_before: before.numTensors,
    tensors_after: after.numTensors,
    bytes_before: before.numBytes,
    bytes_after: after.numBytes,
    tensors_in_use: t.heldTensors,
    bytes_in_use: t.heldBytes,
    tensors_growth: t.growth,
    tensors_leaked: leaked,
    dispatches_per_step: t.dispatches,
    ok: problems.length === 0,
    ...(problems.length > 0 ? { problems } : {}),
  };
}
