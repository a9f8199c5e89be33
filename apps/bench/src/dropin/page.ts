/**
 * The drop-in page: cliffguard as a browser user gets it (one esbuild bundle, nothing external),
 * training on the backend the test names, one case per page load:
 * - 'layers': a tf.layers simpleRNN + dense model, compiled with `withGradientClipping(tf.train.sgd)`,
 *   trained with `model.trainOnBatch`;
 * - 'fused-rnn': the paper's RNN on @cliffguard/fused's kernels, trained by `createTrainer` with a
 *   paper method.
 * `window.dropin.run(request)` runs a case and resolves to its CaseResult.
 */
import { withGradientClipping } from '@cliffguard/clip';
import { kernelInfo, wasmThreads } from '@cliffguard/fused';
import { createRnn, createTrainer, paperMethod } from '@cliffguard/rnn';
import * as tf from '@tensorflow/tfjs-core';
// what the union package @tensorflow/tfjs adds to tfjs-core, and tfjs-layers relies on
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
// the test's bundler swaps this for an empty module when the package is not installed
import '@tensorflow/tfjs-backend-webgl';
import * as tfl from '@tensorflow/tfjs-layers';
import { mulberry32 } from '../data.js';
import type { CaseRequest, CaseResult } from './protocol.js';

// the test's server serves tfjs-backend-wasm's .wasm files here (COOP/COEP: the threaded SIMD build)
setWasmPaths(new URL('./wasm/', location.href).href);

type Flags = CaseResult['flags'];

/** Starts `name`; null when it runs, else why it cannot here. Fills `flags` with what started. */
async function startBackend(name: string, flags: Flags): Promise<string | null> {
  flags.crossOriginIsolated = self.crossOriginIsolated;
  if (!tf.findBackendFactory(name)) return `no '${name}' backend is registered in this bundle`;
  if (name === 'webgpu') {
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    if (!gpu) return 'navigator.gpu is missing (WebGPU is off in this browser)';
    const adapter = (await gpu.requestAdapter()) as { info?: Record<string, unknown> } | null;
    if (!adapter) return 'navigator.gpu.requestAdapter() gave no adapter';
    flags.adapter = String(adapter.info?.architecture ?? adapter.info?.description ?? 'unknown');
    flags.fallbackAdapter = Boolean(adapter.info?.isFallbackAdapter);
  }
  try {
    if (!(await tf.setBackend(name))) return `tf.setBackend('${name}') returned false`;
    await tf.ready();
  } catch (err) {
    return `${name} failed to start: ${(err as Error).message}`;
  }
  if (tf.getBackend() !== name) return `tfjs runs '${tf.getBackend()}', not '${name}'`;
  if (name === 'webgl') {
    const gl = document.createElement('canvas').getContext('webgl2');
    const info = gl?.getExtension('WEBGL_debug_renderer_info');
    if (gl && info) flags.renderer = String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL));
    flags.webglVersion = tf.env().getNumber('WEBGL_VERSION');
  }
  return null;
}

/** A learnable toy batch: label 1 when the first input channel sums above zero over time. */
function toyBatch(B: number, T: number, I: number, seed: number) {
  const rand = mulberry32(seed);
  const x = Float32Array.from({ length: B * T * I }, () => 2 * rand() - 1);
  const labels = Int32Array.from({ length: B }, (_, b) => {
    let s = 0;
    for (let t = 0; t < T; t++) s += x[(b * T + t) * I];
    return s > 0 ? 1 : 0;
  });
  return { x, labels, shape: [B, T, I] as [number, number, number] };
}

/** The part of the clip optimizer read here, in both its forms (with and without readStats). */
interface ClipOptimizerView {
  lastGlobalNorm: number;
  stats: { steps: number; clipCount: number };
  readStats?: () => Promise<{ lastGlobalNorm: number; steps: number; clipCount: number }>;
  deviceMode?: boolean;
}

/** The optimizer's last pre-clip norm and statistics, read on the device when it keeps them there. */
export async function readClipStats(optimizer: ClipOptimizerView) {
  if (typeof optimizer.readStats === 'function') {
    const read = await optimizer.readStats();
    return { lastGlobalNorm: read.lastGlobalNorm, steps: optimizer.stats.steps, clipCount: read.clipCount };
  }
  return {
    lastGlobalNorm: optimizer.lastGlobalNorm,
    steps: optimizer.stats.steps,
    clipCount: optimizer.stats.clipCount,
  };
}

