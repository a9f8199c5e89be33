#!/usr/bin/env node
// Fused ensembles on tfjs's webgpu backend in Node (the `webgpu` package, Dawn): milliseconds per
// ensemble step of R SGD-C runs (a members trainer: createTrainer with implementation 'fused' and
// the compiled engine), updates per second summed over runs, and the WebGPU programs dispatched per
// step (counted at the backend). P100 by default. A software adapter (SwiftShader) says nothing
// about GPU speed; the dispatch count holds on any adapter. Each step is timed side by side, rep by
// rep, with the update done the way it was before the WGSL update existed (the batched pass,
// CliffguardRnnEnsembleLoss, then rnn's `stackedUpdate` as tfjs ops — no longer a public export
// of @cliffguard/rnn, so it is loaded from the built package's ensemble-step.js): the rows
// 'kernel' and 'pass + ops', and their ratio.
//   node packages/fused/bench/webgpu-ensemble.mjs [--config P100] [--runs 1,4,16] [--reps 5]
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
const fused = await import('@cliffguard/fused');
const { createTrainer, paperMethod } = await import('@cliffguard/rnn');
// rnn's internal batched update (what the reference's compiled engine runs after its gradients)
const { stackedUpdate } = await import(
  new URL('./ensemble-step.js', import.meta.resolve('@cliffguard/rnn')).href
);
if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs webgpu backend did not start');
await tf.ready();
console.log(`adapter: ${JSON.stringify(adapter.info ?? {})}`);

const CONFIGS = {
  P50: { I: 6, H: 50, O: 4, T: 50, B: 20, head: 'last-softmax' },
  P100: { I: 6, H: 50, O: 4, T: 100, B: 20, head: 'last-softmax' },
  M: { I: 88, H: 300, O: 88, T: 100, B: 16, head: 'sigmoid' },
};
const name = opt('config', 'P100');
const c = CONFIGS[name];
const reps = Number(opt('reps', '5'));

// every program tfjs or cliffguard dispatches goes through runWebGPUProgram
const backend = tf.backend();
let dispatches = 0;
const runProgram = backend.runWebGPUProgram.bind(backend);
backend.runWebGPUProgram = (...a) => {
  dispatches++;
  return runProgram(...a);
};

const PARAMS = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'];
/** The update as it was: the batched pass, then rnn's stackedUpdate (about 95 tfjs ops). */
function passThenOps(params, config, batch, members, alphas) {
  const rows = members.map((m, r) => {
    const row = {
      alpha: m.usesOmega ? alphas[r] : 0,
      maxNorm: m.clips ? m.maxNorm : Number.POSITIVE_INFINITY,
      learningRate: m.learningRate,
      safeguard: m.safeguard ? 1 : 0,
      omega: m.usesOmega ? (m.omegaVariant === 'paper' ? 1 : 2) : 0,
    };
    return fused.ENSEMBLE_RUN_COLUMNS.map((k) => row[k]);
  });
  const [loss, omega, ...grads] = tf
    .engine()
    .runKernel(
      fused.RNN_ENSEMBLE_LOSS,
      { ...params, ...batch, mask: tf.tensor1d([]), runs: tf.tensor2d(rows) },
      { activation: config.activation, head: config.head, omega: members.some((m) => m.usesOmega) },
    );
  return stackedUpdate(
    params,
    { loss, omega, grads: Object.fromEntries(PARAMS.map((k, i) => [k, grads[i]])) },
    members,
  );
}
const opsImplementation = {
  ...fused.fusedImplementation,
  stacked: { ...fused.fusedImplementation.stacked, trainStep: passThenOps },
};

const stat = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1] };
};
console.log(`${name} on webgpu, SGD-C runs, median (min–max) of ${reps} steps, the two updates alternating`);
console.log(
  '| R | update | step ms | updates/s | programs dispatched per step | kernel / pass + ops (step time) |\n| --- | --- | --- | --- | --- | --- |',
);
for (const R of opt('runs', '1,4,16').split(',').map(Number)) {
  // 'pass + ops': the same trainer over the fused implementation whose batched step is passThenOps
  const make = (implementation) =>
    createTrainer({
      inputSize: c.I,
      hiddenSize: c.H,
      outputSize: c.O,
      head: c.head,
      method: paperMethod('SGD-C', { learningRate: 0.01, maxNorm: 1 }),
      members: Array.from({ length: R }, (_, r) => ({ seed: r + 1 })),
      implementation,
      engine: 'compiled',
    });
  const ways = [
    { label: 'kernel', trainer: make('fused'), times: [], counted: 0 },
    { label: 'pass + ops', trainer: make(opsImplementation), times: [], counted: 0 },
  ];
  // float32 data from JavaScript (int32 targets as uploaded values, not a cast on the GPU)
  const u = new Float32Array(R * c.B * c.T * c.I);
  for (let i = 0; i < R * c.B * c.T; i++) u[i * c.I + Math.floor(Math.random() * c.I)] = 1;
  const n = R * (c.head === 'last-softmax' ? c.B : c.B * c.T);
  const batch = {
    inputs: tf.tensor4d(u, [R, c.B, c.T, c.I]),
    targets:
      c.head === 'sigmoid'
        ? tf.tensor4d(
            Float32Array.from({ length: n * c.O }, () => (Math.random() < 0.05 ? 1 : 0)),
            [R, c.B, c.T, c.O],
          )
        : tf.tensor(
            Int32Array.from({ length: n }, () => Math.floor(Math.random() * c.O)),
            c.head === 'last-softmax' ? [R, c.B] : [R, c.B, c.T],
            'int32',
          ),
  };
  for (const w of ways) await w.trainer.step(batch);
  for (let i = 0; i < reps; i++) {
    for (const w of ways) {
      const before = dispatches;
      const t0 = performance.now();
      await w.trainer.step(batch);
      w.times.push(performance.now() - t0);
      w.counted = dispatches - before;
    }
  }
  const ratios = ways[0].times.map((t, i) => t / ways[1].times[i]);
  for (const w of ways) {
    const s = stat(w.times);
    const r = stat(ratios);
    const ratio = w === ways[0] ? `${r.median.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)})` : '';
    console.log(
      `| ${R} | ${w.label} | ${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)}) | ${((1000 * R) / s.median).toFixed(1)} | ${w.counted} | ${ratio} |`,
    );
    w.trainer.dispose();
  }
  tf.dispose([batch.inputs, batch.targets]);
}
process.exit(0);
