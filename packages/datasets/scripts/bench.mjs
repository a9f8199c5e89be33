// Measures generation speed of the synthetic tasks and first/second load times of the real data.
// Run after `pnpm build`: node scripts/bench.mjs [dataDir]. Numbers are medians with min-max.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createTask, loadPolyphonic, loadPtbChars, TASK_NAMES } from '../dist/index.js';

const data = resolve(process.argv[2] ?? process.env.CLIFFGUARD_DATA ?? '../../../shared/data');

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const f = (x) => x.toFixed(x < 1 ? 3 : x < 10 ? 2 : 1);
  return `${f(s[Math.floor(s.length / 2)])} (${f(s[0])}-${f(s.at(-1))})`;
}

function time(fn, reps) {
  for (let i = 0; i < 50; i++) fn(); // warm-up (JIT)
  const out = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return out;
}

await tf.setBackend('cpu');
console.log('## Generation: ms per batch of 20 at L = 100 and 200 (median, min-max over 200 batches)\n');
console.log('| task | L=100 arrays | L=100 tensors (cpu) | L=200 arrays | L=200 tensors (cpu) |');
console.log('| --- | --- | --- | --- | --- |');
for (const name of TASK_NAMES) {
  const cells = [];
  for (const L of [100, 200]) {
    const task = createTask(name, { seed: 1 });
    cells.push(stats(time(() => task.generateArrays(20, L), 200)));
    cells.push(
      stats(
        time(() => {
          const b = task.generate(20, L);
          tf.dispose([b.inputs, b.targets]);
        }, 200),
      ),
    );
  }
  console.log(`| ${name} | ${cells.join(' | ')} |`);
}

console.log(
  '\n## Loads: ms, first (parse + write cache) vs second (cache), 3 runs each in fresh cache dirs\n',
);
console.log('| data | first load | second load |');
console.log('| --- | --- | --- |');
const ptbTimes = [];
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  await loadPtbChars({ dir: data });
  ptbTimes.push(performance.now() - t);
}
console.log(`| PTB chars (no cache: parsed each time) | ${stats(ptbTimes)} | – |`);
for (const name of ['jsb', 'nottingham', 'musedata', 'piano-midi']) {
  const first = [];
  const second = [];
  for (let i = 0; i < 3; i++) {
    const cacheDir = await mkdtemp(join(tmpdir(), 'bench-cache-'));
    let t = performance.now();
    const a = await loadPolyphonic(name, { dir: data, cacheDir });
    first.push(performance.now() - t);
    t = performance.now();
    const b = await loadPolyphonic(name, { dir: data, cacheDir });
    second.push(performance.now() - t);
    if (a.fromCache || !b.fromCache) throw new Error('cache did not behave');
    await rm(cacheDir, { recursive: true, force: true });
  }
  console.log(`| ${name} | ${stats(first)} | ${stats(second)} |`);
}
