// Host mode against device mode of @cliffguard/clip's wrapper on a tf.layers training step (a
// benchmark, not a test). Build first (`pnpm build` at the root), then
//
//   node scripts/clip-modes.mjs [cpu|wasm|webgpu] [--reps N]
//
// With no backend named, each of cpu, wasm and webgpu (Node, through Dawn; SwiftShader when no
// GPU driver is configured) runs in its own process. In each, two identical simpleRNN models
// train side by side, one with `withGradientClipping(adam, { maxNorm, mode: 'host' })` (one
// synchronous readback a step), one with `mode: 'device'` (none), interleaved block by block
// (which goes first alternates). A block is K steps followed by one awaited read of a weight, so
// queued GPU work is paid for in both. Prints ms per step, median (min-max) over the blocks, and
// the device/host ratio of the medians. webgpu in Node cannot read synchronously: host mode is
// reported as not run there (the browser page times both on webgl and webgpu).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const backend = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const repsArg = args.indexOf('--reps');
const REPS = repsArg >= 0 ? Number(args[repsArg + 1]) : 15;
const K = 5;

if (!backend) {
  console.log('| backend | host ms/step | device ms/step | device / host |');
  console.log('| --- | --- | --- | --- |');
  for (const name of ['cpu', 'wasm', 'webgpu']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), name, '--reps', String(REPS)], {
      stdio: 'inherit',
    });
    if (r.status !== 0) console.log(`| ${name} | failed (exit ${r.status}) | | |`);
  }
  process.exit(0);
}

const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
await import('@tensorflow/tfjs-backend-wasm');
if (backend === 'webgpu') {
  const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  globalThis.navigator ??= {};
  globalThis.navigator.gpu = create([]);
  await import('@tensorflow/tfjs-backend-webgpu');
}
const tfl = await import('@tensorflow/tfjs-layers');
const { withGradientClipping, canReadSync } = await import('@cliffguard/clip');
if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not start`);
await tf.ready();

const T = 20;
const B = 16;
function model() {
  return tfl.sequential({
    layers: [
      // (glorot for the recurrent kernel too: tfjs-layers' orthogonal initializer fails on webgpu in Node)
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
const xs = tf.randomUniform([B, T, 6], 0, 1, 'float32', 3);
const ys = tf.oneHot(tf.randomUniform([B], 0, 4, 'int32', 4), 4);

const hostRuns = canReadSync(backend);
const arms = [...(hostRuns ? ['host'] : []), 'device'].map((mode) => {
  const m = model();
  // maxNorm 1 clips some of the steps (24 of 85 in a webgl run): both modes take the same steps
  m.compile({
    optimizer: withGradientClipping(tf.train.adam(1e-3), { maxNorm: 1, mode }),
    loss: 'categoricalCrossentropy',
  });
  return { mode, m, times: [] };
});

async function block(arm) {
  const t0 = performance.now();
  for (let k = 0; k < K; k++) await arm.m.trainOnBatch(xs, ys);
  await arm.m.layers[1].getWeights()[1].data(); // wait for queued device work
  return (performance.now() - t0) / K;
}

for (const arm of arms) for (let i = 0; i < 2; i++) await block(arm); // warm-up
for (let rep = 0; rep < REPS; rep++) {
  const order = rep % 2 === 0 ? arms : [...arms].reverse();
  for (const arm of order) arm.times.push(await block(arm));
}
const median = (xs) => {
  const a = [...xs].sort((p, q) => p - q);
  return a[Math.floor(a.length / 2)];
};
const fmt = (xs) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
const host = arms.find((a) => a.mode === 'host');
const device = arms.find((a) => a.mode === 'device');
const adapter = backend === 'webgpu' && process.env.VK_ICD_FILENAMES ? ' (SwiftShader)' : '';
console.log(
  `| ${backend}${adapter} | ${host ? fmt(host.times) : 'not run: no synchronous readback in Node'} | ${fmt(device.times)} | ${host ? (median(device.times) / median(host.times)).toFixed(2) : '–'} |`,
);
