/**
 * One training run on a synthetic task (paper section 5-6): the paper's RNN, plain SGD, SGD with
 * norm clipping (SGD-C) or clipping plus Ω (SGD-CR); checks on fresh sequences (a new draw at
 * each check, as the authors' code does, from a stream of its own); success when the error on
 * 10,000 fresh sequences is under 1%. Checkpoints everything a resume needs: weights, the training
 * and check streams' RNG states, the clipping plugins' state, the step, the trace.
 */
import type { BatchArrays, SyntheticTask, TaskName } from '@cliffguard/datasets';
import type { Batch, OmegaVariant, PaperMethodOptions, RnnModel, StepRecord } from '@cliffguard/rnn';
import { Interrupted, type RunContext } from '../core/types.js';
import { pickImplementation } from './implementations.js';
import {
  addStep,
  binContributions,
  closeWindow,
  emptyWindow,
  type TracePoint,
  thin,
  type WindowStats,
} from './trace.js';
import { makeTrainer } from './trainer.js';
import { loadWeights, type SavedWeights, saveWeights } from './weights.js';

export type Method = 'SGD' | 'SGD-C' | 'SGD-CR';
export const METHODS: readonly Method[] = ['SGD', 'SGD-C', 'SGD-CR'];
export type PaperInit = 'sigmoid' | 'basic-tanh' | 'smart-tanh';
export const INITS: readonly PaperInit[] = ['sigmoid', 'basic-tanh', 'smart-tanh'];

export interface SyntheticRunConfig extends Record<string, unknown> {
  task: TaskName;
  method: Method;
  init: PaperInit;
  hidden: number;
  batch: number;
  lr: number;
  /** clipping threshold (SGD-C, SGD-CR) */
  clip: number;
  /** Ω weight (SGD-CR) */
  alpha: number;
  /** Ω as in the ICML text ('paper': sum over time) or the authors' code ('code': mean over time and batch) */
  omega: 'paper' | 'code';
  minLength: number;
  maxLength: number;
  maxUpdates: number;
  /**
   * When the run checks itself on `checkSize` fresh sequences: every N updates, or 'p%' (the next
   * check after max(checkFloor, ⌈p% of the update count⌉) more updates). Older results: a number.
   */
  checkEvery: CheckEvery;
  /** the fewest updates between two checks of a relative schedule (absent in older results) */
  checkFloor?: number;
  checkSize: number;
  /** the success test: this many fresh sequences (paper: 10,000) in chunks of 1,000 */
  evalSize: number;
  /** updates per trace window (the trace keeps at most 120 windows, merging as it grows) */
  traceEvery: number;
  /** lengths at which the final model is also tested (generalize) */
  testLengths?: number[];
  /** sequences per test length (paper: 10,000) */
  testSize?: number;
}

/** Every N updates, or a relative schedule 'p%' (0 < p ≤ 100). */
export type CheckEvery = number | `${number}%`;

/** The default check schedule: the update of success is known to within 5% of its value. */
export const DEFAULT_CHECK_EVERY: CheckEvery = '5%';

/** The fewest updates between two checks of a relative schedule. */
export function checkFloorOf(paperProfile: boolean): number {
  return paperProfile ? 50 : 25;
}

/** Updates from a check at update `at` to the next: N, or max(floor, ⌈p·at⌉). */
export function checkGap(every: CheckEvery, floor: number, at: number): number {
  if (typeof every === 'number') return every;
  const percent = Number(every.slice(0, -1));
  // the tolerance keeps whole values whole (1.1% of 3,000 is 33.00000000000001 in floating point)
  return Math.max(floor, Math.ceil((percent * at) / 100 - 1e-9));
}

/** The first check after update `step` (checks start from update 0, which is not one). */
export function nextCheckAfter(every: CheckEvery, floor: number, step: number): number {
  if (typeof every === 'number') return (Math.floor(step / every) + 1) * every;
  let at = 0;
  while (at <= step) at += checkGap(every, floor, at);
  return at;
}

