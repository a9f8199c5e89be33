/** The trainer's 'compiled' and 'op-by-op' engines: R runs of the paper's RNN, weights stacked. */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkLengths,
  createEnsemble,
  type Ensemble,
  type EnsembleMemberOptions,
  stackedBatch,
  stackedOf,
} from './ensemble.js';
import { PARAM_NAMES, type StackedBatch, type TrainableImplementation } from './ensemble-step.js';
import { isLastStepHead } from './heads.js';
import type { Activation, Batch, ParamName } from './implementation.js';
import type { InitName } from './init.js';
import type { Weights } from './model.js';
import { modelUpdate, type StepRecord } from './model-update.js';
import {
  checkMethod,
  compilePaperMethod,
  methodOptimizer,
  type PaperMethodSettings,
  type TrainingMethod,
} from './paper-method.js';
import { resolveImplementation } from './registry.js';
import { createRnn, type RnnModel } from './rnn.js';
import {
  assertRun,
  checkStateHead,
  optimizerState,
  STATE_VERSION,
  setOptimizerState,
} from './trainer-state.js';
import type {
  CreateTrainerOptions,
  Trainer,
  TrainerMember,
  TrainerState,
  TrainerStepOptions,
  TrainerStepRecord,
} from './trainer-types.js';

/**
 * The 'compiled' and 'op-by-op' engines: R runs whose weights are an Ensemble's stacked
 * variables. Op by op, run r is a model of its own (`views[r]`) whose variables take run r's
 * slice before its step, and give it back after.
 */
export class MembersTrainer implements Trainer {
  private updates = 0;
  private readonly views: RnnModel[] = [];
  private readonly optimizers: tf.Optimizer[] = [];
  private runMethods: TrainingMethod[];

  constructor(
    private readonly ensemble: Ensemble,
    methods: readonly TrainingMethod[],
    readonly engine: 'compiled' | 'op-by-op',
    private readonly implementation: TrainableImplementation,
  ) {
    this.runMethods = [...methods];
    if (engine === 'op-by-op') {
      try {
        ensemble.members.forEach((m, r) => {
          this.views.push(this.viewOf(r, m.activation, m.init, m.seed));
          this.optimizers.push(methodOptimizer(methods[r], `createTrainer: members[${r}]`));
        });
      } catch (e) {
        this.dispose();
        throw e;
      }
    }
  }

  /** Run r as a model of its own: named `<trainer>/run<r>` for a view, uniquely for toModel. */
  private viewOf(r: number, activation: Activation, init: InitName, seed: number, view = true): RnnModel {
    const c = this.ensemble.config;
    return createRnn({
      inputSize: c.inputSize,
      hiddenSize: c.hiddenSize,
      outputSize: c.outputSize,
      activation,
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

  get methods(): readonly TrainingMethod[] {
    return this.runMethods;
  }

  replaceMember(r: number, member: TrainerMember): void {
    assertRun(r, this.size, 'replaceMember');
    const who = `replaceMember(${r})`;
    if (member == null || typeof member !== 'object') {
      throw new TypeError(
        `${who} needs a member { method?, init?, seed?, smartTanh? }, got ${String(member)}`,
      );
    }
    const method = member.method ?? this.runMethods[r];
    checkMethod(method, who);
    const settings = compilePaperMethod(method);
    if (this.engine === 'compiled' && settings === null) {
      throw new RangeError(
        `${who}: engine 'compiled' runs the paper's chain only; method '${method.name}' is not it`,
      );
    }
    const optimizer = this.engine === 'op-by-op' ? methodOptimizer(method, who) : null;
    try {
      this.ensemble.replaceMember(
        r,
        memberOptions(settings ?? { ...PLAIN_SGD, learningRate: method.learningRate }, member),
      );
    } catch (e) {
      optimizer?.dispose();
      throw e;
    }
    this.runMethods[r] = method;
    if (optimizer) {
      this.optimizers[r].dispose();
      this.optimizers[r] = optimizer;
      // a run of other units needs a view of its units (the weights come from the stack anyway)
      const m = this.ensemble.members[r];
      if (this.views[r].config.activation !== m.activation) {
        this.views[r].dispose();
        this.views[r] = this.viewOf(r, m.activation, m.init, m.seed);
      }
    }
  }

  get iterations(): number {
    return this.updates;
  }

  async step(batch: Batch | StackedBatch, options: TrainerStepOptions = {}): Promise<TrainerStepRecord> {
    const step = options.step ?? this.updates;
    if (Array.isArray(step) && step.length !== this.size) {
      throw new RangeError(
        `step: options.step must be one number per run (${this.size}), got ${step.length}`,
      );
    }
    const record =
      this.engine === 'compiled'
        ? await this.ensemble.step(batch, { step })
        : await this.stepOpByOp(batch, step);
    this.updates += 1;
    return record;
  }

  /** Each run through the model engine on its view, then every view's weights back into the stack. */
  private async stepOpByOp(
    batch: Batch | StackedBatch,
    step: number | readonly number[],
  ): Promise<TrainerStepRecord> {
    const lengths = (batch as StackedBatch).lengths;
    if (lengths !== undefined && batch?.inputs instanceof tf.Tensor) {
      checkLengths(lengths, this.size, batch.inputs.shape[batch.inputs.rank - 2]);
    }
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
        // run r's batch: its slice, cut to its length where runs of several lengths share the batch
        const T = lengths?.[r];
        const one = (t: tf.Tensor, timed = true) => {
          const own = tf.squeeze(tf.slice(t, r, 1), [0]);
          if (T === undefined || !timed) return own;
          return tf.slice(
            own,
            own.shape.map(() => 0),
            own.shape.map((d, i) => (i === 1 ? T : d)),
          );
        };
        const perStep = !isLastStepHead(this.ensemble.config.head);
        const own = tf.tidy(() => ({
          inputs: one(stacked.inputs),
          targets: one(stacked.targets, perStep),
          ...(stacked.mask ? { mask: one(stacked.mask) } : {}),
        })) as Batch;
        try {
          records.push(
            await modelUpdate(view, own, this.optimizers[r], {
              omega: this.runMethods[r].omega,
              step: typeof step === 'number' ? step : step[r],
            }),
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
    const model = this.viewOf(r, m.activation, m.init, m.seed, false);
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
    activation: m.activation,
    init: m.init,
    seed: m.seed,
    smartTanh: m.smartTanh,
  };
}

export function createMembersTrainer(options: CreateTrainerOptions): Trainer {
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
