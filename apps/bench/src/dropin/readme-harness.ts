/**
 * Around the README's first example in the page (build.ts writes the module: this harness's
 * `beforeExample`, the README block as written, then `afterExample`): the test's own `xs` and
 * `ys`, a record of what the example logs and of its `model.fit` History, and, afterwards, the
 * optimizer's numbers and a leak check once the example's tensors are disposed.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { mulberry32 } from '../data.js';
import type { ReadmeResult } from './protocol.js';

type Tf = typeof tfc & typeof tfl;

interface Before {
  xs: tfc.Tensor3D;
  ys: tfc.Tensor1D;
  t0: number;
  tensorsBefore: number;
  logged: unknown[][];
  histories: tfl.History[];
  restore: () => void;
}

let state: Before | null = null;

const jsonSafe = (v: unknown): unknown =>
  typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.parse(JSON.stringify(v ?? null));

/**
 * The example's data: `samples` sequences of 100 steps of 6 inputs (the README's inputShape) and
 * a class in 0..3 each. Records console.log and every `model.fit` History (both call through).
 */
export function beforeExample(tf: Tf, samples: number): { xs: tfc.Tensor3D; ys: tfc.Tensor1D } {
  const t0 = performance.now();
  const tensorsBefore = tf.memory().numTensors;
  const rand = mulberry32(2013);
  const xs = tf.tensor3d(
    Float32Array.from({ length: samples * 100 * 6 }, () => 2 * rand() - 1),
    [samples, 100, 6],
  );
  const ys = tf.tensor1d(Float32Array.from({ length: samples }, () => Math.floor(rand() * 4)));
  const logged: unknown[][] = [];
  const histories: tfl.History[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => {
    logged.push(args.map(jsonSafe));
    log.apply(console, args);
  };
  const proto = tf.LayersModel.prototype;
  const fit = proto.fit;
  proto.fit = async function (this: tfl.LayersModel, ...args: Parameters<typeof fit>) {
    const history = await fit.apply(this, args);
    histories.push(history);
    return history;
  };
  const restore = () => {
    console.log = log;
    proto.fit = fit;
  };
  state = { xs, ys, t0, tensorsBefore, logged, histories, restore };
  return { xs, ys };
}

interface ClipOptimizerView {
  lastGlobalNorm: number;
  stats: { steps: number };
  readStats?: () => Promise<{ lastGlobalNorm: number }>;
  dispose(): void;
}

/** After the example: the optimizer's numbers, then everything disposed and the tensors counted. */
export async function afterExample(
  tf: Tf,
  model: tfl.LayersModel,
  optimizer: ClipOptimizerView,
): Promise<ReadmeResult> {
  const s = state!;
  s.restore();
  const lastGlobalNorm =
    typeof optimizer.readStats === 'function'
      ? (await optimizer.readStats()).lastGlobalNorm
      : optimizer.lastGlobalNorm;
  const history = s.histories.at(-1);
  const result: ReadmeResult = {
    backend: tf.getBackend(),
    logged: s.logged,
    lastGlobalNorm,
    statsSteps: optimizer.stats.steps,
    epochs: history?.epoch.length ?? 0,
    samples: s.xs.shape[0],
    epochLosses: (history?.history.loss ?? []).map(Number),
    tensorsBefore: s.tensorsBefore,
    tensorsAfter: 0,
    wallMs: 0,
    error: null,
  };
  model.dispose();
  optimizer.dispose();
  tf.dispose([s.xs, s.ys]);
  result.tensorsAfter = tf.memory().numTensors;
  result.wallMs = performance.now() - s.t0;
  return result;
}