/**
 * The ratio ‖α·∂Ω/∂W_rec‖ / ‖∂E/∂θ‖ on one minibatch: the size of SGD-CR's Ω term against the
 * task-loss gradient over all parameters (global norm), both from the same forward and backward
 * pass (δ_t and h_t kept). Null when the task gradient is zero or either norm is not finite.
 */
export async function omegaRatio(
  model: RnnModel,
  batch: Batch,
  omega: { variant: OmegaVariant; alpha: number },
): Promise<number | null> {
  const tf = await import('@tensorflow/tfjs-core');
  const rnn = await import('@cliffguard/rnn');
  const r = model.lossAndGradients(batch, { keepDeltas: true, keepStates: true });
  try {
    const norms = tf.tidy(() => {
      const omegaGrad = rnn.omegaAndGradient(model.variables.W_rec, r.deltas!, r.states!, {
        activation: model.config.activation,
        variant: omega.variant,
      }).grad;
      const squares = Object.values<import('@tensorflow/tfjs-core').Tensor>(r.grads).map((g) =>
        tf.sum(tf.square(g)),
      );
      return tf.stack([tf.norm(tf.mul(omegaGrad, omega.alpha)), tf.sqrt(tf.addN(squares))]);
    });
    const [term, task] = await norms.data();
    norms.dispose();
    const ratio = term / task;
    return Number.isFinite(ratio) ? ratio : null;
  } finally {
    tf.dispose([r.loss, ...Object.values(r.grads), r.lastState, r.deltas!, r.states!]);
  }
}

/**
 * One SGD-CR run of a synthetic task with the paper's settings (50 hidden, minibatch 20, SGD lr
 * 0.01, clip 1), checked and traced at the cadence of its profile.
 */
export function sgdCrRunConfig(run: {
  task: TaskName;
  init: PaperInit;
  alpha: number;
  omega: 'paper' | 'code';
  minLength: number;
  maxLength: number;
  maxUpdates: number;
  evalSize: number;
  paperProfile: boolean;
  /** default {@link DEFAULT_CHECK_EVERY} */
  checkEvery?: CheckEvery;
}): SyntheticRunConfig {
  const { maxUpdates, evalSize, paperProfile } = run;
  return {
    task: run.task,
    method: 'SGD-CR',
    init: run.init,
    hidden: 50,
    batch: 20,
    lr: 0.01,
    clip: 1,
    alpha: run.alpha,
    omega: run.omega,
    minLength: run.minLength,
    maxLength: run.maxLength,
    maxUpdates,
    checkEvery: run.checkEvery ?? DEFAULT_CHECK_EVERY,
    checkFloor: checkFloorOf(paperProfile),
    checkSize: Math.min(1000, evalSize),
    evalSize,
    traceEvery: Math.max(5, Math.min(paperProfile ? 5000 : 50, Math.floor(maxUpdates / 20))),
  };
}

export interface SyntheticRunResult extends Record<string, unknown> {
  success: boolean;
  /** updates done (at success, or all of them) */
  updates: number;
  /** error rate on the evalSize fresh sequences at the end */
  finalError: number;
  diverged: boolean;
  /** clipped updates / updates taken */
  clippedFraction: number;
  /** the check schedule used (as config.checkEvery) and its floor */
  checkEvery?: CheckEvery;
  checkFloor?: number;
  /** checks run (each on `checkSize` fresh sequences) */
  checks?: number;
  /**
   * SGD-CR: ‖α·∂Ω/∂W_rec‖ / ‖∂E/∂θ‖ at the first update (before training, on its minibatch);
   * null when not finite
   */
  omegaRatio?: number | null;
  /** error at each test length, when asked */
  testErrors?: { length: number; error: number; wrong: number; total: number }[];
  implementation: string;
  /**
   * how updates were taken: 'ensemble' (a one-run fused ensemble, one kernel call each),
   * 'trainStep' (the model engine) or 'batched' (a slot of an R-run trainer, `--ensemble R`)
   */
  trainer?: RunWeights['kind'];
  /** 'batched': the slots of the trainer the run was trained in (its group's R) */
  batched?: number;
  trace: TracePoint[];
}

