/**
 * How a synthetic run takes its updates. With the fused implementation the run is a one-run
 * batched ensemble (@cliffguard/rnn's createEnsemble): the whole update, from the forward pass to
 * the clip and SGD, is one kernel call on cpu and wasm, where trainStep with the clip wrapper adds
 * the norm, the clip and SGD as tfjs ops around the fused pass (P100 on wasm, quiet machine:
 * 2.4 vs 3.0 ms a step). Otherwise (the op-by-op reference) it is trainStep with paperMethod's
 * optimizer. Both give the same run to float32 tolerance (tested in @cliffguard/fused and
 * through the CLI). The model stays the one that is evaluated, probed and checkpointed: `toModel`
 * copies the ensemble's weights into it before any of that.
 */
import type { Batch, PaperMethodName, PaperMethodOptions, RnnModel, StepRecord } from '@cliffguard/rnn';

export interface SyntheticTrainer {
  /** 'ensemble' (one kernel call a step) or 'trainStep' */
  readonly kind: 'ensemble' | 'trainStep';
  /** One update on `batch`; `step` is the update number (α schedules read it). */
  step(batch: Batch, step: number): Promise<StepRecord>;
  /** Copies the training state's weights into the model (before it is evaluated or saved). */
  toModel(): Promise<void>;
  /** Takes the model's weights as the training state's (at the start, and after a resume). */
  fromModel(): Promise<void>;
  /** The optimizer's state for a checkpoint (null when it has none). */
  optimizerState(): unknown;
  /** Restores what optimizerState returned. */
  setOptimizerState(state: unknown): void;
  dispose(): void;
}

export interface TrainerSettings {
  model: RnnModel;
  method: PaperMethodName;
  options: PaperMethodOptions;
  implementation: string;
  backend: string;
}

type Rnn = typeof import('@cliffguard/rnn');
type Tf = typeof import('@tensorflow/tfjs-core');

/** SGD, SGD-C (withGradientClipping over sgd) or SGD-CR (+ Ω), the safeguard when clipping. */
function trainStepTrainer(rnn: Rnn, { model, method, options }: TrainerSettings): SyntheticTrainer {
  const paper = rnn.paperMethod(method, options);
  const optimizer = paper.optimizer as typeof paper.optimizer & {
    getState?: () => unknown;
    setState?: (s: unknown) => void;
  };
  return {
    kind: 'trainStep',
    step: (batch, step) =>
      rnn.trainStep(model, batch, optimizer, { omega: paper.omega, safeguard: paper.safeguard, step }),
    toModel: async () => {},
    fromModel: async () => {},
    optimizerState: () => optimizer.getState?.() ?? null,
    setOptimizerState: (s) => {
      if (s && optimizer.setState) optimizer.setState(s);
    },
    dispose: () => optimizer.dispose(),
  };
}

/** The same method as a one-run ensemble: its clip, Ω, safeguard and SGD inside the step. */
function ensembleTrainer(rnn: Rnn, tf: Tf, { model, method, options, implementation }: TrainerSettings) {
  const c = model.config;
  const ensemble = rnn.createEnsemble({
    inputSize: c.inputSize,
    hiddenSize: c.hiddenSize,
    outputSize: c.outputSize,
    activation: c.activation,
    head: c.head,
    members: [{ method, ...options }],
    implementation,
  });
  const trainer: SyntheticTrainer = {
    kind: 'ensemble',
    async step(batch, step) {
      const one = tf.tidy(() => ({
        inputs: tf.expandDims(batch.inputs, 0),
        targets: tf.expandDims(batch.targets, 0),
        ...(batch.mask ? { mask: tf.expandDims(batch.mask, 0) } : {}),
      }));
      try {
        return rnn.memberRecord(await ensemble.step(one, { step }), 0);
      } finally {
        tf.dispose(Object.values(one));
      }
    },
    toModel: async () => model.setWeights(await ensemble.member(0)),
    fromModel: async () => ensemble.setMember(0, await model.getWeights()),
    // plain SGD inside the step: no optimizer state
    optimizerState: () => null,
    setOptimizerState: () => {},
    dispose: () => ensemble.dispose(),
  };
  return trainer;
}

/**
 * The one-run ensemble where the (non-reference) implementation has a batched step on this
 * backend, else trainStep; `CLIFFGUARD_REPRO_TRAINER=trainStep` forces trainStep (to compare the
 * two). The trainer starts from the model's weights.
 */
export async function makeTrainer(settings: TrainerSettings): Promise<SyntheticTrainer> {
  const rnn = await import('@cliffguard/rnn');
  const tf = await import('@tensorflow/tfjs-core');
  const stacked = rnn.getImplementation(settings.implementation).stacked;
  const members = [rnn.resolvePaperMethod(settings.method, settings.options)];
  const useEnsemble =
    process.env.CLIFFGUARD_REPRO_TRAINER !== 'trainStep' &&
    settings.implementation !== 'reference' &&
    stacked?.supports(settings.model.config, members, settings.backend) === true;
  if (!useEnsemble) return trainStepTrainer(rnn, settings);
  const trainer = ensembleTrainer(rnn, tf, settings);
  await trainer.fromModel();
  return trainer;
}
