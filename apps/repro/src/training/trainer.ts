/**
 * How a synthetic run takes its updates: through @cliffguard/rnn's one training API,
 * `createTrainer`, with the paper's method (`paperMethod`). With the fused implementation the run
 * is a one-run members trainer whose engine compiles the paper's chain into the kernel: the whole
 * update, from the forward pass to the clip and SGD, is one kernel call on cpu and wasm (P100 on
 * wasm, quiet machine: 2.4 vs 3.0 ms a step for the model engine). Otherwise (the op-by-op
 * reference) it is a model trainer, the model engine that `trainStep` is. Both give the same run to
 * float32 tolerance (tested in @cliffguard/fused and through the CLI). The model stays the one
 * that is evaluated, probed and checkpointed: `toModel` copies the run's weights into it first.
 */
import type {
  Batch,
  PaperMethodName,
  PaperMethodOptions,
  RnnModel,
  StepRecord,
  Trainer,
} from '@cliffguard/rnn';

export interface SyntheticTrainer {
  /** 'ensemble' (the compiled one-run trainer, one kernel call a step) or 'trainStep' (the model engine) */
  readonly kind: 'ensemble' | 'trainStep';
  /** One update on `batch`; `step` is the update number (α schedules read it). */
  step(batch: Batch, step: number): Promise<StepRecord>;
  /** Copies the training state's weights into the model (before it is evaluated or saved). */
  toModel(): Promise<void>;
  /** Takes the model's weights as the training state's (at the start, and after a resume). */
  fromModel(): Promise<void>;
  /** The optimizer's state for a checkpoint (null when it has none). */
  optimizerState(): Promise<unknown>;
  /** Restores what optimizerState returned. */
  setOptimizerState(state: unknown): Promise<void>;
  dispose(): void;
}

export interface TrainerSettings {
  model: RnnModel;
  method: PaperMethodName;
  options: PaperMethodOptions;
  implementation: string;
  backend: string;
}

/**
 * The compiled one-run trainer where the (non-reference) implementation has one on this backend,
 * else the model trainer; `CLIFFGUARD_REPRO_TRAINER=trainStep` forces the model trainer (a test
 * compares the two through the CLI). The trainer starts from the model's weights.
 */
export async function makeTrainer(settings: TrainerSettings): Promise<SyntheticTrainer> {
  const rnn = await import('@cliffguard/rnn');
  const { model, implementation } = settings;
  const method = rnn.paperMethod(settings.method, settings.options);
  const c = model.config;
  const compiled =
    process.env.CLIFFGUARD_REPRO_TRAINER !== 'trainStep' && implementation !== 'reference'
      ? rnn.createTrainer({
          inputSize: c.inputSize,
          hiddenSize: c.hiddenSize,
          outputSize: c.outputSize,
          activation: c.activation,
          head: c.head,
          members: [{ method }],
          implementation,
          engine: 'auto',
        })
      : null;
  if (compiled && compiled.engine !== 'compiled') compiled.dispose();
  const useCompiled = compiled?.engine === 'compiled';
  const trainer = useCompiled ? (compiled as Trainer) : rnn.createTrainer({ model, method });
  const wrapped: SyntheticTrainer = {
    kind: useCompiled ? 'ensemble' : 'trainStep',
    async step(batch, step) {
      if (!useCompiled) return rnn.runRecord(await trainer.step(batch, { step }));
      const tf = await import('@tensorflow/tfjs-core');
      // a members trainer takes a leading run axis
      const one = tf.tidy(() => ({
        inputs: tf.expandDims(batch.inputs, 0),
        targets: tf.expandDims(batch.targets, 0),
        ...(batch.mask ? { mask: tf.expandDims(batch.mask, 0) } : {}),
      }));
      try {
        return rnn.runRecord(await trainer.step(one, { step }));
      } finally {
        tf.dispose(Object.values(one));
      }
    },
    toModel: async () => {
      if (useCompiled) model.setWeights(await trainer.getWeights(0));
    },
    fromModel: async () => {
      if (useCompiled) trainer.setWeights(0, await model.getWeights());
    },
    // the compiled paper chain is plain SGD inside the step: no optimizer state
    optimizerState: async () => (useCompiled ? null : (await trainer.getState()).optimizers),
    async setOptimizerState(s) {
      if (useCompiled || !Array.isArray(s)) return;
      await trainer.setState({ ...(await trainer.getState()), optimizers: s });
    },
    dispose: () => trainer.dispose(),
  };
  await wrapped.fromModel();
  return wrapped;
}
