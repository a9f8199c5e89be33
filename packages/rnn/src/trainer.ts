/**
 * The one training API: `createTrainer({ model | members, method, implementation })`.
 *
 * A trainer takes updates of R runs (R = 1 for a model) with a {@link TrainingMethod} each — a
 * chain of @cliffguard/clip transforms in front of an inner optimizer, a learning rate and Ω —
 * and picks how a step is computed (its `engine`):
 *
 * - 'model': one model trained in place (`{ model, method }`): the model's implementation gives
 *   loss and gradients, the method's optimizer (its chain + inner optimizer) updates the weights.
 *   `trainStep` is this engine in one line.
 * - 'compiled': R runs of the paper's RNN whose methods are all the paper's chain (SGD, SGD-C,
 *   SGD-CR, recognised by `compilePaperMethod` whoever built them): their weights stacked along a
 *   leading axis and the whole update inside the implementation's batched step (one fused
 *   kernel call on cpu and wasm, the reference's stacked ops elsewhere).
 * - 'op-by-op': R runs with any chain (AutoClip, AGC, Adam as the inner optimizer, ...): the same
 *   stacked weights, each run stepped by the 'model' engine on a model that views its slice, with
 *   an optimizer of its own. Works on every backend the implementation supports.
 *
 * Every engine keeps its weights stacked in the same variables, so `getState`/`setState`, the
 * records and `toModel` are the same whichever runs the steps.
 */
import { ChainedOptimizer, type ChainedOptimizerState } from '@cliffguard/clip';
import * as tf from '@tensorflow/tfjs-core';
import {
  createEnsemble,
  type Ensemble,
  type EnsembleMemberOptions,
  type EnsembleStepRecord,
  memberRecord,
  stackedBatch,
  stackedOf,
} from './ensemble.js';
import { PARAM_NAMES, type StackedBatch, type TrainableImplementation } from './ensemble-step.js';
import type { Activation, Batch, Head, ParamName } from './implementation.js';
import type { InitName, SmartTanhOptions } from './init.js';
import type { RecurrentModel, Weights } from './model.js';
import { modelUpdate, type StepRecord, type TrainStepOptions } from './model-update.js';
import {
  checkMethod,
  compilePaperMethod,
  methodOptimizer,
  type PaperMethodSettings,
  type TrainingMethod,
} from './paper-method.js';
import { resolveImplementation } from './registry.js';
import { createRnn, type RnnModel } from './rnn.js';

/** One run of a members trainer: its method (or the trainer's) and how its weights are drawn. */
export interface TrainerMember {
  /** default: the trainer's `method` */
  method?: TrainingMethod;
  /** default: 'sigmoid' for sigmoid units, else 'smart-tanh' (as createRnn) */
  init?: InitName;
  /** integer seed of the initialisation; default 52 (as createRnn) */
  seed?: number;
  /** smart-tanh's non-zeros per unit and spectral radius (as createRnn) */
  smartTanh?: SmartTanhOptions;
}

/** How a trainer computes a step; see the file comment. */
export type TrainerEngine = 'model' | 'compiled' | 'op-by-op';

export interface CreateTrainerOptions {
  /** one model (RNN or LSTM), trained in place; give `method` too */
  model?: RecurrentModel;
  /** the model's method, or the default of members without their own */
  method?: TrainingMethod;
  /** R runs of the paper's RNN (each drawn as createRnn would with its init and seed) */
  members?: TrainerMember[];
  /** with members: the sizes, activation (default as createRnn) and head (default 'last-softmax') */
  inputSize?: number;
  hiddenSize?: number;
  outputSize?: number;
  activation?: Activation;
  head?: Head;
  /** with members: the variable-name prefix; default `ensemble_<n>` */
  name?: string;
  /** with members: a registered implementation's name or the object; default 'reference' */
  implementation?: string | TrainableImplementation;
  /**
   * with members: 'auto' (default: 'compiled' when every method is the paper's chain and the
   * implementation can step it on this backend, else 'op-by-op'), or one of them by name
   */
  engine?: 'auto' | 'compiled' | 'op-by-op';
}

/** What one step did, per run (index r is run r), as plain numbers. */
export type TrainerStepRecord = EnsembleStepRecord;

export interface TrainerStepOptions {
  /** the update number an α schedule is evaluated at; default the trainer's `iterations` */
  step?: number;
}