interface SyntheticState {
  weights: SavedWeights;
  task: unknown;
  optimizer: unknown;
  window: WindowStats;
  trace: TracePoint[];
  traceEvery: number;
  clippedTotal: number;
  lastCheck: number | null;
  /** the check stream's state and the checks run (absent in older checkpoints) */
  checkStream?: unknown;
  checks?: number;
  omegaRatio?: number | null;
}

const TRACE_LIMIT = 120;

/**
 * Where a run's updates happen, seen from the run: its own trainer (`makeTrainer`) or a slot of a
 * batched one. The run's model is what is evaluated, probed and checkpointed; these move the
 * training weights into it and back.
 */
export interface RunWeights {
  /** result.trainer */
  readonly kind: 'ensemble' | 'trainStep' | 'batched';
  /** result.batched: the slots of the batched trainer */
  readonly slots?: number;
  /** Copies the training weights into the run's model. */
  toModel(): Promise<void>;
  /** Takes the model's weights as the training weights. */
  fromModel(): Promise<void>;
  /** The optimizer's state for a checkpoint (null when it has none). */
  optimizerState(): Promise<unknown>;
  setOptimizerState(state: unknown): Promise<void>;
}

/** The run's RNN: the task's sizes and head, sigmoid units for the sigmoid init, else tanh. */
/** A run's units: sigmoid for the sigmoid init, tanh for the tanh inits (the paper's pairing). */
export function unitsOf(config: Pick<SyntheticRunConfig, 'init'>): 'sigmoid' | 'tanh' {
  return config.init === 'sigmoid' ? 'sigmoid' : 'tanh';
}

export function syntheticRnnConfig(
  config: SyntheticRunConfig,
  task: Pick<SyntheticTask, 'inputSize' | 'outputSize' | 'head'>,
) {
  return {
    inputSize: task.inputSize,
    hiddenSize: config.hidden,
    outputSize: task.outputSize,
    activation: unitsOf(config),
    head: task.head,
  } as const;
}

type Libraries = {
  tf: typeof import('@tensorflow/tfjs-core');
  rnn: typeof import('@cliffguard/rnn');
  data: typeof import('@cliffguard/datasets');
};

const libraries = async (): Promise<Libraries> => ({
  tf: await import('@tensorflow/tfjs-core'),
  rnn: await import('@cliffguard/rnn'),
  data: await import('@cliffguard/datasets'),
});

/**
 * One synthetic run's state and bookkeeping, whoever takes its updates: its streams (training
 * batches, checks, the probe), its model, the counters, the trace and its checkpoints. A driver
 * opens it, attaches it to its training weights, then per update: `nextBatch()`, `beforeStep()`,
 * one update on that batch (at update number `step`), `afterStep(record)`; until `ended`, then
 * `result()`. `runSynthetic` drives one run with its own trainer; `trainSyntheticBatched`
 * (train-synthetic-batched.ts) drives R runs through one batched trainer, so both record the same
 * run the same way.
 */
export class SyntheticRun {
  private updates = 0;
  private weights?: RunWeights;
  private window = emptyWindow();
  private trace: TracePoint[] = [];
  private traceEvery: number;
  private clippedTotal = 0;
  private lastCheck: number | null = null;
  private checks = 0;
  private firstRatio: number | null | undefined;
  private nextCheck = 0;
  private success = false;
  private diverged = false;
  /** the success test's outcome, when a check led to one that passed */
  private final: { rate: number } | undefined;

  private constructor(
    readonly config: SyntheticRunConfig,
    readonly seed: number,
    private readonly ctx: RunContext,
    private readonly lib: Libraries,
    private readonly task: SyntheticTask,
    /** what is evaluated, probed and saved (it holds the training weights after toModel) */
    readonly model: RnnModel,
    readonly implementation: string,
    /** the checks' own stream, independent of the training stream: each check draws fresh sequences */
    private readonly checkStream: SyntheticTask,
    /** a fixed probe for the temporal contributions */
    private readonly probe: Batch,
  ) {
    this.traceEvery = config.traceEvery;
  }

