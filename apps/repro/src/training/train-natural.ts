/**
 * Training runs on the natural tasks (paper Table 1): character-level PTB (truncated BPTT over
 * consecutive segments, hidden state carried) and polyphonic music (piano-roll windows). After
 * every epoch the validation split is evaluated: the learning rate is halved when it rises, the
 * best weights so far are kept, and a run stops after `patience` epochs without improvement. The
 * reported train / valid / test numbers are those of the best-validation weights. Music is
 * evaluated on whole pieces, the hidden state carried from window to window. Runs checkpoint at
 * minibatch boundaries: weights, best weights, optimizer and clipping state, position in the
 * epoch, learning rate, and for PTB the carried hidden state.
 */

import type { PianoRoll } from '@cliffguard/datasets';
import type { RnnModel } from '@cliffguard/rnn';
import type * as TF from '@tensorflow/tfjs-core';
import { decodeFloat32, encodeFloat32 } from '../core/checkpoint.js';
import { requireDataDir } from '../core/paths.js';
import { Interrupted, type RunContext } from '../core/types.js';
import { pickImplementation } from './implementations.js';
import { addStep, closeWindow, emptyWindow, type TracePoint, thin, type WindowStats } from './trace.js';
import type { Method } from './train-synthetic.js';
import { loadWeights, type SavedWeights, saveWeights } from './weights.js';

export interface NaturalRunConfig extends Record<string, unknown> {
  data: 'ptb' | 'music';
  /** ptb: 1 (next character) or 5 (5th character ahead); music: the set's name */
  ahead?: number;
  set?: string;
  method: Method;
  hidden: number;
  batch: number;
  /** steps per segment / window */
  steps: number;
  /** learning rate and clip threshold on our mean-over-(batch, time) loss */
  lr: number;
  clip: number;
  /** Ω weight at the first update (music: decays as 1/(1 + epoch)) */
  alpha: number;
  alphaDecay: boolean;
  /** Ω's normalisation (SGD-CR): 'code' (the authors': mean over (t, b)) or 'paper' (eq. 9); absent in older results: 'paper' */
  omega?: 'paper' | 'code';
  /** halve the learning rate when an epoch's validation error rises */
  halveOnRise: boolean;
  /** the most epochs */
  epochs: number;
  /** stop after this many epochs without a better validation error (absent: never stop early) */
  patience?: number;
  /** a better validation error must be lower by this fraction of the best (absent: any lower one) */
  minImprovement?: number;
  /** 0 = the whole split; else this many symbols (ptb) or pieces (music) */
  trainLimit: number;
  evalLimit: number;
  /** what the paper's numbers were made with, for the report */
  paperSetup: string;
}

export interface NaturalRunResult extends Record<string, unknown> {
  /** bits per character (ptb) or NLL per time step (music) */
  metric: 'bits/char' | 'NLL/step';
  /** train / valid / test of the best-validation weights */
  train: number;
  test: number;
  valid: number;
  updates: number;
  /** epochs trained */
  epochs: number;
  /** the epoch (1-based) whose weights are reported */
  bestEpoch: number;
  /** true when the run stopped before `epochs` because validation stopped improving */
  stoppedEarly: boolean;
  clippedFraction: number;
  implementation: string;
  trace: TracePoint[];
  /** the learning curve: training loss (epoch mean), validation metric and lr of each epoch */
  perEpoch: EpochRecord[];
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  /** the validation metric after the epoch (absent in older results) */
  valid?: number;
  lr: number;
}

interface NaturalState {
  weights: SavedWeights;
  optimizer: unknown;
  epoch: number;
  batchIndex: number;
  lr: number;
  epochLossSum: number;
  epochLossN: number;
  /** the validation track, flat, and the best weights beside the best error */
  prevValid: number | null;
  best: { valid: number; epoch: number; weights: SavedWeights } | null;
  sinceBest: number;
  carried: { shape: number[]; data: string } | null;
  window: WindowStats;
  trace: TracePoint[];
  traceEvery: number;
  clippedTotal: number;
  perEpoch: NaturalRunResult['perEpoch'];
}

/**
 * rnn has no setter for the carried state; resuming truncated BPTT mid-epoch needs one, so the
 * checkpointed state is put back into the model's private slot (checked to exist).
 */
function restoreCarried(tf: typeof TF, model: RnnModel, saved: NaturalState['carried']): void {
  const slot = model as unknown as { carried?: TF.Tensor2D[] | null };
  if (!saved || !('carried' in slot)) return;
  model.resetState();
  slot.carried = [tf.keep(tf.tensor2d(decodeFloat32(saved.data), saved.shape as [number, number]))];
}

