/**
 * A group of synthetic runs trained R at a time by one batched trainer (`--ensemble R`: "runs come
 * and go"). Each slot of a compiled members trainer holds one run. Every update, each run draws
 * its own minibatch from its own stream, the minibatches are stacked along a leading run axis
 * ([R, B, T, I]) and one `trainer.step` updates every slot; then each run does its own
 * bookkeeping from its column of the record (SyntheticRun, exactly as when it trains alone). A
 * run that ends hands its result to the runner at once and its slot takes the group's next run
 * (`replaceMember`). The compiled step keeps the runs independent (each its own loss, norm,
 * safeguard, clip and SGD update), so a run's numbers do not depend on its neighbours.
 */
import type { BatchArrays } from '@cliffguard/datasets';
import type { StackedBatch, Trainer, TrainerMember, TrainerStepRecord } from '@cliffguard/rnn';
import { type BatchedRun, Interrupted } from '../core/types.js';
import { pickImplementation } from './implementations.js';
import {
  type RunWeights,
  SyntheticRun,
  type SyntheticRunConfig,
  syntheticRnnConfig,
  unitsOf,
} from './train-synthetic.js';

/**
 * Runs that one batched trainer can hold share this key: one task (input and output sizes, head),
 * hidden size and minibatch; unless `mixed`, also one unit (sigmoid init: sigmoid units, tanh
 * inits: tanh units) and one sequence length. With `mixed` the trainer holds them all, each
 * update's minibatches padded to the longest with each run's length beside them (`lengths`).
 * Undefined when a run's own lengths vary (each minibatch its own L), and it trains alone.
 */
export function syntheticBatchKey(config: SyntheticRunConfig, mixed = false): string | undefined {
  if (config.minLength !== config.maxLength) return undefined;
  const shared = `${config.task}/H${config.hidden}/B${config.batch}`;
  if (mixed) return `${shared}/mixed`;
  return `${config.task}/${unitsOf(config)}/H${config.hidden}/B${config.batch}/L${config.minLength}`;
}

/** A run in a slot of the group's trainer. */
interface Slot {
  run: SyntheticRun;
  handle: BatchedRun;
  /** its index in the current trainer (changes when the trainer shrinks) */
  index: number;
}

type Libraries = {
  tf: typeof import('@tensorflow/tfjs-core');
  rnn: typeof import('@cliffguard/rnn');
};

/** What createTrainer needs of the group's model: its sizes, units, head and implementation. */
type SyntheticModel = ReturnType<typeof syntheticRnnConfig> & { implementation: string };

const configOf = (handle: BatchedRun) => handle.run.config as SyntheticRunConfig;

/** One group's trainer and its slots; `slots[i]` is undefined where no run is left for slot i. */
class Group {
  trainer!: Trainer;
  slots: (Slot | undefined)[] = [];
  private readonly queue: BatchedRun[];

  constructor(
    private readonly lib: Libraries,
    /** the model every run of the group trains, and the implementation its runs use */
    private readonly model: SyntheticModel,
    runs: BatchedRun[],
    /** the group's R: the slots of its trainer (recorded in result.batched) */
    readonly size: number,
    private readonly stopRequested: () => boolean,
  ) {
    this.queue = [...runs];
  }

  /**
   * Creates the trainer, its members the group's first runs (placeholders: `fill` puts each run
   * in with replaceMember, like every later one), then fills every slot.
   */
  async start(): Promise<void> {
    this.trainer = this.createTrainer(
      this.queue.slice(0, this.size).map((h) => this.member(configOf(h), h.run.seed)),
    );
    for (let i = 0; i < this.size; i++) this.slots.push(await this.fill(i));
  }

  /** A compiled members trainer of the group's model (one key: the same sizes, units and head). */
  private createTrainer(members: TrainerMember[]): Trainer {
    return this.lib.rnn.createTrainer({ ...this.model, members, engine: 'compiled' });
  }

  /** A run's method, units, init and seed as a member of the trainer. */
  private member(config: SyntheticRunConfig, seed: number): TrainerMember {
    const method = this.lib.rnn.paperMethod(config.method, {
      learningRate: config.lr,
      maxNorm: config.clip,
      alpha: config.alpha,
      omegaVariant: config.omega,
    });
    return { method, activation: unitsOf(config), init: config.init, seed };
  }

