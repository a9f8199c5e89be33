/**
 * The clip-modes page: host mode against device mode of @cliffguard/clip's wrapper on a tf.layers
 * training step, in the browser (one esbuild bundle, nothing external: modes-build.ts), one backend
 * per page load. The model and protocol are those of ../../scripts/clip-modes.mjs (Node):
 * simpleRNN(32) over 20 steps of 6 inputs + dense softmax 4, batch 16, glorot initialisers (seeds
 * 1, 5, 2), adam(1e-3) wrapped by `withGradientClipping(…, { maxNorm, mode })`. Two identical
 * models, one per mode, train side by side in blocks of K `trainOnBatch` steps closed by one awaited
 * weight read; the arms alternate which goes first; warm-up blocks are not timed.
 * `window.clipModes.run(request)` resolves to a ModesResult; progress goes to console.log with
 * the prefix '[clip-modes]'.
 */
import { canReadSync, withGradientClipping } from '@cliffguard/clip';
import * as tf from '@tensorflow/tfjs-core';
// what the union package @tensorflow/tfjs adds to tfjs-core, and tfjs-layers relies on
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
// the bundler swaps this for an empty module when the package is not installed
import '@tensorflow/tfjs-backend-webgl';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ArmResult, ModesRequest, ModesResult } from './modes-protocol.js';

type Flags = ModesResult['flags'];

const log = (msg: string) => console.log(`[clip-modes] ${msg}`);

/** Starts `name`; null when it runs, else why it cannot here. Fills `flags` with what started. */
async function startBackend(name: string, flags: Flags): Promise<string | null> {
  if (!tf.findBackendFactory(name)) return `no '${name}' backend is registered in this bundle`;
  if (name === 'webgpu') {
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    if (!gpu) return 'navigator.gpu is missing (WebGPU is off in this browser)';
    const adapter = (await gpu.requestAdapter()) as { info?: Record<string, unknown> } | null;
    if (!adapter) return 'navigator.gpu.requestAdapter() gave no adapter';
    const info = adapter.info ?? {};
    for (const key of ['vendor', 'architecture', 'device', 'description']) {
      if (info[key]) flags[`adapter.${key}`] = String(info[key]);
    }
    flags.fallbackAdapter = Boolean(info.isFallbackAdapter);
  }
  try {
    if (!(await tf.setBackend(name))) return `tf.setBackend('${name}') returned false`;
    await tf.ready();
  } catch (err) {
    return `${name} failed to start: ${(err as Error).message}`;
  }
  if (tf.getBackend() !== name) return `tfjs runs '${tf.getBackend()}', not '${name}'`;
  if (name === 'webgpu') {
    const device = (
      tf.backend() as unknown as { device?: { lost?: Promise<{ reason: string; message: string }> } }
    ).device;
    device?.lost?.then((info) => {
      flags.deviceLost = `${info.reason}: ${info.message}`;
      log(`webgpu device lost (${info.reason}): ${info.message}`);
    });
  }
  if (name === 'webgl') {
    const gl = document.createElement('canvas').getContext('webgl2');
    const info = gl?.getExtension('WEBGL_debug_renderer_info');
    if (gl && info) flags.renderer = String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL));
    flags.webglVersion = tf.env().getNumber('WEBGL_VERSION');
  }
  return null;
}

const T = 20;
const B = 16;

