/** The trainer's 'model' engine: one model trained in place with one optimizer. */
import type * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './implementation.js';
import type { RecurrentModel, Weights } from './model.js';
import { modelUpdate, type TrainStepOptions } from './model-update.js';
import type { TrainingMethod } from './paper-method.js';
import {
  assertRun,
  checkStateHead,
  optimizerState,
  STATE_VERSION,
  setOptimizerState,
} from './trainer-state.js';
import type { Trainer, TrainerState, TrainerStepOptions, TrainerStepRecord } from './trainer-types.js';

export class ModelTrainer implements Trainer {
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
    const given = Array.isArray(options.step) ? options.step[0] : options.step;
    const step = given ?? (this.owned ? this.updates : undefined);
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

  replaceMember(): void {
    throw new Error(
      'replaceMember: a model trainer has one run and no slots; create a trainer with members to refill slots',
    );
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
