#!/usr/bin/env node
// ms per trainStep of @cliffguard/rnn (reference implementation) with a paper method's optimizer
// (methodOptimizer(paperMethod(...)): its chain, safeguard included, in front of SGD), each
// backend in its own process.
//   node scripts/step-time.mjs                      # cpu and wasm, T = 100, SGD-C and SGD-CR
//   node scripts/step-time.mjs --T 50,100,200 --steps 40 --warmup 5
// Build first (pnpm --filter @cliffguard/rnn build). Not a test: numbers depend on the machine
// and its load; quote medians with min-max.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    backend: { type: 'string' },
    T: { type: 'string', default: '100' },
    steps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    methods: { type: 'string', default: 'SGD-C,SGD-CR' },
  },
});

if (!values.backend) {
  // Parent: one child process per backend (a backend that ran earlier slows the next one).
  const self = fileURLToPath(import.meta.url);
  const rows = [];
  for (const backend of ['cpu', 'wasm']) {
    const args = [
      self,
      '--backend',
      backend,
      '--T',
      values.T,
      '--steps',
      values.steps,
      '--warmup',
      values.warmup,
    ];
    const out = execFileSync(process.execPath, [...args, '--methods', values.methods], { encoding: 'utf8' });
    rows.push(...JSON.parse(out.trim().split('\n').pop()));
  }
  console.log('| backend | T | method | median ms | min ms | max ms | steps |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.backend} | ${r.T} | ${r.method} | ${r.median.toFixed(1)} | ${r.min.toFixed(1)} | ${r.max.toFixed(1)} | ${r.steps} |`,
    );
  }
  process.exit(0);
}

const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
await import('@tensorflow/tfjs-backend-wasm');
const { createRnn, methodOptimizer, paperMethod, trainStep } = await import('../dist/index.js');
if (!(await tf.setBackend(values.backend))) throw new Error(`backend ${values.backend} failed`);
await tf.ready();

const B = 20;
const steps = Number(values.steps);
const warmup = Number(values.warmup);

/** Random one-hot inputs over 6 symbols and 4 classes (temporal-order shaped). */
function batchOf(T, seed) {
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const x = new Float32Array(B * T * 6);
  for (let i = 0; i < B * T; i++) x[i * 6 + Math.floor(rand() * 6)] = 1;
  const y = Int32Array.from({ length: B }, () => Math.floor(rand() * 4));
  return { inputs: tf.tensor3d(x, [B, T, 6]), targets: tf.tensor1d(y, 'int32') };
}

const results = [];
for (const T of values.T.split(',').map(Number)) {
  const batches = [0, 1, 2, 3].map((i) => batchOf(T, 100 + i));
  for (const name of values.methods.split(',')) {
    const model = createRnn({ inputSize: 6, hiddenSize: 50, outputSize: 4, init: 'smart-tanh', seed: 52 });
    const m = paperMethod(name, { learningRate: 0.01, maxNorm: 1, alpha: 2 });
    const optimizer = methodOptimizer(m);
    const times = [];
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      await trainStep(model, batches[i % batches.length], optimizer, { omega: m.omega, step: i });
      if (i >= warmup) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const median =
      times.length % 2
        ? times[(times.length - 1) / 2]
        : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
    results.push({
      backend: values.backend,
      T,
      method: name,
      median,
      min: times[0],
      max: times[times.length - 1],
      steps,
    });
    optimizer.dispose();
    model.dispose();
  }
  for (const b of batches) tf.dispose([b.inputs, b.targets]);
}
console.log(JSON.stringify(results));
