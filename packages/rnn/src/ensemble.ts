/**
 * Batched ensembles: R independent runs of the paper's RNN (same sizes; own seed, init, units,
 * method SGD / SGD-C / SGD-CR, learning rate, maxNorm, α) trained as ONE computation, their
 * parameters stacked along a leading run axis, so a sweep (Fig. 7) advances all its runs per
 * kernel call. Run r equals `createRnn({ ..., init, seed })` trained by `trainStep` with
 * `paperMethod(...)` on the same data, to float32 tolerance (see ensemble-step.ts for the update).
 *
 * A whole sweep can be one ensemble: runs may have different units (sigmoid and tanh) and, batch
 * by batch, different sequence lengths (StackedBatch.lengths, the inputs padded to the longest).
 * An implementation whose packed step takes such runs (`PackedStackedTraining.mixed`: the fused
 * webgpu step) steps them all at once; otherwise the runs step in groups of one (units, length).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  PARAM_NAMES,
  type PackedStackedTraining,
  RECORD_ROWS,
  type RunShapes,
  recurrenceParams,
  type StackedBatch,
  type StackedTraining,
  stackedTrainStep,
  type TrainableImplementation,
} from './ensemble-step.js';
import { isLastStepHead, stackedHeadOutputs } from './heads.js';
import type { Activation, Batch, Head, ParamName, RnnConfig, RnnParams } from './implementation.js';
import { type InitName, initialRnnWeights, type SmartTanhOptions } from './init.js';
import { checkWeights, makeVariables, readWeights, uniqueModelName, type Weights } from './model.js';
import { resolveAlpha, type StepRecord } from './model-update.js';
import {
  type PaperMethodName,
  type PaperMethodOptions,
  type PaperMethodSettings,
  resolvePaperMethod,
} from './paper-method.js';
import { referenceImplementation, stackedRecurrence } from './reference.js';
import { resolveImplementation } from './registry.js';
import { resolveRnnConfig } from './rnn.js';
import { validateBatch, validateInputs } from './validate.js';

/** One run of an ensemble: how its weights are drawn and how it is trained. */
export interface EnsembleMemberOptions extends PaperMethodOptions {
  /** 'SGD', 'SGD-C' (clipping, Algorithm 1) or 'SGD-CR' (clipping + Ω) */
  method: PaperMethodName;
  /**
   * this run's units; default the ensemble's `activation` where given, else as createRnn
   * ('sigmoid' for the sigmoid init, 'tanh' for the others)
   */
  activation?: Activation;
  /** default: 'sigmoid' for sigmoid units, else 'smart-tanh' (as createRnn) */
  init?: InitName;
  /** integer seed of the initialisation; default 52 (as createRnn) */
  seed?: number;
  /** smart-tanh's non-zeros per unit and spectral radius (as createRnn) */
  smartTanh?: SmartTanhOptions;
}

export interface CreateEnsembleOptions {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  /**
   * every run's units unless its member says otherwise; default: each run's as createRnn would
   * choose them from its init (an ensemble may mix sigmoid and tanh runs)
   */
  activation?: Activation;
  /** shared by every run; default 'last-softmax' */
  head?: Head;
  /** the runs, at least one */
  members: EnsembleMemberOptions[];
  /** variable-name prefix (`<name>/W_in`, ...); default `ensemble_<n>` */
  name?: string;
  /**
   * who computes a step: a registered implementation's name or the object ('fused' once
   * @cliffguard/fused is imported: one kernel call per step on cpu and wasm); default 'reference'
   */
  implementation?: string | TrainableImplementation;
}

/** A member as resolved: its method's settings with defaults, its units, init and seed. */
export interface EnsembleMember extends PaperMethodSettings {
  activation: Activation;
  init: InitName;
  seed: number;
}

/**
 * The ensemble's sizes, head and R. Its `activation` is the units the runs were created with when
 * they share them (the first run's otherwise); each run's own are `members[r].activation`.
 */
export interface EnsembleConfig extends RnnConfig {
  /** R, the number of runs */
  runs: number;
}