function model() {
  return tfl.sequential({
    layers: [
      // glorot for the recurrent kernel too, as scripts/clip-modes.mjs (orthogonal fails on webgpu in Node)
      tfl.layers.simpleRNN({
        units: 32,
        inputShape: [T, 6],
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
        recurrentInitializer: tfl.initializers.glorotUniform({ seed: 5 }),
      }),
      tfl.layers.dense({
        units: 4,
        activation: 'softmax',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
}

/** The part of the clip optimizer read here. */
interface ClipView {
  deviceMode: boolean;
  lastGlobalNorm: number;
  stats: { steps: number; clipCount: number };
  readStats(): Promise<{ lastGlobalNorm: number; steps: number; clipCount: number }>;
  dispose(): void;
}

interface Arm {
  mode: 'host' | 'device';
  m: tfl.Sequential;
  optimizer: tf.Optimizer;
  result: ArmResult;
}

async function run(req: ModesRequest): Promise<ModesResult> {
  const t0 = performance.now();
  const result: ModesResult = {
    backend: req.backend,
    unavailable: null,
    flags: {},
    arms: [],
    tensorsBefore: 0,
    tensorsAfter: 0,
    wallMs: 0,
    error: null,
  };
  result.unavailable = await startBackend(req.backend, result.flags);
  if (result.unavailable !== null) {
    result.wallMs = performance.now() - t0;
    return result;
  }
  result.tensorsBefore = tf.memory().numTensors;
  // host mode needs a synchronous readback (tfjs's webgpu has one in a browser, not in Node)
  const readsSync = canReadSync(req.backend);
  result.flags.canReadSync = readsSync;
  result.flags.crossOriginIsolated = self.crossOriginIsolated;
  const modes = (req.modes ?? ['host', 'device']).filter((mode) => mode === 'device' || readsSync);
  const xs = tf.randomUniform([B, T, 6], 0, 1, 'float32', 3);
  const labels = tf.randomUniform([B], 0, 4, 'int32', 4);
  const ys = tf.oneHot(labels, 4);
  labels.dispose();
  const arms: Arm[] = [];
  try {
    for (const mode of modes) {
      const m = model();
      const optimizer = withGradientClipping(tf.train.adam(req.learningRate), { maxNorm: req.maxNorm, mode });
      m.compile({ optimizer, loss: 'categoricalCrossentropy' });
      arms.push({
        mode,
        m,
        optimizer,
        result: {
          mode,
          msPerStep: [],
          warmupMsPerStep: [],
          lastLoss: Number.NaN,
          steps: 0,
          clipCount: 0,
          lastGlobalNorm: Number.NaN,
          deviceMode: null,
        },
      });
    }

    const block = async (arm: Arm): Promise<number> => {
      const start = performance.now();
      for (let k = 0; k < req.k; k++) {
        arm.result.lastLoss = (await arm.m.trainOnBatch(xs, ys)) as number;
        if (arm.result.deviceMode === null) {
          arm.result.deviceMode = (arm.optimizer as unknown as ClipView).deviceMode;
        }
      }
      await arm.m.layers[1].getWeights()[1].data(); // wait for queued device work
      return (performance.now() - start) / req.k;
    };

    for (const arm of arms) {
      for (let i = 0; i < req.warmupBlocks; i++) {
        const ms = await block(arm);
        arm.result.warmupMsPerStep.push(ms);
        log(
          `${req.backend} warm-up ${arm.mode} block ${i + 1}/${req.warmupBlocks}: ${ms.toFixed(1)} ms/step`,
        );
      }
    }
    for (let rep = 0; rep < req.reps; rep++) {
      const order = rep % 2 === 0 ? arms : [...arms].reverse();
      const line: string[] = [];
      for (const arm of order) {
        const ms = await block(arm);
        arm.result.msPerStep.push(ms);
        line.push(`${arm.mode} ${ms.toFixed(1)}`);
      }
      log(`${req.backend} rep ${rep + 1}/${req.reps}: ${line.join(', ')} ms/step`);
    }

    for (const arm of arms) {
      const view = arm.optimizer as unknown as ClipView;
      const stats =
        arm.mode === 'device'
          ? await view.readStats()
          : { ...view.stats, lastGlobalNorm: view.lastGlobalNorm };
      arm.result.steps = stats.steps;
      arm.result.clipCount = stats.clipCount;
      arm.result.lastGlobalNorm = stats.lastGlobalNorm;
      result.arms.push(arm.result);
    }
  } catch (err) {
    result.error = `${(err as Error).message}\n${(err as Error).stack ?? ''}`;
  } finally {
    for (const arm of arms) {
      arm.m.dispose();
      arm.optimizer.dispose();
    }
    tf.dispose([xs, ys]);
  }
  result.tensorsAfter = tf.memory().numTensors;
  result.wallMs = performance.now() - t0;
  return result;
}

declare global {
  interface Window {
    clipModes: { run(req: ModesRequest): Promise<ModesResult> };
  }
}
window.clipModes = { run };
document.body.dataset.state = 'ready';