async function layersCase(req: CaseRequest, result: CaseResult): Promise<void> {
  const { x, labels, shape } = toyBatch(32, 8, 3, 7);
  const xs = tf.tensor3d(x, shape);
  const ys = tf.tensor1d(Float32Array.from(labels));
  const seeded = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const model = tfl.sequential({
    layers: [
      tfl.layers.simpleRNN({
        units: 8,
        inputShape: [shape[1], shape[2]],
        kernelInitializer: seeded(1),
        recurrentInitializer: seeded(2),
      }),
      tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: seeded(3) }),
    ],
  });
  const optimizer = withGradientClipping(tf.train.sgd(req.learningRate), { maxNorm: req.maxNorm });
  try {
    model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy' });
    const view = optimizer as unknown as ClipOptimizerView;
    for (let s = 0; s < req.steps; s++) {
      const t0 = performance.now();
      const loss = (await model.trainOnBatch(xs, ys)) as number;
      result.stepMs.push(performance.now() - t0);
      result.losses.push(loss);
      if (s === 0 && view.deviceMode !== undefined) result.flags.clipDeviceMode = view.deviceMode;
    }
    const stats = await readClipStats(view);
    result.norms.push(stats.lastGlobalNorm);
    result.statsSteps = stats.steps;
    result.clipCount = stats.clipCount;
  } finally {
    model.dispose();
    optimizer.dispose();
    tf.dispose([xs, ys]);
  }
}

async function fusedRnnCase(req: CaseRequest, result: CaseResult): Promise<void> {
  const method = req.method ?? 'SGD-C';
  const info = kernelInfo();
  result.flags.method = method;
  result.flags.fusedEngine = info.engines[req.backend] ?? 'none';
  result.flags.fusedThreads = wasmThreads();
  const { x, labels, shape } = toyBatch(16, 12, 4, 11);
  const model = createRnn({
    inputSize: shape[2],
    hiddenSize: 16,
    outputSize: 2,
    activation: 'tanh',
    head: 'last-softmax',
    seed: 5,
    implementation: 'fused',
  });
  const trainer = createTrainer({
    model,
    method: paperMethod(method, { learningRate: req.learningRate, maxNorm: req.maxNorm }),
  });
  const batch = { inputs: tf.tensor3d(x, shape), targets: tf.tensor1d(labels, 'int32') };
  try {
    result.flags.trainerEngine = trainer.engine;
    for (let s = 0; s < req.steps; s++) {
      const t0 = performance.now();
      const record = await trainer.step(batch);
      result.stepMs.push(performance.now() - t0);
      result.losses.push(record.loss[0]);
      result.norms.push(record.norm[0]);
      result.clipCount = (result.clipCount ?? 0) + (record.clipped[0] ? 1 : 0);
    }
  } finally {
    trainer.dispose();
    model.dispose();
    tf.dispose([batch.inputs, batch.targets]);
  }
}

async function run(req: CaseRequest): Promise<CaseResult> {
  const t0 = performance.now();
  const result: CaseResult = {
    backend: req.backend,
    unavailable: null,
    flags: {},
    losses: [],
    stepMs: [],
    norms: [],
    statsSteps: null,
    clipCount: null,
    tensorsBefore: 0,
    tensorsAfter: 0,
    wallMs: 0,
    error: null,
  };
  result.unavailable = await startBackend(req.backend, result.flags);
  if (result.unavailable === null) {
    result.tensorsBefore = tf.memory().numTensors;
    try {
      await (req.case === 'layers' ? layersCase(req, result) : fusedRnnCase(req, result));
    } catch (err) {
      result.error = `${(err as Error).message}\n${(err as Error).stack ?? ''}`;
    }
    result.tensorsAfter = tf.memory().numTensors;
  }
  result.wallMs = performance.now() - t0;
  return result;
}

declare global {
  interface Window {
    dropin: { run(req: CaseRequest): Promise<CaseResult> };
  }
}
window.dropin = { run };
document.body.dataset.state = 'ready';