/** What one {@link ensembleStep} did, per run (index r is member r), as plain numbers. */
export interface EnsembleStepRecord {
  /** task loss of each run (Ω not included) */
  loss: number[];
  /** each run's global L2 norm (its own gradients, Ω term included), before safeguard and clipping */
  norm: number[];
  /** Ω's value for the runs that use it (SGD-CR), null for the others */
  omega: (number | null)[];
  /** the α used (0 without Ω) */
  alpha: number[];
  /** whether Algorithm 1 rescaled the run's step (norm > maxNorm; SGD-C and SGD-CR) */
  clipped: boolean[];
  /** whether the run's step was skipped (non-finite norm after the safeguard; SGD-C and SGD-CR) */
  skipped: boolean[];
  /** whether the authors' safeguard replaced the run's step by the shrink step */
  safeguarded: boolean[];
}

/** An ensemble's training state as plain data: stacked weights and the update count. */
export interface EnsembleState {
  version: 1;
  runs: number;
  /** updates taken (α schedules read it) */
  iterations: number;
  /** stacked parameters: W_in [R, I, H], W_rec [R, H, H], b [R, H], W_out [R, H, O], b_out [R, O] */
  weights: Weights;
}

export interface EnsembleStepOptions {
  /**
   * the update number an α schedule is evaluated at: one for every run, or one per run (runs
   * that joined at different times); default the ensemble's `iterations`
   */
  step?: number | readonly number[];
}

/** Each run's update number for an α schedule (see EnsembleStepOptions.step). */
function runSteps(step: number | readonly number[] | undefined, e: Ensemble): readonly number[] {
  if (step === undefined || typeof step === 'number') return e.members.map(() => step ?? e.iterations);
  if (!Array.isArray(step) || step.length !== e.size) {
    throw new RangeError(
      `ensembleStep: options.step must be a number or one number per run (${e.size}), got ${String(step)}`,
    );
  }
  return step;
}

const STATE_VERSION = 1;

/** The reference's batched update (ensemble-step.ts): op by op, every backend. */
const referenceStacked: StackedTraining = { supports: () => true, trainStep: stackedTrainStep };

export function stackedOf(impl: TrainableImplementation): StackedTraining | undefined {
  return impl.stacked ?? (impl === referenceImplementation ? referenceStacked : undefined);
}

function sizesOf(config: EnsembleConfig): Record<ParamName, number[]> {
  const { inputSize: I, hiddenSize: H, outputSize: O } = config;
  return { W_in: [I, H], W_rec: [H, H], b: [H], W_out: [H, O], b_out: [O] };
}

/** One member's method settings, init and seed, checked; its config (sizes, activation, head). */
function resolveMember(
  options: Omit<CreateEnsembleOptions, 'members'>,
  m: EnsembleMemberOptions,
  who: string,
): { member: EnsembleMember; config: RnnConfig & { init: InitName } } {
  if (m == null || typeof m !== 'object') throw new TypeError(`${who} must be an object, got ${String(m)}`);
  const settings = resolvePaperMethod(m.method, m, who);
  const c = resolveRnnConfig({
    ...options,
    activation: m.activation ?? options.activation,
    init: m.init,
    seed: m.seed,
  });
  if (!Number.isInteger(c.seed))
    throw new RangeError(`${who}: seed must be an integer, got ${String(c.seed)}`);
  return {
    member: Object.freeze({ ...settings, activation: c.activation, init: c.init, seed: c.seed }),
    config: c,
  };
}

function resolveMembers(options: CreateEnsembleOptions): {
  config: EnsembleConfig;
  members: EnsembleMember[];
} {
  if (options == null || typeof options !== 'object') {
    throw new TypeError('createEnsemble needs an options object');
  }
  const list = options.members;
  if (!Array.isArray(list) || list.length === 0) {
    throw new RangeError(`createEnsemble: members must be a non-empty array, got ${String(list)}`);
  }
  let config: EnsembleConfig | undefined;
  const members = list.map((m, r) => {
    const who = `createEnsemble: members[${r}]`;
    const { member, config: c } = resolveMember(options, m, who);
    config ??= {
      inputSize: c.inputSize,
      hiddenSize: c.hiddenSize,
      outputSize: c.outputSize,
      activation: c.activation,
      head: c.head,
      runs: list.length,
    };
    return member;
  });
  return { config: config!, members };
}