interface Source {
  /** minibatches of one epoch, each a batch and the number of scored symbols/steps */
  epochBatches(epoch: number): {
    count: number;
    get(i: number): { inputs: TF.Tensor3D; targets: TF.Tensor; mask?: TF.Tensor2D };
  };
  /** evaluation metric on a split (model in the right carry mode) */
  evaluate(split: 'train' | 'valid' | 'test'): Promise<number>;
  inputSize: number;
  outputSize: number;
  head: 'softmax' | 'sigmoid';
  carry: boolean;
  metric: NaturalRunResult['metric'];
}

async function ptbSource(config: NaturalRunConfig, ctx: RunContext, model: () => RnnModel): Promise<Source> {
  const tf = await import('@tensorflow/tfjs-core');
  const data = await import('@cliffguard/datasets');
  const ptb = await data.loadPtbChars({ dir: requireDataDir(ctx.dataDir, 'ptb'), unseen: 'unk' });
  const cut = (s: Int32Array, n: number) => (n > 0 ? s.subarray(0, Math.min(n, s.length)) : s);
  const vocabSize = ptb.vocab.length;
  const train = data.createCharBatches(cut(ptb.train, config.trainLimit), {
    batchSize: config.batch,
    steps: config.steps,
    ahead: config.ahead,
    vocabSize,
  });
  const evaluate = async (split: 'train' | 'valid' | 'test') => {
    const m = model();
    const batches = data.createCharBatches(cut(ptb[split], config.evalLimit), {
      batchSize: config.batch,
      steps: config.steps,
      ahead: config.ahead,
      vocabSize,
      keepPartial: true,
    });
    m.resetState();
    let sum = 0;
    let count = 0;
    for (let s = 0; s < batches.numSegments; s++) {
      const seg = batches.segment(s);
      const { outputs, states } = m.forward(seg.inputs);
      const probs = (await outputs.data()) as Float32Array;
      const targets = (await seg.targets.data()) as Int32Array;
      tf.dispose([outputs, states, seg.inputs, seg.targets]);
      for (let i = 0; i < targets.length; i++)
        sum -= Math.log(Math.max(1e-12, probs[i * vocabSize + targets[i]]));
      count += targets.length;
    }
    m.resetState();
    return data.bitsPerChar(sum, count);
  };
  return {
    epochBatches: () => ({ count: train.numSegments, get: (i) => train.segment(i) }),
    evaluate,
    inputSize: vocabSize,
    outputSize: vocabSize,
    head: 'softmax',
    carry: true,
    metric: 'bits/char',
  };
}

/**
 * NLL per time step of `model` on every piece of `roll`, each piece whole, as the likelihood of a
 * piece should be: lanes of `batch` pieces read window after window with the hidden state carried,
 * padding masked. The model's carry mode is restored afterwards.
 */
export async function wholePieceNll(model: RnnModel, roll: PianoRoll, batch: number): Promise<number> {
  const tf = await import('@tensorflow/tfjs-core');
  const { nllPerStep, PIANO_KEYS } = await import('@cliffguard/datasets');
  const carrying = model.carryState;
  model.carryState = true;
  let sum = 0;
  let steps = 0;
  try {
    for (const group of roll.pieceLanes(batch)) {
      model.resetState();
      for (let w = 0; w < group.windows; w++) {
        const a = roll.laneArrays(group.pieces, w);
        const inputs = tf.tensor3d(a.inputs, [a.batchSize, a.steps, PIANO_KEYS]);
        const { outputs, states } = model.forward(inputs);
        const probs = (await outputs.data()) as Float32Array;
        tf.dispose([inputs, outputs, states]);
        const n = a.mask.reduce((s, v) => s + v, 0);
        if (n > 0) {
          sum += nllPerStep(probs, a.targets, a.mask) * n;
          steps += n;
        }
      }
    }
  } finally {
    model.resetState();
    model.carryState = carrying;
  }
  return sum / steps;
}

async function musicSource(
  config: NaturalRunConfig,
  ctx: RunContext,
  model: () => RnnModel,
  seed: number,
): Promise<Source> {
  const data = await import('@cliffguard/datasets');
  const set = await data.loadPolyphonic(config.set as Parameters<typeof data.loadPolyphonic>[0], {
    dir: requireDataDir(ctx.dataDir, 'music'),
  });
  const cut = <T>(xs: T[], n: number) => (n > 0 ? xs.slice(0, n) : xs);
  const train = data.createPianoRoll(cut(set.train, config.trainLimit), config.steps);
  const evaluate = (split: 'train' | 'valid' | 'test') =>
    wholePieceNll(
      model(),
      data.createPianoRoll(cut(set[split], config.evalLimit), config.steps),
      config.batch,
    );
  return {
    epochBatches: (epoch) => {
      const order = train.epoch(config.batch, seed * 1000 + epoch);
      return { count: order.length, get: (i) => train.batch(order[i]) };
    },
    evaluate,
    inputSize: data.PIANO_KEYS,
    outputSize: data.PIANO_KEYS,
    head: 'sigmoid',
    carry: false,
    metric: 'NLL/step',
  };
}

