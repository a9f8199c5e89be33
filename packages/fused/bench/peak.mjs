#!/usr/bin/env node
// The ceiling the wasm engine works under: WebAssembly SIMD's multiply-add peak on this machine,
// on one thread and on every core at once (one worker per core), in GFLOP/s, median (min-max).
// Twelve independent f32x4 accumulators per loop (enough to cover the FMA latency on every core
// measured so far; more spill, V8 gives WebAssembly 16 XMM registers), once with
// `f32x4.relaxed_madd` (one fused multiply-add) and once with `f32x4.mul` + `f32x4.add`.
//
//   node --experimental-wasm-relaxed-simd packages/fused/bench/peak.mjs [--reps 7]
//
// The engine's GFLOP/s (bench/engine.mjs) over this peak is how much of the hardware it uses.
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import asc from 'assemblyscript/asc';

const ACCUMULATORS = 12;
const FLOPS_PER_ITERATION = ACCUMULATORS * 4 * 2;

/** AssemblyScript source of `peak(n)`: n iterations over the accumulators. */
function source(fused) {
  const lanes = Array.from({ length: ACCUMULATORS }, (_, i) => i);
  const step = (i) =>
    fused ? `a${i} = f32x4.relaxed_madd(a${i}, x, y);` : `a${i} = f32x4.add(f32x4.mul(a${i}, x), y);`;
  return `
export function peak(n: i32): f32 {
  const x = f32x4.splat(0.99999);
  const y = f32x4.splat(0.00001);
  ${lanes.map((i) => `let a${i} = f32x4.splat(${1 + i / 100});`).join('\n  ')}
  for (let k = 0; k < n; k++) {
    ${lanes.map(step).join('\n    ')}
  }
  let s = a0;
  ${lanes
    .slice(1)
    .map((i) => `s = f32x4.add(s, a${i});`)
    .join('\n  ')}
  return f32x4.extract_lane(s, 0);
}`;
}

async function compile(fused) {
  const features = fused ? ['simd', 'relaxed-simd'] : ['simd'];
  const { error, binary, stderr } = await asc.compileString(source(fused), {
    optimizeLevel: 3,
    runtime: 'stub',
    noAssert: true,
    enable: features,
  });
  if (error) throw new Error(`asc: ${error.message}\n${stderr}`);
  return binary;
}

/** GFLOP/s of one timed call of `peak` sized to take about 0.3 s. */
function measure(instance) {
  const { peak } = instance.exports;
  const n = 4e7;
  peak(1e6); // tiered up before timing
  const t0 = performance.now();
  peak(n);
  const s = (performance.now() - t0) / 1000;
  return (n * FLOPS_PER_ITERATION) / s / 1e9;
}

if (!isMainThread) {
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(workerData.binary));
  parentPort.on('message', () => parentPort.postMessage(measure(instance)));
  parentPort.postMessage('ready');
} else {
  const args = process.argv.slice(2);
  const i = args.indexOf('--reps');
  const reps = i >= 0 ? Number(args[i + 1]) : 7;
  const cores = availableParallelism();
  const stat = (a) => {
    const s = [...a].sort((x, y) => x - y);
    return `${s[s.length >> 1].toFixed(1)} (${s[0].toFixed(1)}–${s[s.length - 1].toFixed(1)})`;
  };
  const rows = [];
  for (const fused of [true, false]) {
    const name = fused ? 'f32x4.relaxed_madd' : 'f32x4.mul + f32x4.add';
    if (fused && !WebAssembly.validate(await compile(true))) {
      rows.push(`| ${name} | – (needs --experimental-wasm-relaxed-simd on Node 20) | – |`);
      continue;
    }
    const binary = await compile(fused);
    const workers = await Promise.all(
      Array.from(
        { length: cores },
        () =>
          new Promise((resolve) => {
            const w = new Worker(new URL(import.meta.url), { workerData: { binary } });
            w.once('message', () => resolve(w));
          }),
      ),
    );
    const ask = (w) =>
      new Promise((resolve) => {
        w.once('message', resolve);
        w.postMessage('go');
      });
    const one = [];
    const all = [];
    for (let r = 0; r < reps; r++) {
      one.push(await ask(workers[0]));
      const each = await Promise.all(workers.map(ask));
      all.push(each.reduce((a, b) => a + b, 0));
    }
    for (const w of workers) await w.terminate();
    rows.push(`| ${name} | ${stat(one)} | ${stat(all)} |`);
    process.stderr.write(`${rows[rows.length - 1]}\n`);
  }
  console.log(
    [
      `WebAssembly SIMD peak, GFLOP/s, median (min–max) of ${reps} timed calls, ${ACCUMULATORS} f32x4 accumulators`,
      '',
      `| loop | 1 thread | ${cores} threads (summed) |`,
      '| --- | --- | --- |',
      ...rows,
    ].join('\n'),
  );
}