/** Each member's initial weights (bit-identical to createRnn's), stacked along a first axis. */
function stackedInitialWeights(
  config: EnsembleConfig,
  members: readonly EnsembleMember[],
  options: CreateEnsembleOptions,
): Record<ParamName, { shape: number[]; values: Float32Array }> {
  const per = members.map((m, r) => initialRnnWeights(m.init, config, m.seed, options.members[r].smartTanh));
  const sizes = sizesOf(config);
  const out = {} as Record<ParamName, { shape: number[]; values: Float32Array }>;
  for (const k of PARAM_NAMES) {
    const size = sizes[k].reduce((n, d) => n * d, 1);
    const values = new Float32Array(members.length * size);
    for (const [r, w] of per.entries()) values.set(w[k].values, r * size);
    out[k] = { shape: [members.length, ...sizes[k]], values };
  }
  return out;
}

/** R runs of the paper's RNN with stacked parameters; train it with {@link ensembleStep}. */
export class Ensemble {
  readonly config: Readonly<EnsembleConfig>;
  private runs: readonly Readonly<EnsembleMember>[];
  private readonly vars: Readonly<Record<ParamName, tf.Variable>>;
  /**
   * Where an implementation steps packed runs (StackedTraining.packed), the weights live in this
   * state between steps and `vars` are stale until read (see `variables`).
   */
  private packedState: tf.Tensor | null = null;
  private updates = 0;
  private disposed = false;
  private impl: TrainableImplementation;
  /** createEnsemble's `activation`, if given: the units of a replaced run that names none */
  private readonly givenActivation: Activation | undefined;

  /** Use {@link createEnsemble}. */
  constructor(
    config: EnsembleConfig,
    members: readonly EnsembleMember[],
    variables: Record<ParamName, tf.Variable>,
    implementation: string | TrainableImplementation = referenceImplementation,
    activation?: Activation,
  ) {
    this.config = Object.freeze({ ...config });
    this.runs = Object.freeze([...members]);
    this.vars = Object.freeze({ ...variables });
    this.impl = referenceImplementation;
    this.givenActivation = activation;
    this.useImplementation(implementation);
  }

  /** Whether the runs have different units (sigmoid and tanh). */
  get mixed(): boolean {
    return this.runs.some((m) => m.activation !== this.runs[0].activation);
  }

  /**
   * The stacked parameters by name ([R, ...] each). Reading them after packed steps unpacks the
   * state into them (a few kernels) and lets the state go, so whatever the caller then assigns is
   * what the next step packs.
   */
  get variables(): Readonly<Record<ParamName, tf.Variable>> {
    if (this.packedState) {
      const state = this.packedState;
      this.packedState = null;
      const packed = stackedOf(this.impl)?.packed as PackedStackedTraining;
      tf.tidy(() => {
        const params = packed.unpack(state, this.config, this.size);
        for (const k of PARAM_NAMES) this.vars[k].assign(params[k]);
      });
      state.dispose();
    }
    return this.vars;
  }

  /**
   * The packed form of the implementation where it can step these runs here (runs of different
   * units or lengths only where it takes them: `mixed`), else null.
   */
  private packedStepper(
    members: readonly PaperMethodSettings[],
    shapes: RunShapes | undefined,
  ): PackedStackedTraining | null {
    const packed = stackedOf(this.impl)?.packed;
    if (shapes && !packed?.mixed) return null;
    return packed?.supports(this.config, members, tf.getBackend()) ? packed : null;
  }

  /** The config a step of runs that share their units computes with. */
  private sharedConfig(): EnsembleConfig {
    const units = this.runs[0].activation;
    return units === this.config.activation ? this.config : { ...this.config, activation: units };
  }

  /** One packed update of this ensemble alone; returns the record tensor (yours to dispose). */
  private packedStep(
    packed: PackedStackedTraining,
    batch: Batch | StackedBatch,
    alphas: readonly number[],
    shapes: RunShapes | undefined,
  ): tf.Tensor {
    const fresh = this.packedState === null;
    const state = this.packedState ?? tf.tidy(() => packed.pack(this.vars, this.config, this.size));
    let result: { next: tf.Tensor; record: tf.Tensor };
    try {
      result = tf.tidy(() =>
        packed.trainStep(state, this.sharedConfig(), stackedBatch(this, batch), this.members, alphas, shapes),
      );
    } catch (e) {
      // a refused batch changes nothing: the weights stay where they were
      if (fresh) state.dispose();
      throw e;
    }
    state.dispose();
    this.packedState = result.next;
    return result.record;
  }

  /** Each run's method settings, init and seed (index r is run r). */
  get members(): readonly Readonly<EnsembleMember>[] {
    return this.runs;
  }

