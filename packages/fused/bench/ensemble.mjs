#!/usr/bin/env node
// Throughput of batched ensembles on P100 (wasm backend): updates per second summed over R runs
// for R = 1, 4, 16 in one step of a members trainer (createTrainer({ members, implementation:
// 'fused', engine: 'compiled' }): one fused kernel call per step), against R separate trainStep
// runs (fused and op-by-op reference), each run SGD-CR (clip 1, α = 2, Ω 'code'), median over
// interleaved repetitions.
//   node --experimental-wasm-relaxed-simd packages/fused/bench/ensemble.mjs [--reps 10]
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { withGradientClipping } from '@cliffguard/clip';
import '@cliffguard/fused';
import { createRnn, createTrainer, paperMethod, trainStep } from '@cliffguard/rnn';

const args = process.argv.slice(2);
const reps = Number(args[args.indexOf('--reps') + 1] || 10);
await tf.setBackend('wasm');
const c = { I: 6, H: 50, O: 4, T: 100, B: 20 };
const batch = (seed) => {
  let s = seed;
  const r = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const u = new Float32Array(c.B * c.T * c.I);
  for (let i = 0; i < c.B * c.T; i++) u[i * c.I + Math.floor(r() * c.I)] = 1;
  return {
    inputs: tf.tensor3d(u, [c.B, c.T, c.I]),
    targets: tf.tensor1d(
      Int32Array.from({ length: c.B }, () => Math.floor(r() * c.O)),
      'int32',
    ),
  };
};
const model = (seed, implementation) =>
  createRnn({ inputSize: c.I, hiddenSize: c.H, outputSize: c.O, head: 'last-softmax', seed, implementation });
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const range = (a) => `${median(a).toFixed(1)} (${Math.min(...a).toFixed(1)}–${Math.max(...a).toFixed(1)})`;
console.log(
  '| R | ensemble step ms | updates/s (ensemble) | R separate fused steps ms | updates/s (separate fused) | ensemble / separate fused | R separate reference steps ms | ensemble / separate reference |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const R of [1, 4, 16]) {
  const seeds = Array.from({ length: R }, (_, r) => r + 1);
  const batches = seeds.map((s) => batch(s));
  const trainer = createTrainer({
    inputSize: c.I,
    hiddenSize: c.H,
    outputSize: c.O,
    head: 'last-softmax',
    method: paperMethod('SGD-CR', { learningRate: 0.01, maxNorm: 1, alpha: 2, omegaVariant: 'code' }),
    members: seeds.map((seed) => ({ seed })),
    implementation: 'fused',
    engine: 'compiled',
  });
  const stacked = {
    inputs: tf.stack(batches.map((b) => b.inputs)),
    targets: tf.stack(batches.map((b) => b.targets)),
  };
  const separate = seeds.map((s) => model(s, 'fused'));
  const reference = seeds.map((s) => model(s, 'reference'));
  const opts = seeds.map(() => withGradientClipping(tf.train.sgd(0.01), { maxNorm: 1 }));
  const stepAll = async (ms) => {
    const t0 = performance.now();
    for (let r = 0; r < R; r++)
      await trainStep(ms[r], batches[r], opts[r], { omega: { alpha: 2, variant: 'code' } });
    return performance.now() - t0;
  };
  const times = { ensemble: [], separate: [], reference: [] };
  await trainer.step(stacked);
  await stepAll(separate);
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await trainer.step(stacked);
    times.ensemble.push(performance.now() - t0);
    times.separate.push(await stepAll(separate));
    if (i < 2) times.reference.push(await stepAll(reference));
  }
  const ups = (a) => (1000 * R) / median(a);
  console.log(
    `| ${R} | ${range(times.ensemble)} | ${ups(times.ensemble).toFixed(0)} | ${range(times.separate)} | ${ups(times.separate).toFixed(0)} | ${(ups(times.ensemble) / ups(times.separate)).toFixed(2)}x | ${range(times.reference)} | ${(ups(times.ensemble) / ups(times.reference)).toFixed(0)}x |`,
  );
  trainer.dispose();
  for (const m of [...separate, ...reference]) m.dispose();
  tf.dispose([stacked.inputs, stacked.targets]);
  for (const o of opts) o.dispose();
  for (const b of batches) tf.dispose([b.inputs, b.targets]);
}
