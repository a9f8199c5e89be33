/**
 * One training run on a synthetic task (paper section 5-6): the paper's RNN, plain SGD, SGD with
 * norm clipping (SGD-C) or clipping plus Ω (SGD-CR); checks on fresh sequences (a new draw at
 * each check, as the authors' code does, from a stream of its own); success when the error on
 * 10,000 fresh sequences is under 1%. Checkpoints everything a resume needs: weights, the training
 * and check streams' RNG states, the clipping plugins' state, the step, the trace.
 */
import type { BatchArrays, TaskName } from '@cliffguard/datasets';
import type { Batch, OmegaVariant, RnnModel } from '@cliffguard/rnn';
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
  /** how updates were taken: 'ensemble' (a one-run fused ensemble, one kernel call each) or 'trainStep' */
  trainer?: 'ensemble' | 'trainStep';
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

export async function runSynthetic(
  config: SyntheticRunConfig,
  seed: number,
  ctx: RunContext,
): Promise<SyntheticRunResult> {
  const tf = await import('@tensorflow/tfjs-core');
  const rnn = await import('@cliffguard/rnn');
  const data = await import('@cliffguard/datasets');

  const task = data.createTask(config.task, {
    seed: seed * 1000 + 7,
    minLength: config.minLength,
    maxLength: config.maxLength,
  });
  const activation = config.init === 'sigmoid' ? 'sigmoid' : 'tanh';
  const rnnConfig = {
    inputSize: task.inputSize,
    hiddenSize: config.hidden,
    outputSize: task.outputSize,
    activation,
    head: task.head,
  } as const;
  const implementation = await pickImplementation(rnnConfig, ctx.backend);
  // everything made from here on is disposed on the way out, a throw (a bad checkpoint) included
  const owned: { dispose(): void }[] = [];
  try {
    const model = rnn.createRnn({ ...rnnConfig, init: config.init, seed, implementation });
    owned.push(model);
    // SGD, SGD-C or SGD-CR with the authors' safeguard when clipping: a one-run fused ensemble
    // (one kernel call an update) where it can, else trainStep with paperMethod's optimizer
    const trainer = await makeTrainer({
      model,
      method: config.method,
      options: {
        learningRate: config.lr,
        maxNorm: config.clip,
        alpha: config.alpha,
        omegaVariant: config.omega,
      },
      implementation,
      backend: ctx.backend,
    });
    owned.push(trainer);
    // the checks' own stream, independent of the training stream: each check draws fresh sequences
    const checkStream = task.withSeed(seed * 1000 + 11);
    // a fixed probe for the temporal contributions
    const probe = task.withSeed(seed * 1000 + 13).generate(config.batch, config.maxLength);
    owned.push({ dispose: () => tf.dispose([probe.inputs, probe.targets]) });

    let step = 0;
    let window = emptyWindow();
    let trace: TracePoint[] = [];
    let traceEvery = config.traceEvery;
    let clippedTotal = 0;
    let lastCheck: number | null = null;
    let checks = 0;
    let firstRatio: number | null | undefined;
    const resumed = ctx.resume<SyntheticState>();
    if (resumed) {
      const s = resumed.state;
      model.setWeights(loadWeights(s.weights));
      await trainer.fromModel();
      task.setState(s.task as Parameters<typeof task.setState>[0]);
      await trainer.setOptimizerState(s.optimizer);
      step = resumed.step;
      window = s.window;
      trace = s.trace;
      traceEvery = s.traceEvery;
      clippedTotal = s.clippedTotal;
      lastCheck = s.lastCheck;
      if (s.checkStream !== undefined)
        checkStream.setState(s.checkStream as Parameters<typeof checkStream.setState>[0]);
      checks = s.checks ?? 0;
      firstRatio = s.omegaRatio;
    }
    const checkFloor = config.checkFloor ?? checkFloorOf(true);
    let nextCheck = nextCheckAfter(config.checkEvery, checkFloor, step);

    const predict = (inputs: import('@tensorflow/tfjs-core').Tensor3D) => {
      const r = model.forward(inputs);
      r.states.dispose();
      return r.outputs;
    };
    // the eval set's own evaluate() reads outputs synchronously; read them asynchronously so that
    // backends without synchronous reads (webgpu in Node) work too
    const evaluate = async (chunks: Iterable<BatchArrays>) => {
      let wrong = 0;
      let total = 0;
      for (const chunk of chunks) {
        const { inputs, targets } = data.toTensors(chunk);
        const outputs = predict(inputs);
        const values = await outputs.data();
        tf.dispose([inputs, targets, outputs]);
        const e = data.taskError(task, values, chunk);
        wrong += e.wrong;
        total += e.total;
      }
      return { wrong, total, rate: total ? wrong / total : 0 };
    };
    /** `size` fresh sequences from the check stream, in chunks of at most 1,000 (each its own L) */
    const fresh = (size: number) => freshChunks(checkStream, size);
    const rhoOf = async () => {
      const W = model.variables.W_rec;
      return rnn.spectralRadius({ values: await W.data(), shape: W.shape });
    };
    const saveState = async (): Promise<SyntheticState> => ({
      weights: saveWeights(await model.getWeights()),
      task: task.getState(),
      optimizer: await trainer.optimizerState(),
      window,
      trace,
      traceEvery,
      clippedTotal,
      lastCheck,
      checkStream: checkStream.getState(),
      checks,
      omegaRatio: firstRatio,
    });

    let success = false;
    let diverged = false;
    let final: { rate: number } | undefined;
    while (step < config.maxUpdates && !success && !diverged) {
      const batch = task.nextBatch(config.batch);
      let record: Awaited<ReturnType<typeof rnn.trainStep>>;
      try {
        if (step === 0 && config.method === 'SGD-CR' && firstRatio === undefined) {
          // the model holds the trainer's starting weights
          firstRatio = await omegaRatio(model, batch, { variant: config.omega, alpha: config.alpha });
        }
        record = await trainer.step(batch, step);
      } finally {
        tf.dispose([batch.inputs, batch.targets]);
      }
      step += 1;
      addStep(window, record);
      if (record.clipped) clippedTotal += 1;
      if (!Number.isFinite(record.loss)) diverged = true;

      const checkDue = step >= nextCheck || step === config.maxUpdates || diverged;
      const traceDue = step % traceEvery === 0 || step === config.maxUpdates || diverged;
      const checkpointDue = ctx.checkpointDue() && !diverged && step < config.maxUpdates;
      // the model is what is evaluated, probed and saved
      if (checkDue || traceDue || checkpointDue) await trainer.toModel();
      let checked = false;
      if (checkDue) {
        lastCheck = (await evaluate(fresh(config.checkSize))).rate;
        checks += 1;
        checked = true;
        nextCheck = nextCheckAfter(config.checkEvery, checkFloor, step);
        if (lastCheck < 0.01) {
          // a candidate: the paper's test on evalSize further fresh sequences decides
          const full = await evaluate(fresh(config.evalSize));
          if (full.rate < 0.01) {
            success = true;
            final = full;
          }
        }
      }
      if (traceDue || success) {
        const rho = await rhoOf();
        const contributions = binContributions(await rnn.temporalContributions(model, probe));
        trace.push(closeWindow(window, step, rho, contributions, checked ? lastCheck : null));
        window = emptyWindow();
        if (trace.length > TRACE_LIMIT) {
          trace = thin(trace);
          traceEvery *= 2;
        }
      }
      ctx.progress({
        step,
        total: config.maxUpdates,
        loss: record.loss,
        accuracy: lastCheck === null ? undefined : 1 - lastCheck,
        gradNorm: record.norm,
      });
      if (checkpointDue && !success) {
        ctx.checkpoint(step, await saveState());
        if (ctx.stopRequested()) throw new Interrupted();
      }
    }
    await trainer.toModel();
    final ??= await evaluate(fresh(config.evalSize));
    let testErrors: SyntheticRunResult['testErrors'];
    if (config.testLengths) {
      testErrors = [];
      for (const length of config.testLengths) {
        const size = config.testSize ?? config.evalSize;
        // chunks of at most ~200k time steps keep the states of one forward pass small
        const chunk = Math.max(1, Math.min(1000, Math.floor(200_000 / length)));
        const e = await evaluate(
          data
            .buildEvalSet(task, {
              size,
              chunkSize: Math.min(size, chunk),
              length,
              seed: seed * 1000 + 19 + length,
            })
            .chunks(),
        );
        testErrors.push({ length, error: e.rate, wrong: e.wrong, total: e.total });
        ctx.progress({
          step,
          total: config.maxUpdates,
          note: `tested L=${length}: ${e.wrong}/${e.total} wrong`,
        });
      }
    }
    return {
      success: final.rate < 0.01,
      updates: step,
      finalError: final.rate,
      diverged,
      clippedFraction: step ? clippedTotal / step : 0,
      checkEvery: config.checkEvery,
      checkFloor,
      checks,
      ...(config.method === 'SGD-CR' ? { omegaRatio: firstRatio ?? null } : {}),
      testErrors,
      implementation,
      trainer: trainer.kind,
      trace,
    };
  } finally {
    for (const x of owned.reverse()) x.dispose();
  }
}

/** `size` sequences drawn now from `stream`, in chunks of at most 1,000, each chunk its own L. */
export function* freshChunks(
  stream: { nextBatchArrays(n: number): BatchArrays },
  size: number,
): Generator<BatchArrays> {
  for (let done = 0; done < size; done += 1000) yield stream.nextBatchArrays(Math.min(1000, size - done));
}