  /**
   * Puts a new run in slot r: its method, init and seed as a member of createEnsemble, its
   * weights drawn as createRnn would draw them. Checks everything before changing anything.
   */
  replaceMember(r: number, options: EnsembleMemberOptions): void {
    this.assertUsable();
    this.assertRun(r, 'replaceMember');
    const who = `replaceMember(${r})`;
    // the run's units: its own, else createEnsemble's activation, else its init's (as createRnn)
    const { member } = resolveMember({ ...this.config, activation: this.givenActivation }, options, who);
    const drawn = initialRnnWeights(member.init, this.config, member.seed, options.smartTanh);
    this.setMember(r, drawn);
    this.runs = Object.freeze(this.runs.map((m, i) => (i === r ? member : m)));
  }

  /** The implementation that computes the steps. */
  get implementation(): TrainableImplementation {
    return this.impl;
  }

  /** Switches implementation (by registered name or object); the weights stay. */
  useImplementation(impl: string | TrainableImplementation): void {
    const resolved = resolveImplementation(impl);
    void this.variables; // a packed state belongs to the implementation that made it
    if (!stackedOf(resolved)) {
      throw new RangeError(
        `RNN implementation '${resolved.name}' has no batched ensembles (no \`stacked\`); use 'reference'`,
      );
    }
    this.impl = resolved;
  }

  /** The active implementation's batched update, checked for `members` on the current backend. */
  private stacked(members: readonly PaperMethodSettings[] = this.members): StackedTraining {
    const stacked = stackedOf(this.impl) as StackedTraining;
    const backend = tf.getBackend();
    if (!stacked.supports(this.config, members, backend)) {
      throw new Error(
        `RNN implementation '${this.impl.name}' cannot step this ensemble (${members.length} runs of ` +
          `${this.config.hiddenSize} units, head '${this.config.head}') on backend '${backend}'; ` +
          "use ensemble.useImplementation('reference')",
      );
    }
    return stacked;
  }

  /** R, the number of runs. */
  get size(): number {
    return this.config.runs;
  }

  /** Updates taken so far. */
  get iterations(): number {
    return this.updates;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error('this ensemble has been disposed');
  }

  /** One update of every run; see {@link ensembleStep}. */
  async step(batch: Batch | StackedBatch, options: EnsembleStepOptions = {}): Promise<EnsembleStepRecord> {
    const [record] = await Ensemble.stepTogether([this], [batch], [options]);
    return record;
  }