const TRACE_LIMIT = 120;

/** What the validation errors so far have decided: the schedule of a natural-task run. */
export interface ValidationTrack {
  /** the previous epoch's validation error */
  prevValid: number | null;
  /** the best validation error and its epoch (1-based); null before the first epoch */
  best: { valid: number; epoch: number } | null;
  /** epochs since the best */
  sinceBest: number;
}

export const NEW_TRACK: ValidationTrack = { prevValid: null, best: null, sinceBest: 0 };

/**
 * The schedule after epoch `epoch` (1-based) ends with validation error `valid`: whether it is a
 * new best (the first always is; a NaN, a diverged run, never beats a number; with
 * `minImprovement` it must be lower than the best by that fraction of it), whether the
 * learning rate halves (the error rose, or is NaN), and whether the run stops (`patience` epochs
 * without a new best).
 */
export function afterEpoch(
  track: ValidationTrack,
  valid: number,
  epoch: number,
  rules: { halveOnRise: boolean; patience?: number; minImprovement?: number },
): { track: ValidationTrack; improved: boolean; halve: boolean; stop: boolean } {
  const b = track.best;
  // as Keras's EarlyStopping min_delta, relative: a new best must beat the old by this fraction
  const bar = b === null ? Number.NaN : b.valid - (rules.minImprovement ?? 0) * Math.abs(b.valid);
  const improved = b === null || (!Number.isNaN(valid) && (Number.isNaN(b.valid) || valid < bar));
  const sinceBest = improved ? 0 : track.sinceBest + 1;
  return {
    track: { prevValid: valid, best: improved ? { valid, epoch } : b, sinceBest },
    improved,
    halve: rules.halveOnRise && track.prevValid !== null && !(valid <= track.prevValid),
    stop: rules.patience !== undefined && sinceBest >= rules.patience,
  };
}