/** A run's optimizer state as plain data: its chain's state and its inner optimizer's weights. */
export interface RunOptimizerState {
  /** the chain's state and statistics; null for a bare inner optimizer (the empty chain) */
  chain: ChainedOptimizerState | null;
  inner: Array<{ name: string; shape: number[]; values: number[] }>;
}

/** A trainer's state as plain data (a checkpoint): weights per run, update count, optimizers. */
export interface TrainerState {
  version: 1;
  runs: number;
  iterations: number;
  /** run r's weights, in the format of `model.getWeights()` */
  weights: Weights[];
  /** each run's optimizer state; null where the engine holds none (compiled: plain SGD) */
  optimizers: RunOptimizerState[] | null;
}

export interface Trainer {
  /** R, the number of runs (1 for a model) */
  readonly size: number;
  /** updates taken so far */
  readonly iterations: number;
  readonly engine: TrainerEngine;
  readonly methods: readonly TrainingMethod[];
  /**
   * One update of every run. Members: inputs [R, B, T, I] (a stream per run) or [B, T, I] (seen
   * by every run); a model: its own batch.
   */
  step(batch: Batch | StackedBatch, options?: TrainerStepOptions): Promise<TrainerStepRecord>;
  /** Run r's weights as plain data (the format of `model.getWeights()`). */
  getWeights(r: number): Promise<Weights>;
  /** Replaces run r's weights; checks everything before writing. */
  setWeights(r: number, weights: Weights): void;
  /**
   * Run r as a model: for a model trainer the model itself; for members a new RnnModel with a
   * copy of run r's weights and its init and seed (yours to dispose).
   */
  toModel(r: number): RecurrentModel;
  getState(): Promise<TrainerState>;
  /** Restores what getState returned; checks everything before writing anything. */
  setState(state: TrainerState): Promise<void>;
  dispose(): void;
}

const STATE_VERSION = 1;

/** Not `instanceof`: tf.Optimizer's duck-typed check makes every optimizer pass it. */
function isChained(opt: tf.Optimizer): opt is ChainedOptimizer {
  return Object.prototype.isPrototypeOf.call(ChainedOptimizer.prototype, opt);
}