  /**
   * One update of several ensembles of one configuration and implementation as ONE computation
   * (their runs stacked one after another: with the fused implementation, one kernel call), each
   * on its own batch and at its own update number; exactly what each `step` alone would do.
   * For independent jobs of one shape sharing a process.
   */
  static async stepTogether(
    ensembles: readonly Ensemble[],
    batches: readonly (Batch | StackedBatch)[],
    options: readonly EnsembleStepOptions[] = [],
  ): Promise<EnsembleStepRecord[]> {
    if (!Array.isArray(ensembles) || ensembles.length === 0 || batches?.length !== ensembles.length) {
      throw new RangeError(
        `stepTogether needs one batch per ensemble, got ${ensembles?.length} ensembles and ${batches?.length} batches`,
      );
    }
    const first = ensembles[0];
    ensembles.forEach((e, i) => {
      e.assertUsable();
      const c = e.config;
      const f = first.config;
      const same =
        e.impl === first.impl &&
        c.inputSize === f.inputSize &&
        c.hiddenSize === f.hiddenSize &&
        c.outputSize === f.outputSize &&
        e.runs[0].activation === first.runs[0].activation &&
        c.head === f.head;
      if (!same) {
        throw new RangeError(
          `stepTogether: ensembles[${i}] differs from ensembles[0] in its sizes, activation, head or implementation`,
        );
      }
      if (ensembles.length > 1 && (e.mixed || (batches[i] as StackedBatch)?.lengths !== undefined)) {
        throw new RangeError(
          `stepTogether: ensembles[${i}] has runs of different units or a batch with lengths; step it alone (one ensemble can hold them all)`,
        );
      }
    });
    const alphasOf = (e: Ensemble, i: number) => {
      const steps = runSteps(options[i]?.step, e);
      return e.members.map((m, r) =>
        m.usesOmega
          ? (resolveAlpha({ alpha: m.alpha }, steps[r], `ensembleStep: members[${r}]`) as number)
          : 0,
      );
    };
    const alphas = ensembles.map(alphasOf);
    if (ensembles.length === 1) {
      return Ensemble.readRecords(first.stepAlone(batches[0], alphas[0]), [first], alphas);
    }
    const members = ensembles.flatMap((e) => e.members);
    const stacked = first.stacked(members);
    const sizes = ensembles.map((e) => e.size);
    const packed = tf.tidy(() => {
      const parts = ensembles.map((e, i) => stackedBatch(e, batches[i]));
      const masked = parts.filter((b) => b.mask !== undefined).length;
      if (masked !== 0 && masked !== parts.length)
        throw new RangeError('stepTogether: either every batch has a mask or none');
      const join = (ts: tf.Tensor[]) => (ts.length === 1 ? ts[0] : tf.concat(ts, 0));
      const batch: StackedBatch = {
        inputs: join(parts.map((b) => b.inputs)),
        targets: join(parts.map((b) => b.targets)),
        ...(masked ? { mask: join(parts.map((b) => b.mask as tf.Tensor)) } : {}),
      };
      const params = Object.fromEntries(
        PARAM_NAMES.map((k) => [k, join(ensembles.map((e) => e.variables[k]))]),
      ) as Record<ParamName, tf.Tensor>;
      const { next, record } = stacked.trainStep(params, first.sharedConfig(), batch, members, alphas.flat());
      for (const k of PARAM_NAMES) {
        const pieces = ensembles.length === 1 ? [next[k]] : tf.split(next[k], sizes, 0);
        ensembles.forEach((e, i) => {
          e.variables[k].assign(pieces[i]);
        });
      }
      return record;
    });
    return Ensemble.readRecords(packed, ensembles, alphas);
  }

  /**
   * One update of this ensemble's runs: packed where the implementation can, group by group
   * where its runs differ in units or lengths and it cannot step them at once; the record tensor.
   */
  private stepAlone(batch: Batch | StackedBatch, alphas: readonly number[]): tf.Tensor {
    const shapes = runShapes(this, batch);
    const packed = this.packedStepper(this.members, shapes);
    if (packed) return this.packedStep(packed, batch, alphas, shapes);
    const stacked = this.stacked();
    if (shapes) return this.groupedStep(stacked, batch, alphas, shapes);
    return tf.tidy(() => {
      const { next, record } = stacked.trainStep(
        this.variables,
        this.sharedConfig(),
        stackedBatch(this, batch),
        this.members,
        alphas,
      );
      for (const k of PARAM_NAMES) this.variables[k].assign(next[k]);
      return record;
    });
  }