  /** The run's streams and its model (weights as createRnn draws them for its init and seed). */
  static async open(config: SyntheticRunConfig, seed: number, ctx: RunContext): Promise<SyntheticRun> {
    const lib = await libraries();
    const task = lib.data.createTask(config.task, {
      seed: seed * 1000 + 7,
      minLength: config.minLength,
      maxLength: config.maxLength,
    });
    const rnnConfig = syntheticRnnConfig(config, task);
    const implementation = await pickImplementation(rnnConfig, ctx.backend);
    const model = lib.rnn.createRnn({ ...rnnConfig, init: config.init, seed, implementation });
    try {
      const checkStream = task.withSeed(seed * 1000 + 11);
      const probe = task.withSeed(seed * 1000 + 13).generate(config.batch, config.maxLength);
      return new SyntheticRun(config, seed, ctx, lib, task, model, implementation, checkStream, probe);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  /** SGD, SGD-C or SGD-CR with the run's settings, as paperMethod takes them. */
  get method(): { name: Method; options: PaperMethodOptions } {
    const c = this.config;
    return {
      name: c.method,
      options: { learningRate: c.lr, maxNorm: c.clip, alpha: c.alpha, omegaVariant: c.omega },
    };
  }

  /** Updates taken (the update number of the next one, which α schedules read). */
  get step(): number {
    return this.updates;
  }

  private get checkFloor(): number {
    return this.config.checkFloor ?? checkFloorOf(true);
  }

  /** Success, divergence or the update cap. */
  get ended(): boolean {
    return this.success || this.diverged || this.step >= this.config.maxUpdates;
  }

  /**
   * Trains on `weights` from now on: they take the model's weights (as drawn, or the
   * checkpoint's when the run resumes, with its streams, counters and trace).
   */
  async attach(weights: RunWeights): Promise<void> {
    this.weights = weights;
    const resumed = this.ctx.resume<SyntheticState>();
    if (resumed) this.model.setWeights(loadWeights(resumed.state.weights));
    await weights.fromModel();
    if (resumed) await this.restore(resumed.step, resumed.state, weights);
    this.nextCheck = nextCheckAfter(this.config.checkEvery, this.checkFloor, this.step);
  }

  private async restore(step: number, s: SyntheticState, weights: RunWeights): Promise<void> {
    this.task.setState(s.task as Parameters<SyntheticTask['setState']>[0]);
    await weights.setOptimizerState(s.optimizer);
    this.updates = step;
    this.window = s.window;
    this.trace = s.trace;
    this.traceEvery = s.traceEvery;
    this.clippedTotal = s.clippedTotal;
    this.lastCheck = s.lastCheck;
    if (s.checkStream !== undefined)
      this.checkStream.setState(s.checkStream as Parameters<SyntheticTask['setState']>[0]);
    this.checks = s.checks ?? 0;
    this.firstRatio = s.omegaRatio;
  }

  /** The next training minibatch from the run's own stream. */
  nextBatch(): BatchArrays {
    return this.task.nextBatchArrays(this.config.batch);
  }

  /**
   * Before an update on `batch`: at the run's first, SGD-CR's ‖α∇Ω‖ / ‖∇E‖ on that minibatch, with
   * the starting weights (which the model holds: attach gave them to the trainer).
   */
  async beforeStep(batch: BatchArrays): Promise<void> {
    if (this.step !== 0 || this.config.method !== 'SGD-CR' || this.firstRatio !== undefined) return;
    const tensors = this.lib.data.toTensors(batch);
    try {
      this.firstRatio = await omegaRatio(this.model, tensors, {
        variant: this.config.omega,
        alpha: this.config.alpha,
      });
    } finally {
      this.lib.tf.dispose([tensors.inputs, tensors.targets]);
    }
  }

  /**
   * After an update (`record` is this run's): the counters, then what is due (a check, which may
   * end in the success test; a trace window; progress; a checkpoint). Returns `ended`. Throws
   * `Interrupted` after checkpointing when a stop was requested.
   */
  async afterStep(record: StepRecord): Promise<boolean> {
    const c = this.config;
    this.updates += 1;
    addStep(this.window, record);
    if (record.clipped) this.clippedTotal += 1;
    if (!Number.isFinite(record.loss)) this.diverged = true;

    const last = this.step === c.maxUpdates || this.diverged;
    const checkDue = this.step >= this.nextCheck || last;
    const traceDue = this.step % this.traceEvery === 0 || last;
    const checkpointDue = this.ctx.checkpointDue() && !this.diverged && this.step < c.maxUpdates;
    // the model is what is evaluated, probed and saved
    if (checkDue || traceDue || checkpointDue) await this.training().toModel();
    if (checkDue) await this.check();
    if (traceDue || this.success) await this.closeTraceWindow(checkDue);
    this.ctx.progress({
      step: this.step,
      total: c.maxUpdates,
      loss: record.loss,
      accuracy: this.lastCheck === null ? undefined : 1 - this.lastCheck,
      gradNorm: record.norm,
    });
    if (checkpointDue && !this.success) {
      this.ctx.checkpoint(this.step, await this.saveState());
      if (this.ctx.stopRequested()) throw new Interrupted();
    }
    return this.ended;
  }

  /** A check on fresh sequences; under 1% wrong, the paper's test on evalSize more decides success. */
  private async check(): Promise<void> {
    const c = this.config;
    this.lastCheck = (await this.evaluate(this.fresh(c.checkSize))).rate;
    this.checks += 1;
    this.nextCheck = nextCheckAfter(c.checkEvery, this.checkFloor, this.step);
    if (this.lastCheck >= 0.01) return;
    const full = await this.evaluate(this.fresh(c.evalSize));
    if (full.rate < 0.01) {
      this.success = true;
      this.final = full;
    }
  }

  /** Ends the trace window at this update: ρ(W_rec), the temporal contributions, the check's error. */
  private async closeTraceWindow(checked: boolean): Promise<void> {
    const W = this.model.variables.W_rec;
    const rho = this.lib.rnn.spectralRadius({ values: await W.data(), shape: W.shape });
    const contributions = binContributions(await this.lib.rnn.temporalContributions(this.model, this.probe));
    this.trace.push(closeWindow(this.window, this.step, rho, contributions, checked ? this.lastCheck : null));
    this.window = emptyWindow();
    if (this.trace.length > TRACE_LIMIT) {
      this.trace = thin(this.trace);
      this.traceEvery *= 2;
    }
  }

  /** The final test (unless the success test already decided), the test lengths, the record. */
  async result(): Promise<SyntheticRunResult> {
    const c = this.config;
    const weights = this.training();
    await weights.toModel();
    this.final ??= await this.evaluate(this.fresh(c.evalSize));
    const testErrors = c.testLengths ? await this.testAtLengths(c.testLengths) : undefined;
    return {
      success: this.final.rate < 0.01,
      updates: this.step,
      finalError: this.final.rate,
      diverged: this.diverged,
      clippedFraction: this.step ? this.clippedTotal / this.step : 0,
      checkEvery: c.checkEvery,
      checkFloor: this.checkFloor,
      checks: this.checks,
      ...(c.method === 'SGD-CR' ? { omegaRatio: this.firstRatio ?? null } : {}),
      testErrors,
      implementation: this.implementation,
      trainer: weights.kind,
      ...(weights.slots !== undefined ? { batched: weights.slots } : {}),
      trace: this.trace,
    };
  }

  private async testAtLengths(lengths: number[]): Promise<NonNullable<SyntheticRunResult['testErrors']>> {
    const c = this.config;
    const testErrors = [];
    for (const length of lengths) {
      const size = c.testSize ?? c.evalSize;
      // chunks of at most ~200k time steps keep the states of one forward pass small
      const chunk = Math.max(1, Math.min(1000, Math.floor(200_000 / length)));
      const e = await this.evaluate(
        this.lib.data
          .buildEvalSet(this.task, {
            size,
            chunkSize: Math.min(size, chunk),
            length,
            seed: this.seed * 1000 + 19 + length,
          })
          .chunks(),
      );
      testErrors.push({ length, error: e.rate, wrong: e.wrong, total: e.total });
      this.ctx.progress({
        step: this.step,
        total: c.maxUpdates,
        note: `tested L=${length}: ${e.wrong}/${e.total} wrong`,
      });
    }
    return testErrors;
  }

  /** `size` fresh sequences from the check stream, in chunks of at most 1,000 (each its own L). */
  private fresh(size: number): Generator<BatchArrays> {
    return freshChunks(this.checkStream, size);
  }

  /**
   * The model's error on `chunks`. The eval set's own evaluate() reads outputs synchronously;
   * they are read asynchronously here so that backends without synchronous reads (webgpu in
   * Node) work too.
   */
  private async evaluate(
    chunks: Iterable<BatchArrays>,
  ): Promise<{ wrong: number; total: number; rate: number }> {
    const { tf, data } = this.lib;
    let wrong = 0;
    let total = 0;
    for (const chunk of chunks) {
      const { inputs, targets } = data.toTensors(chunk);
      const r = this.model.forward(inputs);
      r.states.dispose();
      const values = await r.outputs.data();
      tf.dispose([inputs, targets, r.outputs]);
      const e = data.taskError(this.task, values, chunk);
      wrong += e.wrong;
      total += e.total;
    }
    return { wrong, total, rate: total ? wrong / total : 0 };
  }

  private async saveState(): Promise<SyntheticState> {
    const weights = this.training();
    return {
      weights: saveWeights(await this.model.getWeights()),
      task: this.task.getState(),
      optimizer: await weights.optimizerState(),
      window: this.window,
      trace: this.trace,
      traceEvery: this.traceEvery,
      clippedTotal: this.clippedTotal,
      lastCheck: this.lastCheck,
      checkStream: this.checkStream.getState(),
      checks: this.checks,
      omegaRatio: this.firstRatio,
    };
  }

  private training(): RunWeights {
    if (!this.weights) throw new Error('SyntheticRun: attach() it to its training weights first');
    return this.weights;
  }

  dispose(): void {
    this.lib.tf.dispose([this.probe.inputs, this.probe.targets]);
    this.model.dispose();
  }
}

/**
 * One run with its own trainer: SGD, SGD-C or SGD-CR with the authors' safeguard when clipping, as
 * a one-run fused ensemble (one kernel call an update) where it can, else trainStep with
 * paperMethod's optimizer.
 */
export async function runSynthetic(
  config: SyntheticRunConfig,
  seed: number,
  ctx: RunContext,
): Promise<SyntheticRunResult> {
  const { tf, data } = await libraries();
  const run = await SyntheticRun.open(config, seed, ctx);
  try {
    const trainer = await makeTrainer({
      model: run.model,
      method: run.method.name,
      options: run.method.options,
      implementation: run.implementation,
      backend: ctx.backend,
    });
    try {
      await run.attach(trainer);
      while (!run.ended) {
        const arrays = run.nextBatch();
        await run.beforeStep(arrays);
        const batch = data.toTensors(arrays);
        let record: StepRecord;
        try {
          record = await trainer.step(batch, run.step);
        } finally {
          tf.dispose([batch.inputs, batch.targets]);
        }
        await run.afterStep(record);
      }
      return await run.result();
    } finally {
      trainer.dispose();
    }
  } finally {
    run.dispose();
  }
}

/** `size` sequences drawn now from `stream`, in chunks of at most 1,000, each chunk its own L. */
export function* freshChunks(
  stream: { nextBatchArrays(n: number): BatchArrays },
  size: number,
): Generator<BatchArrays> {
  for (let done = 0; done < size; done += 1000) yield stream.nextBatchArrays(Math.min(1000, size - done));
}