  /**
   * Slot i's next run: the group's next one, put in with replaceMember and attached (fresh, or
   * from its checkpoint). A run that fails to start is told so and the next one is tried; none
   * starts once a stop was requested.
   */
  private async fill(index: number): Promise<Slot | undefined> {
    while (this.queue.length > 0 && !this.stopRequested()) {
      const handle = this.queue.shift() as BatchedRun;
      let run: SyntheticRun | undefined;
      try {
        run = await SyntheticRun.open(configOf(handle), handle.run.seed, handle.start());
        this.trainer.replaceMember(index, this.member(run.config, run.seed));
        const slot: Slot = { run, handle, index };
        await run.attach(this.slotWeights(slot));
        if (!run.ended) return slot;
        await this.finish(slot); // nothing left to train (an update cap of 0)
      } catch (err) {
        run?.dispose();
        handle.failed(err);
      }
    }
    return undefined;
  }

  /**
   * A slot's weights seen from its run. The compiled trainer's paper chain is plain SGD inside
   * the step: no optimizer state to save or restore (as for the one-run compiled trainer).
   */
  private slotWeights(slot: Slot): RunWeights {
    return {
      kind: 'batched',
      slots: this.size,
      toModel: async () => slot.run.model.setWeights(await this.trainer.getWeights(slot.index)),
      fromModel: async () => this.trainer.setWeights(slot.index, await slot.run.model.getWeights()),
      optimizerState: async () => null,
      setOptimizerState: async () => {},
    };
  }

  /** Free slots take the group's next runs; true while any slot holds a run. */
  async refill(): Promise<boolean> {
    for (let i = 0; i < this.slots.length; i++) this.slots[i] ??= await this.fill(i);
    return this.slots.some(Boolean);
  }

  /**
   * One update of every slot on the stacked minibatches. Each run draws its own; a slot without
   * a run steps on a copy of another slot's minibatch and its numbers are ignored (the simplest
   * honest filler; `shrink` keeps such slots few).
   */
  async step(): Promise<TrainerStepRecord | undefined> {
    const batches: (BatchArrays | undefined)[] = [];
    for (const slot of this.slots) batches.push(slot && (await this.draw(slot)));
    const filler = batches.find(Boolean);
    if (!filler) return undefined; // every run failed to draw: refill and try again
    const stacked = stackBatches(
      this.lib.tf,
      batches.map((b) => b ?? filler),
      this.model.head === 'softmax',
    );
    try {
      // each run's own update number (α schedules read it; runs joined at different times)
      return await this.trainer.step(stacked, { step: this.slots.map((s) => s?.run.step ?? 0) });
    } finally {
      this.lib.tf.dispose(Object.values(stacked));
    }
  }

  /** A run's next minibatch (and its first-update measurement); a run that fails here ends. */
  private async draw(slot: Slot): Promise<BatchArrays | undefined> {
    try {
      const batch = slot.run.nextBatch();
      await slot.run.beforeStep(batch);
      return batch;
    } catch (err) {
      this.end(slot, err);
      return undefined;
    }
  }

  /** Each run's bookkeeping after the update, from its column of the record. */
  async afterStep(record: TrainerStepRecord): Promise<void> {
    for (const slot of this.slots) {
      if (!slot) continue;
      try {
        if (await slot.run.afterStep(this.lib.rnn.runRecord(record, slot.index))) await this.finish(slot);
      } catch (err) {
        this.end(slot, err);
      }
    }
  }

  /** A run that ended: its result to the runner, its slot free. */
  private async finish(slot: Slot): Promise<void> {
    const result = await slot.run.result();
    slot.handle.done(result);
    this.release(slot);
  }

  /** A run that stopped on request (after its checkpoint) or failed. */
  private end(slot: Slot, err: unknown): void {
    if (err instanceof Interrupted) slot.handle.stopped();
    else slot.handle.failed(err);
    this.release(slot);
  }

  private release(slot: Slot): void {
    slot.run.dispose();
    if (this.slots[slot.index] === slot) this.slots[slot.index] = undefined;
  }

  /**
   * When no run is left to start and slots are empty, a trainer of just the runs still training
   * takes over (their weights moved across: a compiled run's whole training state), so the group's
   * last, longest runs do not pay for empty slots. On cpu and wasm a step costs about R times one
   * run's, so every empty slot is dropped at once (`eager`); on a GPU, where the slots step in
   * parallel and a new trainer compiles new programs, only once at most half the slots still train.
   */
  async shrink(eager: boolean): Promise<void> {
    const live = this.slots.filter((s): s is Slot => s !== undefined);
    const worth = eager ? live.length < this.slots.length : live.length <= this.slots.length / 2;
    if (this.queue.length > 0 || live.length === 0 || !worth) return;
    const next = this.createTrainer(live.map((s) => this.member(s.run.config, s.run.seed)));
    try {
      for (const [i, slot] of live.entries()) next.setWeights(i, await this.trainer.getWeights(slot.index));
    } catch (err) {
      next.dispose();
      throw err;
    }
    this.trainer.dispose();
    this.trainer = next;
    live.forEach((slot, i) => {
      slot.index = i;
    });
    this.slots = live;
  }