  /**
   * Runs of different units or lengths, stepped one group (one units, one length) at a time:
   * each group's runs, weights and batch gathered (the batch cut to the group's length), stepped
   * as an ensemble of their own, and put back in place. Exactly what each group alone would do.
   */
  private groupedStep(
    stacked: StackedTraining,
    batch: Batch | StackedBatch,
    alphas: readonly number[],
    shapes: RunShapes,
  ): tf.Tensor {
    const groups = new Map<string, number[]>();
    shapes.activations.forEach((units, r) => {
      const key = `${units} ${shapes.lengths[r]}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    });
    return tf.tidy(() => {
      const full = stackedBatch(this, batch);
      const perStep = !isLastStepHead(this.config.head);
      const order: number[] = [];
      const next = Object.fromEntries(PARAM_NAMES.map((k) => [k, [] as tf.Tensor[]])) as Record<
        ParamName,
        tf.Tensor[]
      >;
      const records: tf.Tensor[] = [];
      for (const runs of groups.values()) {
        const T = shapes.lengths[runs[0]];
        const index = tf.tensor1d(runs, 'int32');
        const pick = (t: tf.Tensor) => tf.gather(t, index);
        // the first T steps (the time axis is axis 2 of inputs, per-step targets and mask)
        const upTo = (t: tf.Tensor) =>
          tf.slice(
            t,
            t.shape.map(() => 0),
            t.shape.map((d, i) => (i === 2 ? T : d)),
          );
        const part: StackedBatch = {
          inputs: upTo(pick(full.inputs)),
          targets: perStep ? upTo(pick(full.targets)) : pick(full.targets),
          ...(full.mask ? { mask: upTo(pick(full.mask)) } : {}),
        };
        const params = Object.fromEntries(PARAM_NAMES.map((k) => [k, pick(this.variables[k])])) as RnnParams;
        const config = { ...this.config, activation: shapes.activations[runs[0]] };
        const members = runs.map((r) => this.members[r]);
        const result = stacked.trainStep(
          params,
          config,
          part,
          members,
          runs.map((r) => alphas[r]),
        );
        for (const k of PARAM_NAMES) next[k].push(result.next[k]);
        records.push(result.record);
        order.push(...runs);
      }
      // back in run order: position r of the concatenation holds run order[r]
      const inverse = new Int32Array(order.length);
      order.forEach((run, at) => {
        inverse[run] = at;
      });
      const back = tf.tensor1d(inverse, 'int32');
      for (const k of PARAM_NAMES) this.variables[k].assign(tf.gather(tf.concat(next[k], 0), back));
      return tf.gather(tf.concat(records, 1), back, 1);
    });
  }

  /**
   * The record tensor [RECORD_ROWS.length, total runs] of one step of `ensembles` (their runs one
   * after another) as each ensemble's plain record; ONE readback. Disposes the tensor.
   */
  private static async readRecords(
    packed: tf.Tensor,
    ensembles: readonly Ensemble[],
    alphas: readonly (readonly number[])[],
  ): Promise<EnsembleStepRecord[]> {
    const members = ensembles.flatMap((e) => e.members);
    let values: Float32Array;
    try {
      // A copy: on cpu, data() hands out the backend's own buffer.
      values = Float32Array.from((await packed.data()) as Float32Array);
    } finally {
      packed.dispose();
    }
    const total = members.length;
    let offset = 0;
    return ensembles.map((e, i) => {
      const R = e.size;
      const at = offset;
      offset += R;
      e.updates += 1;
      const row = (name: (typeof RECORD_ROWS)[number]) => {
        const j = RECORD_ROWS.indexOf(name) * total + at;
        return Array.from(values.subarray(j, j + R));
      };
      return {
        loss: row('loss'),
        norm: row('norm'),
        omega: row('omega').map((v, r) => (e.members[r].usesOmega ? v : null)),
        alpha: [...alphas[i]],
        clipped: row('clipped').map((v) => v === 1),
        skipped: row('skipped').map((v) => v === 1),
        safeguarded: row('safeguarded').map((v) => v === 1),
      };
    });
  }

  private assertRun(r: number, who: string): void {
    if (!(Number.isInteger(r) && r >= 0 && r < this.size)) {
      throw new RangeError(`${who}: run index must be an integer in [0, ${this.size - 1}], got ${String(r)}`);
    }
  }

  /** Run r's weights as plain data, in the format of `model.getWeights()` (evaluate or checkpoint it). */
  async member(r: number): Promise<Weights> {
    this.assertUsable();
    this.assertRun(r, 'member');
    const packed = this.packedState && (stackedOf(this.impl)?.packed as PackedStackedTraining);
    // between packed steps, one run is read from the state as it is (the next step needs no repacking)
    if (packed && this.packedState) return packed.readRun(this.packedState, this.config, this.size, r);
    const slices = tf.tidy(() => {
      const out: Record<string, tf.Tensor> = {};
      for (const k of PARAM_NAMES) {
        const v = this.variables[k];
        out[k] = tf.reshape(tf.slice(v, r, 1), v.shape.slice(1));
      }
      return out;
    });
    try {
      return await readWeights(slices);
    } finally {
      tf.dispose(Object.values(slices));
    }
  }

  /** Replaces run r's weights (format of `model.getWeights()`); checks everything before writing. */
  setMember(r: number, weights: Weights): void {
    this.assertUsable();
    this.assertRun(r, 'setMember');
    checkWeights(weights, sizesOf(this.config), 'setMember');
    tf.tidy(() => {
      for (const k of PARAM_NAMES) {
        const v = this.variables[k];
        const parts = [
          ...(r > 0 ? [tf.slice(v, 0, r)] : []),
          tf.tensor(weights[k].values, [1, ...v.shape.slice(1)], 'float32'),
          ...(r < this.size - 1 ? [tf.slice(v, r + 1, this.size - r - 1)] : []),
        ];
        v.assign(parts.length === 1 ? parts[0] : tf.concat(parts, 0));
      }
    });
  }

  /**
   * Every run on `inputs` ([R, B, T, I], one stream per run, or [B, T, I] shared):
   * outputs [R, B, O] (last-step heads) or [R, B, T, O], and states [R, B, T, H].
   */
  forward(inputs: tf.Tensor): { outputs: tf.Tensor; states: tf.Tensor } {
    this.assertUsable();
    const { runs: R, hiddenSize: H } = this.config;
    const shared = inputs instanceof tf.Tensor && inputs.rank === 3;
    validateInputs(inputs, this.config.inputSize, shared ? undefined : R);
    return tf.tidy(() => {
      const x = shared ? tf.broadcastTo(inputs, [R, ...inputs.shape]) : inputs;
      const v = this.variables;
      const B = x.shape[1] as number;
      const pass = (units: Activation) => {
        const hs = stackedRecurrence(recurrenceParams(v, B), units, x, tf.zeros([R, B, H]), [R]);
        const states = tf.stack(hs, 2);
        const hidden = isLastStepHead(this.config.head) ? hs[hs.length - 1] : states;
        const outputs = stackedHeadOutputs(this.config.head, hidden, v.W_out, v.b_out, [R]);
        return { outputs, states };
      };
      if (!this.mixed) return pass(this.runs[0].activation);
      // runs of both units: both passes, each run's own picked (an evaluation, not a hot path)
      const tanh = pass('tanh');
      const sigmoid = pass('sigmoid');
      const isTanh = tf.tensor1d(
        this.runs.map((m) => m.activation === 'tanh'),
        'bool',
      );
      const pick = (a: tf.Tensor, b: tf.Tensor) =>
        tf.where(tf.broadcastTo(tf.reshape(isTanh, [R, ...a.shape.slice(1).map(() => 1)]), a.shape), a, b);
      return { outputs: pick(tanh.outputs, sigmoid.outputs), states: pick(tanh.states, sigmoid.states) };
    });
  }

  /** The stacked weights and the update count as plain data (a checkpoint of the whole ensemble). */
  async getState(): Promise<EnsembleState> {
    this.assertUsable();
    return {
      version: STATE_VERSION,
      runs: this.size,
      iterations: this.updates,
      weights: await readWeights(this.variables),
    };
  }

  /** Restores what {@link getState} returned; checks everything before writing anything. */
  setState(state: EnsembleState): void {
    this.assertUsable();
    if (state == null || state.version !== STATE_VERSION) {
      throw new RangeError(
        `setState: expected a state of version ${STATE_VERSION} from getState(), got version ${String(state?.version)}`,
      );
    }
    if (state.runs !== this.size) {
      throw new RangeError(
        `setState: the state has ${String(state.runs)} runs; this ensemble has ${this.size}`,
      );
    }
    if (!(Number.isInteger(state.iterations) && state.iterations >= 0)) {
      throw new RangeError(`setState: iterations must be an integer ≥ 0, got ${String(state.iterations)}`);
    }
    const expected = Object.fromEntries(PARAM_NAMES.map((k) => [k, this.variables[k].shape]));
    checkWeights(state.weights, expected, 'setState');
    tf.tidy(() => {
      for (const k of PARAM_NAMES) {
        this.variables[k].assign(tf.tensor(state.weights[k].values, state.weights[k].shape, 'float32'));
      }
    });
    this.updates = state.iterations;
  }

  dispose(): void {
    if (this.disposed) return;
    tf.dispose(Object.values(this.vars));
    this.packedState?.dispose();
    this.packedState = null;
    this.disposed = true;
  }
}

/**
 * Creates R runs with stacked parameters W_in [R, I, H], W_rec [R, H, H], b [R, H],
 * W_out [R, H, O], b_out [R, O]; run r's weights are bit-identical to
 * `createRnn({ ..., init: members[r].init, seed: members[r].seed })`.
 */
export function createEnsemble(options: CreateEnsembleOptions): Ensemble {
  const { config, members } = resolveMembers(options);
  const weights = stackedInitialWeights(config, members, options);
  const implementation = resolveImplementation(options.implementation);
  const variables = makeVariables(uniqueModelName('ensemble', options.name), weights);
  try {
    return new Ensemble(config, members, variables, implementation, options.activation);
  } catch (e) {
    tf.dispose(Object.values(variables));
    throw e;
  }
}

/**
 * Each run's units and sequence length where the runs differ in them (or a run reads fewer steps
 * than the batch has), else undefined: a step of runs of one shape. Checks `batch.lengths`.
 */
function runShapes(ensemble: Ensemble, batch: Batch | StackedBatch): RunShapes | undefined {
  const inputs = batch?.inputs;
  if (!(inputs instanceof tf.Tensor) || inputs.rank < 3) return undefined; // stackedBatch says why
  const T = inputs.shape[inputs.rank - 2];
  const lengths = (batch as StackedBatch).lengths;
  if (lengths !== undefined) checkLengths(lengths, ensemble.size, T);
  const short = lengths?.some((l) => l !== T) ?? false;
  if (!ensemble.mixed && !short) return undefined;
  return {
    activations: ensemble.members.map((m) => m.activation),
    lengths: lengths ?? ensemble.members.map(() => T),
  };
}

/** Checks a batch's per-run `lengths` against R runs and its T steps. */
export function checkLengths(lengths: readonly number[], R: number, T: number): void {
  if (!Array.isArray(lengths) || lengths.length !== R) {
    throw new RangeError(
      `ensembleStep: batch.lengths must be one sequence length per run (${R}), got ${String(lengths)}`,
    );
  }
  lengths.forEach((l, r) => {
    if (!(Number.isInteger(l) && l >= 1 && l <= T)) {
      throw new RangeError(
        `ensembleStep: batch.lengths[${r}] must be an integer in [1, ${T}] (the batch's time steps), got ${String(l)}`,
      );
    }
  });
}

