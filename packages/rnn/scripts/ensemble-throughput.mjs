#!/usr/bin/env node
// Throughput of batched ensembles (one members trainer per R, createTrainer({ members }) with the
// compiled engine: all R runs in one stacked update) against separate runs (trainStep +
// methodOptimizer(paperMethod(...)), one model after another) on the paper's P100 problem: input
// 6, hidden 50, 4 classes, batch 20, T 100, last-softmax; every run its own data stream. Each
// backend runs in its own process.
//   node scripts/ensemble-throughput.mjs                         # cpu and wasm, R = 1, 4, 16
//   node scripts/ensemble-throughput.mjs --backends wasm --reps 12 --T 100
// Build first (pnpm --filter @cliffguard/rnn build). Not a test: the figures depend on the machine
// and its load. Within a process the configurations are interleaved (one round of each per
// repetition, in rotating order) and reported as medians with min-max; the ratio to the separate
// runs is taken per repetition (paired), so a slow patch of the machine hits both sides.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    backend: { type: 'string' },
    backends: { type: 'string', default: 'cpu,wasm' },
    T: { type: 'string', default: '100' },
    reps: { type: 'string', default: '8' },
    runs: { type: 'string', default: '1,4,16' },
    separate: { type: 'string', default: '16' },
  },
});

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, d = 1) => x.toFixed(d);

if (!values.backend) {
  const self = fileURLToPath(import.meta.url);
  const rows = [];
  for (const backend of values.backends.split(',')) {
    const args = [self, '--backend', backend, '--T', values.T, '--reps', values.reps, '--runs', values.runs];
    const out = execFileSync(process.execPath, [...args, '--separate', values.separate], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    rows.push(...JSON.parse(out.trim().split('\n').pop()));
  }
  console.log(
    '| backend | configuration | updates/s, median (min-max) | ms per round, median | × separate (paired), median (min-max) | kernels per update |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const ratio = r.ratio ? `${fmt(r.ratio.median, 2)} (${fmt(r.ratio.min, 2)}-${fmt(r.ratio.max, 2)})` : '1';
    console.log(
      `| ${r.backend} | ${r.name} | ${fmt(r.ups.median)} (${fmt(r.ups.min)}-${fmt(r.ups.max)}) | ${fmt(r.msPerRound.median, 0)} | ${ratio} | ${fmt(r.kernelsPerUpdate, 0)} |`,
    );
  }
  console.log(`\nT = ${values.T}, ${values.reps} repetitions per backend.`);
  process.exit(0);
}

const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
await import('@tensorflow/tfjs-backend-wasm');
const { createRnn, createTrainer, methodOptimizer, paperMethod, trainStep } = await import(
  '../dist/index.js'
);
if (!(await tf.setBackend(values.backend))) throw new Error(`backend ${values.backend} failed`);
await tf.ready();

const [I, H, O, B] = [6, 50, 4, 20];
const T = Number(values.T);
const reps = Number(values.reps);

/** Fig. 7's methods and the two tanh inits, cycled over the runs. */
function member(r) {
  return {
    method: paperMethod(['SGD', 'SGD-C', 'SGD-CR'][r % 3], { learningRate: 0.01, maxNorm: 1, alpha: 4 }),
    init: r % 2 === 0 ? 'smart-tanh' : 'basic-tanh',
    seed: 1000 + r,
  };
}

/** Temporal-order-shaped data: one-hot inputs over 6 symbols, 4 classes; R streams. */
function streams(R, seed) {
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const x = new Float32Array(R * B * T * I);
  for (let i = 0; i < R * B * T; i++) x[i * I + Math.floor(rand() * I)] = 1;
  const y = Int32Array.from({ length: R * B }, () => Math.floor(rand() * O));
  return { x, y };
}

function ensembleConfig(R) {
  const trainer = createTrainer({
    inputSize: I,
    hiddenSize: H,
    outputSize: O,
    members: [...Array(R).keys()].map(member),
    engine: 'compiled',
  });
  const batches = [0, 1].map((k) => {
    const { x, y } = streams(R, 10 * R + k);
    return { inputs: tf.tensor4d(x, [R, B, T, I]), targets: tf.tensor2d(y, [R, B], 'int32') };
  });
  let step = 0;
  return {
    name: `ensemble R=${R}`,
    updatesPerRound: R,
    async round() {
      await trainer.step(batches[step++ % 2]);
    },
  };
}

function separateConfig(R) {
  const runs = [...Array(R).keys()].map((r) => {
    const m = member(r);
    return {
      model: createRnn({ inputSize: I, hiddenSize: H, outputSize: O, init: m.init, seed: m.seed }),
      method: m.method,
      optimizer: methodOptimizer(m.method),
    };
  });
  const batches = [0, 1].map((k) => {
    const { x, y } = streams(R, 10 * R + k);
    return runs.map((_, r) => ({
      inputs: tf.tensor3d(x.subarray(r * B * T * I, (r + 1) * B * T * I), [B, T, I]),
      targets: tf.tensor1d(y.subarray(r * B, (r + 1) * B), 'int32'),
    }));
  });
  let step = 0;
  return {
    name: `${R} separate runs`,
    updatesPerRound: R,
    async round() {
      const batch = batches[step % 2];
      for (const [r, { model, method, optimizer }] of runs.entries()) {
        await trainStep(model, batch[r], optimizer, { omega: method.omega, step });
      }
      step += 1;
    },
  };
}

const separateR = Number(values.separate);
const configs = [separateConfig(separateR), ...values.runs.split(',').map(Number).map(ensembleConfig)];
for (const c of configs) {
  // Warm-up: kernels compiled, buffers allocated.
  await c.round();
  await c.round();
}
const times = configs.map(() => []);
for (let rep = 0; rep < reps; rep++) {
  for (let j = 0; j < configs.length; j++) {
    const i = (j + rep) % configs.length; // rotating order
    const t0 = performance.now();
    await configs[i].round();
    times[i].push(performance.now() - t0);
  }
}
// Kernels dispatched and tensors read back per update (machine-independent), from one profiled round.
const dispatch = [];
for (const c of configs) {
  const info = await tf.profile(() => c.round());
  dispatch.push(info.kernels.length / c.updatesPerRound);
}
const ups = (c, ms) => (1000 * c.updatesPerRound) / ms;
const sep = configs[0];
const rows = configs.map((c, i) => {
  const u = times[i].map((ms) => ups(c, ms));
  const row = {
    backend: values.backend,
    name: c.name,
    ups: { median: median(u), min: Math.min(...u), max: Math.max(...u) },
    msPerRound: { median: median(times[i]) },
    kernelsPerUpdate: dispatch[i],
  };
  if (i > 0) {
    const ratio = times[i].map((ms, k) => ups(c, ms) / ups(sep, times[0][k]));
    row.ratio = { median: median(ratio), min: Math.min(...ratio), max: Math.max(...ratio) };
  }
  return row;
});
console.log(JSON.stringify(rows));