  /** Frees every run still in a slot (after a failure of the whole group) and the trainer. */
  dispose(): void {
    for (const slot of this.slots) slot?.run.dispose();
    this.slots = [];
    this.trainer?.dispose();
  }
}

/**
 * The runs' minibatches as one stacked batch: inputs [R, B, T, I], targets [R, ...]. Minibatches
 * of different lengths are padded with zeros to the longest T, and `lengths` says each run's
 * (per-step targets, [B, T] with `perStep`, are padded alike); the sizes B and I must agree.
 */
export function stackBatches(tf: Libraries['tf'], batches: BatchArrays[], perStep = false): StackedBatch {
  const [first] = batches;
  const [B, , I] = first.inputShape;
  const T = Math.max(...batches.map((b) => b.inputShape[1]));
  for (const b of batches) {
    const sameTargets = perStep ? b.targetShape[0] === B : b.targets.length === first.targets.length;
    if (b.inputShape[0] !== B || b.inputShape[2] !== I || !sameTargets)
      throw new Error(
        `batched runs drew minibatches of incompatible shapes (inputs [${b.inputShape}] and [${first.inputShape}], ` +
          `targets [${b.targetShape}] and [${first.targetShape}]): only the time axis may differ`,
      );
  }
  const lengths = batches.map((b) => b.inputShape[1]);
  const inputs = new Float32Array(batches.length * B * T * I);
  const perRun = perStep ? B * T : first.targets.length;
  const classes = first.targets instanceof Int32Array;
  const targets = classes
    ? new Int32Array(batches.length * perRun)
    : new Float32Array(batches.length * perRun);
  batches.forEach((b, r) => {
    const L = lengths[r];
    // sequence s of run r starts at ((r·B + s)·T)·I; its last T − L steps stay zero
    for (let s = 0; s < B; s++) {
      inputs.set(b.inputs.subarray(s * L * I, (s + 1) * L * I), (r * B + s) * T * I);
      if (perStep) targets.set(b.targets.subarray(s * L, (s + 1) * L), (r * B + s) * T);
    }
    if (!perStep) targets.set(b.targets, r * perRun);
  });
  const targetShape = perStep ? [B, T] : first.targetShape;
  return {
    inputs: tf.tensor(inputs, [batches.length, B, T, I], 'float32'),
    targets: tf.tensor(targets, [batches.length, ...targetShape], classes ? 'int32' : 'float32'),
    ...(lengths.some((l) => l !== T) ? { lengths } : {}),
  };
}

/**
 * Trains `runs` (one group: one `syntheticBatchKey`) through one batched trainer of
 * min(slots, runs) slots, each run's end told through its handle as it comes. A failure of the
 * whole group (the trainer's step) is thrown after its runs were freed; the runner then fails
 * every run not yet told.
 */
export async function trainSyntheticBatched(
  runs: BatchedRun[],
  options: { slots: number; backend: string; stopRequested(): boolean },
): Promise<void> {
  if (runs.length === 0) return;
  const lib = { tf: await import('@tensorflow/tfjs-core'), rnn: await import('@cliffguard/rnn') };
  const { createTask } = await import('@cliffguard/datasets');
  const first = configOf(runs[0]);
  const rnnConfig = syntheticRnnConfig(
    first,
    createTask(first.task, { minLength: first.minLength, maxLength: first.maxLength }),
  );
  const model = { ...rnnConfig, implementation: await pickImplementation(rnnConfig, options.backend) };
  const group = new Group(lib, model, runs, Math.min(options.slots, runs.length), options.stopRequested);
  try {
    await group.start();
    while (await group.refill()) {
      const record = await group.step();
      if (record) await group.afterStep(record);
      await group.shrink(options.backend !== 'webgpu');
      // a turn of the event loop: the runner's SIGINT / SIGTERM handler sets the stop flag in
      // this thread, and the cpu backend's steps never wait on anything outside it
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    group.dispose();
  }
}
