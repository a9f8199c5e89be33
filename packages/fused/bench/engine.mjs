#!/usr/bin/env node
// The WebAssembly engine alone (no tfjs): milliseconds per fused training pass (loss, every
// gradient, Ω 'code' summed into ∂W_rec) for P50/P100/P200/M/C, on one thread and on two (a worker
// on shared memory), median and min-max, GFLOP/s, and the phase profile. Needs only dist/ and
// build/ of this package, so it runs on a bare machine with Node:
//   node --experimental-wasm-relaxed-simd packages/fused/bench/engine.mjs [--configs P100,M] [--reps 30]
import { WasmSequenceEngine } from '../dist/engines/wasm/engine.js';
import {
  instantiateFusedWasm,
  instantiateSharedFusedWasm,
  runtimeAccepts,
} from '../dist/engines/wasm/module.js';
import { WasmThreadPair } from '../dist/engines/wasm/threads.js';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const CONFIGS = {
  P50: { I: 6, H: 50, O: 4, T: 50, B: 20, head: 'last-softmax', inputs: 'one-hot' },
  P100: { I: 6, H: 50, O: 4, T: 100, B: 20, head: 'last-softmax', inputs: 'one-hot' },
  P200: { I: 6, H: 50, O: 4, T: 200, B: 20, head: 'last-softmax', inputs: 'one-hot' },
  M: { I: 88, H: 300, O: 88, T: 100, B: 16, head: 'sigmoid', inputs: 'piano-roll' },
  C: { I: 50, H: 512, O: 50, T: 100, B: 32, head: 'softmax', inputs: 'one-hot' },
};
const flops = (c) => {
  const rows = c.head.startsWith('last') ? c.B : c.B * c.T;
  return (
    3 * 2 * c.B * c.T * c.H * c.H +
    3 * 2 * rows * c.H * c.O +
    (c.inputs === 'one-hot' ? 0 : 4 * c.B * c.T * c.I * c.H)
  );
};

function problem(c) {
  let s = 7;
  const r = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const f = (n, sc) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * sc);
  const inputs = new Float32Array(c.B * c.T * c.I);
  for (let i = 0; i < c.B * c.T; i++) {
    if (c.inputs === 'one-hot') inputs[i * c.I + Math.floor(r() * c.I)] = 1;
    else for (let k = 0; k < c.I; k++) inputs[i * c.I + k] = r() < 0.05 ? 1 : 0;
  }
  const targets =
    c.head === 'last-softmax'
      ? Int32Array.from({ length: c.B }, () => Math.floor(r() * c.O))
      : c.head === 'softmax'
        ? Int32Array.from({ length: c.B * c.T }, () => Math.floor(r() * c.O))
        : Float32Array.from({ length: c.B * c.T * c.O }, () => (r() < 0.05 ? 1 : 0));
  return {
    batch: c.B,
    time: c.T,
    inputSize: c.I,
    hiddenSize: c.H,
    outputSize: c.O,
    activation: 'tanh',
    head: c.head,
    weights: {
      W_in: f(c.I * c.H, 0.1),
      W_rec: f(c.H * c.H, 1 / Math.sqrt(c.H)),
      b: f(c.H, 0.1),
      W_out: f(c.H * c.O, 0.1),
      b_out: f(c.O, 0.1),
    },
    inputs,
    targets,
  };
}

const stat = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1] };
};
const fmt = (s) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;

const variant = runtimeAccepts('relaxed-simd') ? 'relaxed-simd' : 'simd';
const one = new WasmSequenceEngine(await instantiateFusedWasm(variant));
const shared = await instantiateSharedFusedWasm(variant);
const pair = await WasmThreadPair.start(shared);
const two = new WasmSequenceEngine(shared, { threads: pair, threadThreshold: 0 });
const reps = Number(opt('reps', '30'));
console.log(
  `build ${variant}; median (min–max) ms of ${reps} passes, interleaved; Ω 'code' summed into ∂W_rec`,
);
console.log(
  '| config | 1 thread, Ω | 1 thread, no Ω | 2 threads, Ω | 2 threads, no Ω | GFLOP/s (1 thread, no Ω) | GFLOP/s (2 threads, no Ω) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
const profiles = [];
for (const name of opt('configs', 'P50,P100,P200,M,C').split(',')) {
  const c = CONFIGS[name];
  const p = problem(c);
  const runs = {
    oneOmega: () => one.train({ ...p, omega: 'code', omegaWeight: 2 }),
    oneNone: () => one.train(p),
    twoOmega: () => two.train({ ...p, omega: 'code', omegaWeight: 2 }),
    twoNone: () => two.train(p),
  };
  const times = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (const f of Object.values(runs)) f();
  const n = c.H >= 300 ? Math.max(5, Math.round(reps / 3)) : reps;
  for (let i = 0; i < n; i++) {
    for (const [k, f] of Object.entries(runs)) {
      const t0 = performance.now();
      f();
      times[k].push(performance.now() - t0);
    }
  }
  const s = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, stat(v)]));
  // the two-thread pass must give the one-thread numbers (same phases, split differently)
  const a = runs.oneOmega().grads.W_rec;
  const b = runs.twoOmega().grads.W_rec;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += a[i] ** 2;
  }
  if (!(Math.sqrt(diff / norm) < 1e-5))
    throw new Error(`${name}: two threads differ from one (${Math.sqrt(diff / norm)})`);
  const g = (x) => (flops(c) / (x.median * 1e6)).toFixed(1);
  console.log(
    `| ${name} | ${fmt(s.oneOmega)} | ${fmt(s.oneNone)} | ${fmt(s.twoOmega)} | ${fmt(s.twoNone)} | ${g(s.oneNone)} | ${g(s.twoNone)} |`,
  );
  profiles.push([name, one.profile({ ...p, omega: 'code', omegaWeight: 2 }, c.H >= 300 ? 5 : 15)]);
}
console.log('\nProfile, one thread (median ms per phase):');
for (const [name, prof] of profiles) {
  const total = Object.values(prof).reduce((a, b) => a + b, 0);
  console.log(
    `- ${name}: ${Object.entries(prof)
      .map(([k, v]) => `${k} ${v.toFixed(2)} (${((100 * v) / total).toFixed(0)}%)`)
      .join(', ')}`,
  );
}
await pair.stop();