export async function runNatural(
  config: NaturalRunConfig,
  seed: number,
  ctx: RunContext,
): Promise<NaturalRunResult> {
  const tf = await import('@tensorflow/tfjs-core');
  const rnn = await import('@cliffguard/rnn');
  const clip = await import('@cliffguard/clip');
  let model: RnnModel | undefined;
  const getModel = () => model!;
  const source =
    config.data === 'ptb'
      ? await ptbSource(config, ctx, getModel)
      : await musicSource(config, ctx, getModel, seed);
  const rnnConfig = {
    inputSize: source.inputSize,
    hiddenSize: config.hidden,
    outputSize: source.outputSize,
    activation: 'sigmoid',
    head: source.head,
  } as const;
  const implementation = await pickImplementation(rnnConfig, ctx.backend);
  model = rnn.createRnn({ ...rnnConfig, init: 'sigmoid', seed, implementation, carryState: source.carry });
  const sgd = tf.train.sgd(config.lr);
  const optimizer = config.method === 'SGD' ? sgd : clip.withGradientClipping(sgd, { maxNorm: config.clip });

  let epoch = 0;
  let batchIndex = 0;
  let step = 0;
  let lr = config.lr;
  let epochLossSum = 0;
  let epochLossN = 0;
  let track = NEW_TRACK;
  let bestWeights: SavedWeights | null = null;
  let window = emptyWindow();
  let trace: TracePoint[] = [];
  let traceEvery = 10;
  let clippedTotal = 0;
  let perEpoch: NaturalRunResult['perEpoch'] = [];
  const saveState = async (): Promise<NaturalState> => {
    const carried = model!.carriedState?.[0];
    return {
      weights: saveWeights(await model!.getWeights()),
      optimizer: 'getState' in optimizer ? (optimizer as { getState(): unknown }).getState() : null,
      epoch,
      batchIndex,
      lr,
      epochLossSum,
      epochLossN,
      prevValid: track.prevValid,
      best: track.best && bestWeights ? { ...track.best, weights: bestWeights } : null,
      sinceBest: track.sinceBest,
      carried: carried
        ? { shape: [...carried.shape], data: encodeFloat32((await carried.data()) as Float32Array) }
        : null,
      window,
      trace,
      traceEvery,
      clippedTotal,
      perEpoch,
    };
  };
  // the paper's music setup: α decays as 1/t (here t = epochs done), a fixed α harms natural tasks
  const omega =
    config.method === 'SGD-CR'
      ? {
          alpha: () => (config.alphaDecay ? config.alpha / (1 + epoch) : config.alpha),
          variant: config.omega ?? 'code',
        }
      : null;
  const safeguard = config.method !== 'SGD';
  const rhoOf = async () => {
    const W = model!.variables.W_rec;
    return rnn.spectralRadius({ values: await W.data(), shape: W.shape });
  };
  const first = source.epochBatches(0);
  const total = config.epochs * first.count;
  try {
    // inside the try: a bad checkpoint throws here, and the model and optimizer are still disposed
    const resumed = ctx.resume<NaturalState>();
    if (resumed) {
      const s = resumed.state;
      model.setWeights(loadWeights(s.weights));
      if (s.optimizer && 'setState' in optimizer)
        (optimizer as { setState(x: unknown): void }).setState(s.optimizer);
      ({
        epoch,
        batchIndex,
        lr,
        epochLossSum,
        epochLossN,
        window,
        trace,
        traceEvery,
        clippedTotal,
        perEpoch,
      } = s);
      track = {
        prevValid: s.prevValid,
        best: s.best && { valid: s.best.valid, epoch: s.best.epoch },
        sinceBest: s.sinceBest,
      };
      bestWeights = s.best?.weights ?? null;
      step = resumed.step;
      sgd.setLearningRate(lr);
      restoreCarried(tf, model, s.carried);
    }
    while (epoch < config.epochs) {
      const batches = batchIndex === 0 && epoch === 0 ? first : source.epochBatches(epoch);
      if (batchIndex === 0 && source.carry) model.resetState();
      while (batchIndex < batches.count) {
        const b = batches.get(batchIndex);
        let record: Awaited<ReturnType<typeof rnn.trainStep>>;
        try {
          record = await rnn.trainStep(model, b, optimizer, { omega, safeguard, step });
        } finally {
          tf.dispose([b.inputs, b.targets, ...(b.mask ? [b.mask] : [])]);
        }
        step += 1;
        batchIndex += 1;
        addStep(window, record);
        if (record.clipped) clippedTotal += 1;
        if (Number.isFinite(record.loss)) {
          epochLossSum += record.loss;
          epochLossN += 1;
        }
        if (step % traceEvery === 0) {
          trace.push(closeWindow(window, step, await rhoOf(), [], null));
          window = emptyWindow();
          if (trace.length > TRACE_LIMIT) {
            trace = thin(trace);
            traceEvery *= 2;
          }
        }
        ctx.progress({
          step,
          total,
          loss: record.loss,
          gradNorm: record.norm,
          note: `epoch ${epoch + 1}/${config.epochs}`,
        });
        if (ctx.checkpointDue()) {
          ctx.checkpoint(step, await saveState());
          if (ctx.stopRequested()) throw new Interrupted();
        }
      }
      const epochLoss = epochLossN ? epochLossSum / epochLossN : Number.NaN;
      const valid = await source.evaluate('valid');
      perEpoch.push({
        epoch: epoch + 1,
        trainLoss: Number(epochLoss.toPrecision(6)),
        valid: Number(valid.toPrecision(6)),
        lr,
      });
      const next = afterEpoch(track, valid, epoch + 1, config);
      track = next.track;
      if (next.improved) bestWeights = saveWeights(await model.getWeights());
      if (next.halve) {
        lr /= 2;
        sgd.setLearningRate(lr);
      }
      epoch += 1;
      batchIndex = 0;
      epochLossSum = 0;
      epochLossN = 0;
      if (next.stop) break;
    }
    if (window.n > 0) trace.push(closeWindow(window, step, await rhoOf(), [], null));
    const epochsTrained = epoch;
    if (bestWeights) model.setWeights(loadWeights(bestWeights));
    const evalTrain = await source.evaluate('train');
    const evalValid = track.best ? track.best.valid : await source.evaluate('valid');
    const evalTest = await source.evaluate('test');
    const r = (v: number) => Number(v.toPrecision(5));
    return {
      metric: source.metric,
      train: r(evalTrain),
      valid: r(evalValid),
      test: r(evalTest),
      updates: step,
      epochs: epochsTrained,
      bestEpoch: track.best?.epoch ?? 0,
      stoppedEarly: epochsTrained < config.epochs,
      clippedFraction: step ? clippedTotal / step : 0,
      implementation,
      trace,
      perEpoch,
    };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
