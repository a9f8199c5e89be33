/** The one training API's types: a trainer, its options, records and checkpoint state. */
import type { ChainedOptimizerState } from '@cliffguard/clip';
import type { EnsembleStepRecord } from './ensemble.js';
import type { StackedBatch, TrainableImplementation } from './ensemble-step.js';
import type { Activation, Batch, Head } from './implementation.js';
import type { InitName, SmartTanhOptions } from './init.js';
import type { RecurrentModel, Weights } from './model.js';
import type { TrainingMethod } from './paper-method.js';

/** One run of a members trainer: its method (or the trainer's) and how its weights are drawn. */
export interface TrainerMember {
  /** default: the trainer's `method` */
  method?: TrainingMethod;
  /**
   * this run's units; default the trainer's `activation` where given, else as createRnn chooses
   * them from the init (a members trainer may hold sigmoid and tanh runs)
   */
  activation?: Activation;
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
  /**
   * the update number an α schedule is evaluated at; default the trainer's `iterations`. Members:
   * one number per run too (runs put in with `replaceMember` count their own updates)
   */
  step?: number | readonly number[];
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
   * Members: puts a new run in slot r (its method, init and seed; weights drawn as createRnn
   * would, optimizer state fresh), so a sweep can refill the slot of a finished run. The new
   * method must suit the engine (the paper's chain for 'compiled'). Checks before changing
   * anything. A model trainer has no slots and throws.
   */
  replaceMember(r: number, member: TrainerMember): void;
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