async function optimizerState(opt: tf.Optimizer): Promise<RunOptimizerState> {
  const inner = isChained(opt) ? opt.inner : opt;
  const weights = await inner.getWeights();
  const slots = await Promise.all(
    weights.map(async (w) => ({
      name: w.name,
      shape: [...w.tensor.shape],
      values: Array.from(await w.tensor.data()),
    })),
  );
  // getWeights hands out a fresh iteration scalar (built-in optimizers); the slots are variables
  tf.dispose(weights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  return { chain: isChained(opt) ? opt.getState() : null, inner: slots };
}

async function setOptimizerState(opt: tf.Optimizer, s: RunOptimizerState): Promise<void> {
  const weights = s.inner.map((w) => ({ name: w.name, tensor: tf.tensor(w.values, w.shape) }));
  try {
    await (isChained(opt) ? opt.inner : opt).setWeights(weights);
  } finally {
    tf.dispose(weights.map((w) => w.tensor));
  }
  if (isChained(opt) && s.chain) opt.setState(s.chain);
}

function assertRun(r: number, size: number, who: string): void {
  if (!(Number.isInteger(r) && r >= 0 && r < size)) {
    throw new RangeError(`${who}: run index must be an integer in [0, ${size - 1}], got ${String(r)}`);
  }
}

function checkStateHead(state: TrainerState, size: number): void {
  if (state == null || state.version !== STATE_VERSION) {
    throw new RangeError(
      `setState: expected a state of version ${STATE_VERSION} from getState(), got version ${String(state?.version)}`,
    );
  }
  if (state.runs !== size || !Array.isArray(state.weights) || state.weights.length !== size) {
    throw new RangeError(`setState: the state has ${String(state.runs)} runs; this trainer has ${size}`);
  }
  if (!(Number.isInteger(state.iterations) && state.iterations >= 0)) {
    throw new RangeError(`setState: iterations must be an integer ≥ 0, got ${String(state.iterations)}`);
  }
  if (state.optimizers != null && state.optimizers.length !== size) {
    throw new RangeError(`setState: ${state.optimizers.length} optimizer states for ${size} runs`);
  }
}

/** The 'model' engine: one model and one optimizer (owned when made from a method). */
class ModelTrainer implements Trainer {
  readonly size = 1;
  readonly engine = 'model';
  private updates = 0;

  constructor(
    private readonly model: RecurrentModel,
    private readonly optimizer: tf.Optimizer,
    readonly methods: readonly TrainingMethod[],
    private readonly options: Pick<TrainStepOptions, 'omega' | 'safeguard'>,
    /** made from a method (disposed and checkpointed here), not handed in by trainStep's caller */
    private readonly owned: boolean,
  ) {}

  get iterations(): number {
    return this.updates;
  }

  async step(batch: Batch, options: TrainerStepOptions = {}): Promise<TrainerStepRecord> {
    // trainStep's caller counts the steps (an α schedule without options.step is an error there)
    const step = options.step ?? (this.owned ? this.updates : undefined);
    const r = await modelUpdate(this.model, batch, this.optimizer, { ...this.options, step });
    this.updates += 1;
    return {
      loss: [r.loss],
      norm: [r.norm],
      omega: [r.omega],
      alpha: [r.alpha],
      clipped: [r.clipped],
      skipped: [r.skipped],
      safeguarded: [r.safeguarded],
    };
  }

  getWeights(r: number): Promise<Weights> {
    assertRun(r, 1, 'getWeights');
    return this.model.getWeights();
  }

  setWeights(r: number, weights: Weights): void {
    assertRun(r, 1, 'setWeights');
    this.model.setWeights(weights);
  }

  toModel(r: number): RecurrentModel {
    assertRun(r, 1, 'toModel');
    return this.model;
  }

  async getState(): Promise<TrainerState> {
    const opt = this.optimizer;
    return {
      version: STATE_VERSION,
      runs: 1,
      iterations: this.updates,
      weights: [await this.model.getWeights()],
      optimizers: this.owned ? [await optimizerState(opt)] : null,
    };
  }

  async setState(state: TrainerState): Promise<void> {
    checkStateHead(state, 1);
    this.model.setWeights(state.weights[0]);
    if (this.owned && state.optimizers) {
      await setOptimizerState(this.optimizer, state.optimizers[0]);
    }
    this.updates = state.iterations;
  }

  dispose(): void {
    if (this.owned) this.optimizer.dispose();
  }
}

/**
 * The 'compiled' and 'op-by-op' engines: R runs whose weights are an Ensemble's stacked
 * variables. Op by op, run r is a model of its own (`views[r]`) whose variables take run r's
 * slice before its step, and give it back after.
 */
class MembersTrainer implements Trainer {
  private updates = 0;
  private readonly views: RnnModel[] = [];
  private readonly optimizers: tf.Optimizer[] = [];

  constructor(
    private readonly ensemble: Ensemble,
    readonly methods: readonly TrainingMethod[],
    readonly engine: 'compiled' | 'op-by-op',
    private readonly implementation: TrainableImplementation,
  ) {
    if (engine === 'op-by-op') {
      try {
        ensemble.members.forEach((m, r) => {
          this.views.push(this.viewOf(r, m.init, m.seed));
          this.optimizers.push(methodOptimizer(methods[r], `createTrainer: members[${r}]`));
        });
      } catch (e) {
        this.dispose();
        throw e;
      }
    }
  }

  /** Run r as a model of its own: named `<trainer>/run<r>` for a view, uniquely for toModel. */
  private viewOf(r: number, init: InitName, seed: number, view = true): RnnModel {
    const c = this.ensemble.config;
    return createRnn({
      inputSize: c.inputSize,
      hiddenSize: c.hiddenSize,
      outputSize: c.outputSize,
      activation: c.activation,
      head: c.head,
      init,
      seed,
      implementation: this.implementation,
      name: view ? `${this.ensemble.variables.W_rec.name.replace(/\/W_rec$/, '')}/run${r}` : undefined,
    });
  }

  get size(): number {
    return this.ensemble.size;
  }

  get iterations(): number {
    return this.updates;
  }

  async step(batch: Batch | StackedBatch, options: TrainerStepOptions = {}): Promise<TrainerStepRecord> {
    const step = options.step ?? this.updates;
    const record =
      this.engine === 'compiled'
        ? await this.ensemble.step(batch, { step })
        : await this.stepOpByOp(batch, step);
    this.updates += 1;
    return record;
  }

  /** Each run through the model engine on its view, then every view's weights back into the stack. */
  private async stepOpByOp(batch: Batch | StackedBatch, step: number): Promise<TrainerStepRecord> {
    const stacked = tf.tidy(
      () => ({ ...stackedBatch(this.ensemble, batch) }) as unknown as tf.TensorContainer,
    ) as unknown as StackedBatch;
    // a per-run batch comes back as the caller's own tensors: only broadcast copies are ours
    const given = new Set<unknown>(Object.values(batch));
    const made = Object.values(stacked).filter((t) => !given.has(t)) as tf.Tensor[];
    const records: StepRecord[] = [];
    try {
      for (const [r, view] of this.views.entries()) {
        tf.tidy(() => {
          for (const k of PARAM_NAMES) view.variables[k].assign(this.slice(k, r));
        });
        const one = (t: tf.Tensor) => tf.squeeze(tf.slice(t, r, 1), [0]);
        const own = tf.tidy(() => ({
          inputs: one(stacked.inputs),
          targets: one(stacked.targets),
          ...(stacked.mask ? { mask: one(stacked.mask) } : {}),
        })) as Batch;
        try {
          records.push(
            await modelUpdate(view, own, this.optimizers[r], { omega: this.methods[r].omega, step }),
          );
        } finally {
          tf.dispose(Object.values(own) as tf.Tensor[]);
        }
      }
      tf.tidy(() => {
        for (const k of PARAM_NAMES) {
          this.ensemble.variables[k].assign(tf.stack(this.views.map((v) => v.variables[k])));
        }
      });
    } finally {
      tf.dispose(made);
    }
    const row = <K extends keyof StepRecord>(k: K) => records.map((x) => x[k]);
    return {
      loss: row('loss'),
      norm: row('norm'),
      omega: row('omega'),
      alpha: row('alpha'),
      clipped: row('clipped'),
      skipped: row('skipped'),
      safeguarded: row('safeguarded'),
    };
  }

  /** Run r's slice of stacked parameter k, shaped as one model's. */
  private slice(k: ParamName, r: number): tf.Tensor {
    const v = this.ensemble.variables[k];
    return tf.reshape(tf.slice(v, r, 1), v.shape.slice(1));
  }

  getWeights(r: number): Promise<Weights> {
    return this.ensemble.member(r);
  }

  setWeights(r: number, weights: Weights): void {
    this.ensemble.setMember(r, weights);
  }

  toModel(r: number): RnnModel {
    assertRun(r, this.size, 'toModel');
    const m = this.ensemble.members[r];
    const model = this.viewOf(r, m.init, m.seed, false);
    tf.tidy(() => {
      for (const k of PARAM_NAMES) model.variables[k].assign(this.slice(k, r));
    });
    return model;
  }

  async getState(): Promise<TrainerState> {
    const weights: Weights[] = [];
    for (let r = 0; r < this.size; r++) weights.push(await this.ensemble.member(r));
    return {
      version: STATE_VERSION,
      runs: this.size,
      iterations: this.updates,
      weights,
      optimizers:
        this.engine === 'op-by-op' ? await Promise.all(this.optimizers.map((o) => optimizerState(o))) : null,
    };
  }

  async setState(state: TrainerState): Promise<void> {
    checkStateHead(state, this.size);
    // setMember checks a run's weights before writing them; a bad later run puts the earlier back.
    const before = await this.getState();
    try {
      state.weights.forEach((w, r) => {
        this.ensemble.setMember(r, w);
      });
    } catch (e) {
      before.weights.forEach((w, r) => {
        this.ensemble.setMember(r, w);
      });
      throw e;
    }
    if (this.engine === 'op-by-op' && state.optimizers) {
      for (const [r, o] of this.optimizers.entries()) await setOptimizerState(o, state.optimizers[r]);
    }
    this.updates = state.iterations;
  }

  dispose(): void {
    for (const v of this.views) v.dispose();
    for (const o of this.optimizers) o.dispose();
    this.ensemble.dispose();
  }
}

/** Builds the ensemble member of a compiled paper method. */
function memberOptions(s: PaperMethodSettings, m: TrainerMember): EnsembleMemberOptions {
  return {
    method: s.name,
    learningRate: s.learningRate,
    maxNorm: s.maxNorm,
    alpha: s.alpha,
    omegaVariant: s.omegaVariant,
    safeguard: s.safeguard,
    init: m.init,
    seed: m.seed,
    smartTanh: m.smartTanh,
  };
}

function createMembersTrainer(options: CreateTrainerOptions): Trainer {
  const list = options.members;
  if (!Array.isArray(list) || list.length === 0) {
    throw new RangeError(`createTrainer: members must be a non-empty array, got ${String(list)}`);
  }
  const methods = list.map((m, r) => {
    const method = m?.method ?? options.method;
    checkMethod(method, `createTrainer: members[${r}]`);
    return method;
  });
  const compiled = methods.map(compilePaperMethod);
  const implementation = resolveImplementation(options.implementation);
  const wanted = options.engine ?? 'auto';
  if (!['auto', 'compiled', 'op-by-op'].includes(wanted)) {
    throw new RangeError(
      `createTrainer: engine must be 'auto', 'compiled' or 'op-by-op', got ${JSON.stringify(wanted)}`,
    );
  }
  const allPaper = compiled.every((s) => s !== null);
  const stacked = stackedOf(implementation);
  const sizes = {
    inputSize: options.inputSize as number,
    hiddenSize: options.hiddenSize as number,
    outputSize: options.outputSize as number,
    activation: options.activation,
    head: options.head,
    name: options.name,
  };
  // The weights live in an Ensemble either way; a compiled engine steps it, op by op only stores.
  const ensemble = createEnsemble({
    ...sizes,
    members: list.map((m, r) =>
      memberOptions(compiled[r] ?? { ...PLAIN_SGD, learningRate: methods[r].learningRate }, m ?? {}),
    ),
    implementation: allPaper && stacked ? implementation : 'reference',
  });
  const canCompile =
    allPaper && stacked?.supports(ensemble.config, ensemble.members, tf.getBackend()) === true;
  let engine: 'compiled' | 'op-by-op';
  if (wanted === 'auto') engine = canCompile ? 'compiled' : 'op-by-op';
  else engine = wanted;
  if (engine === 'compiled' && !canCompile) {
    const which = compiled.indexOf(null);
    ensemble.dispose();
    throw new RangeError(
      which >= 0
        ? `createTrainer: engine 'compiled' runs the paper's chain only; members[${which}]'s method ` +
            `'${methods[which].name}' is not it (use 'op-by-op' or 'auto')`
        : `createTrainer: implementation '${implementation.name}' cannot step these runs on backend ` +
            `'${tf.getBackend()}' in one batched step (use 'op-by-op' or 'auto')`,
    );
  }
  return new MembersTrainer(ensemble, methods, engine, implementation);
}

/** Settings that only size a member whose method is not the paper's (its weights are drawn alike). */
const PLAIN_SGD: PaperMethodSettings = {
  name: 'SGD',
  learningRate: 1,
  maxNorm: 1,
  alpha: 0,
  omegaVariant: 'paper',
  safeguard: false,
  clips: false,
  usesOmega: false,
};

/**
 * One trainer for one model (`{ model, method }`) or R runs of the paper's RNN
 * (`{ members, method?, inputSize, hiddenSize, outputSize, ... }`); see the file comment.
 */
export function createTrainer(options: CreateTrainerOptions): Trainer {
  if (options == null || typeof options !== 'object') {
    throw new TypeError('createTrainer needs options { model, method } or { members, ... }');
  }
  const hasModel = options.model != null;
  const hasMembers = options.members != null;
  if (hasModel === hasMembers) {
    throw new TypeError('createTrainer: give exactly one of `model` (one model) and `members` (R runs)');
  }
  if (!hasMembers) {
    checkMethod(options.method, 'createTrainer');
    const method = options.method;
    if (options.engine !== undefined && options.engine !== 'auto') {
      throw new RangeError(
        `createTrainer: a model trainer has one engine ('model'), got engine '${options.engine}'`,
      );
    }
    return new ModelTrainer(
      options.model as RecurrentModel,
      methodOptimizer(method),
      [method],
      { omega: method.omega },
      true,
    );
  }
  return createMembersTrainer(options);
}

/**
 * One update of `model` on `batch` with any tf.Optimizer (for the paper's methods,
 * `methodOptimizer(paperMethod(...))`, whose chain holds the safeguard): the 'model' engine in
 * one line, as a trainer over a caller-owned optimizer.
 */
export async function trainStep(
  model: RecurrentModel,
  batch: Batch,
  optimizer: tf.Optimizer,
  options: TrainStepOptions = {},
): Promise<StepRecord> {
  const trainer = new ModelTrainer(model, optimizer, [], options, false);
  const record = await trainer.step(batch, { step: options.step });
  return memberRecord(record, 0);
}
