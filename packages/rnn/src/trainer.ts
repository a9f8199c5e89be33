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
import type * as tf from '@tensorflow/tfjs-core';
import { runRecord } from './ensemble.js';

export { runRecord };

import type { Batch } from './implementation.js';
import { createMembersTrainer } from './members-trainer.js';
import type { RecurrentModel } from './model.js';
import { ModelTrainer } from './model-trainer.js';
import type { StepRecord, TrainStepOptions } from './model-update.js';
import { checkMethod, methodOptimizer } from './paper-method.js';
import type { CreateTrainerOptions, Trainer } from './trainer-types.js';

export type {
  CreateTrainerOptions,
  RunOptimizerState,
  Trainer,
  TrainerEngine,
  TrainerMember,
  TrainerState,
  TrainerStepOptions,
  TrainerStepRecord,
} from './trainer-types.js';

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
  return runRecord(record, 0);
}
