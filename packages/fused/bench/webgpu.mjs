#!/usr/bin/env node
// The fused pass against the op-by-op reference on tfjs's webgpu backend in Node (the `webgpu`
// package, Dawn): milliseconds per lossAndGradients with Ω 'code' (read back), median and
// min-max, interleaved. A software adapter (SwiftShader, lavapipe) says nothing about GPU speed;
// run this where a GPU and its Vulkan driver are present.
//   node packages/fused/bench/webgpu.mjs [--configs P100,M,C] [--reps 10]
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
Object.assign(globalThis, globals);
globalThis.navigator ??= {};
globalThis.navigator.gpu = create([]);
let adapter = await globalThis.navigator.gpu.requestAdapter();
// no Vulkan driver of the system's: Chromium's SwiftShader, when it is installed (software)
const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!adapter && !process.env.VK_ICD_FILENAMES && existsSync(swiftshader)) {
  process.env.VK_ICD_FILENAMES = swiftshader;
  globalThis.navigator.gpu = create([]);
  adapter = await globalThis.navigator.gpu.requestAdapter();
}
if (!adapter) throw new Error('no WebGPU adapter (no Vulkan driver?)');
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
await import('@cliffguard/fused');
const { getImplementation, referenceImplementation } = await import('@cliffguard/rnn');
if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs webgpu backend did not start');
await tf.ready();
console.log(`adapter: ${JSON.stringify(adapter.info ?? {})}`);

const CONFIGS = {
  P100: { I: 6, H: 50, O: 4, T: 100, B: 20, head: 'last-softmax' },
  M: { I: 88, H: 300, O: 88, T: 100, B: 16, head: 'sigmoid' },
  C: { I: 50, H: 512, O: 50, T: 100, B: 32, head: 'softmax' },
};
const fused = getImplementation('fused');
const stat = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return `${s[s.length >> 1].toFixed(2)} (${s[0].toFixed(2)}–${s[s.length - 1].toFixed(2)})`;
};
console.log('| config | fused ms | reference ms |\n| --- | --- | --- |');
for (const name of opt('configs', 'P100,M,C').split(',')) {
  const c = CONFIGS[name];
  const params = {
    W_in: tf.randomNormal([c.I, c.H], 0, 0.1),
    W_rec: tf.randomNormal([c.H, c.H], 0, 1 / Math.sqrt(c.H)),
    b: tf.zeros([c.H]),
    W_out: tf.randomNormal([c.H, c.O], 0, 0.1),
    b_out: tf.zeros([c.O]),
  };
  // float32 data from JavaScript (a cast on the GPU may keep int32 storage, which some of tfjs's
  // own webgpu programs reject)
  const u = new Float32Array(c.B * c.T * c.I);
  for (let r = 0; r < c.B * c.T; r++) u[r * c.I + Math.floor(Math.random() * c.I)] = 1;
  const inputs = tf.tensor3d(u, [c.B, c.T, c.I]);
  const targets =
    c.head === 'last-softmax'
      ? tf.randomUniformInt([c.B], 0, c.O)
      : c.head === 'softmax'
        ? tf.randomUniformInt([c.B, c.T], 0, c.O)
        : tf.cast(tf.less(tf.randomUniform([c.B, c.T, c.O]), 0.05), 'float32');
  const config = { inputSize: c.I, hiddenSize: c.H, outputSize: c.O, activation: 'tanh', head: c.head };
  const run = async (impl) => {
    const t0 = performance.now();
    const r = impl.lossAndGradients(
      params,
      config,
      { inputs, targets },
      { omega: { variant: 'code', weight: 2 } },
    );
    await r.grads.W_rec.data();
    const ms = performance.now() - t0;
    tf.dispose(r);
    return ms;
  };
  await run(fused);
  await run(referenceImplementation);
  const times = { fused: [], reference: [] };
  const reps = Number(opt('reps', '10'));
  for (let i = 0; i < reps; i++) {
    times.fused.push(await run(fused));
    if (i < Math.max(3, reps / 3)) times.reference.push(await run(referenceImplementation));
  }
  console.log(`| ${name} | ${stat(times.fused)} | ${stat(times.reference)} |`);
  tf.dispose([...Object.values(params), inputs, targets]);
}
process.exit(0);