/** The batch with a leading run axis: per-run batches as they are, a shared one broadcast. */
export function stackedBatch(ensemble: Ensemble, batch: Batch | StackedBatch): StackedBatch {
  const R = ensemble.size;
  const inputs = batch?.inputs;
  if (!(inputs instanceof tf.Tensor) || (inputs.rank !== 3 && inputs.rank !== 4)) {
    const got = inputs instanceof tf.Tensor ? `[${inputs.shape.join(', ')}]` : String(inputs);
    throw new RangeError(
      `ensembleStep: inputs must be [R=${R}, batch, time, ${ensemble.config.inputSize}] (one stream per run) ` +
        `or [batch, time, ${ensemble.config.inputSize}] (shared by every run); got ${got}`,
    );
  }
  if (inputs.rank === 4) {
    validateBatch(batch, ensemble.config, R);
    return batch;
  }
  validateBatch(batch, ensemble.config);
  const lead = (t: tf.Tensor) => tf.broadcastTo(t, [R, ...t.shape]);
  return {
    inputs: lead(batch.inputs),
    targets: lead(batch.targets),
    ...(batch.mask ? { mask: lead(batch.mask) } : {}),
  };
}

/**
 * One update of every run of `ensemble` on `batch`: inputs [R, B, T, I] with targets (and mask)
 * carrying the same leading R (each run its own data stream), or a batch shaped as for one model
 * that every run sees. Per run: its loss, its global-norm clip (Algorithm 1, `>`), its Ω and
 * the authors' safeguard, then SGD. ONE readback per step.
 */
export async function ensembleStep(
  ensemble: Ensemble,
  batch: Batch | StackedBatch,
  options: EnsembleStepOptions = {},
): Promise<EnsembleStepRecord> {
  if (!(ensemble instanceof Ensemble)) {
    throw new TypeError(`ensembleStep needs an Ensemble from createEnsemble, got ${String(ensemble)}`);
  }
  return ensemble.step(batch, options);
}

/** {@link Ensemble.stepTogether}: one update of several ensembles as one computation. */
export function ensembleStepTogether(
  ensembles: readonly Ensemble[],
  batches: readonly (Batch | StackedBatch)[],
  options?: readonly EnsembleStepOptions[],
): Promise<EnsembleStepRecord[]> {
  return Ensemble.stepTogether(ensembles, batches, options);
}

/** Run r's part of a trainer's step record (one entry per run), in trainStep's {@link StepRecord} form. */
export function runRecord(record: EnsembleStepRecord, r = 0): StepRecord {
  return {
    loss: record.loss[r],
    norm: record.norm[r],
    omega: record.omega[r],
    alpha: record.alpha[r],
    clipped: record.clipped[r],
    skipped: record.skipped[r],
    safeguarded: record.safeguarded[r],
  };
}
