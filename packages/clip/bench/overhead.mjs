// Overhead of withGradientClipping on a training step (a benchmark, not a test).
//
//   pnpm --filter @cliffguard/clip build && node bench/overhead.mjs [cpu|wasm] [--reps N]
//
// With no backend named, runs cpu and wasm each in its own process (a backend that ran earlier
// in a process slows the next one). In each process, two identical tf.layers models train side
// by side, one with `adam`, one with `withGradientClipping(adam, { maxNorm })`, interleaved step
// by step (which goes first alternates); each repetition sums K steps of each and yields one
// ratio (clipped / plain). Prints the median ratio with its min-max, ms per step, and the kernels
// per step of each (a count that machine noise cannot blur).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const backend = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const repsArg = args.indexOf('--reps');
const REPS = repsArg >= 0 ? Number(args[repsArg + 1]) : 40;
const K = 5; // steps per timed block
const WARMUP = 20;

if (!backend) {
  for (const name of ['cpu', 'wasm']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), name, '--reps', String(REPS)], {
      stdio: 'inherit',
    });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}

const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
await import('@tensorflow/tfjs-backend-wasm');
const tfl = await import('@tensorflow/tfjs-layers');
const { withGradientClipping } = await import('../dist/index.js');
if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not start`);
await tf.ready();

/** The models: a small MLP (the worst case: little work per step) and a small simpleRNN. */
const cases = {
  'MLP 32-64-64-10, batch 32': {
    build: (seed) =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({
            units: 64,
            inputShape: [32],
            activation: 'relu',
            kernelInitializer: tfl.initializers.glorotUniform({ seed }),
          }),
          tfl.layers.dense({
            units: 64,
            activation: 'relu',
            kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
          }),
          tfl.layers.dense({
            units: 10,
            activation: 'softmax',
            kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }),
          }),
        ],
      }),
    loss: 'categoricalCrossentropy',
    data: () => ({
      x: tf.randomNormal([32, 32], 0, 1, 'float32', 1),
      y: tf.cast(tf.oneHot(tf.randomUniform([32], 0, 10, 'int32', 2), 10), 'float32'),
    }),
  },
  'simpleRNN 32 units, 20 steps, batch 16': {
    build: (seed) =>
      tfl.sequential({
        layers: [
          tfl.layers.simpleRNN({
            units: 32,
            inputShape: [20, 4],
            kernelInitializer: tfl.initializers.glorotUniform({ seed }),
            // The default (orthogonal) needs tfjs's chained ops, which tfjs-core alone does not register.
            recurrentInitializer: tfl.initializers.glorotUniform({ seed: seed + 5 }),
          }),
          tfl.layers.dense({
            units: 1,
            kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
          }),
        ],
      }),
    loss: 'meanSquaredError',
    data: () => ({
      x: tf.randomNormal([16, 20, 4], 0, 1, 'float32', 3),
      y: tf.randomNormal([16, 1], 0, 1, 'float32', 4),
    }),
  },
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** One repetition: K steps of each model, alternating step by step (ABAB… or BABA…). */
async function timePair(plain, clipped, x, y, clippedFirst) {
  let a = 0;
  let b = 0;
  for (let i = 0; i < K; i++) {
    for (const which of clippedFirst ? ['b', 'a'] : ['a', 'b']) {
      const t0 = performance.now();
      await (which === 'a' ? plain : clipped).trainOnBatch(x, y);
      const dt = performance.now() - t0;
      if (which === 'a') a += dt;
      else b += dt;
    }
  }
  return [a, b];
}

for (const [name, c] of Object.entries(cases)) {
  const { x, y } = c.data();
  const plain = c.build(1);
  const clipped = c.build(1);
  plain.compile({ optimizer: tf.train.adam(1e-3), loss: c.loss });
  // maxNorm 1: the gradients here are around that size, so steps are both clipped and not.
  const wrapper = withGradientClipping(tf.train.adam(1e-3), { maxNorm: 1 });
  clipped.compile({ optimizer: wrapper, loss: c.loss });
  for (let i = 0; i < WARMUP; i++) {
    await plain.trainOnBatch(x, y);
    await clipped.trainOnBatch(x, y);
  }
  // Kernels per step: a noise-free count of what the wrapper adds.
  const kernels = async (model) => (await tf.profile(() => model.trainOnBatch(x, y))).kernels.length;
  const plainKernels = await kernels(plain);
  const clippedKernels = await kernels(clipped);
  const ratios = [];
  const plainMs = [];
  const clippedMs = [];
  for (let r = 0; r < REPS; r++) {
    const [a, b] = await timePair(plain, clipped, x, y, r % 2 === 1);
    ratios.push(b / a);
    plainMs.push(a / K);
    clippedMs.push(b / K);
  }
  const s = wrapper.stats;
  console.log(
    `${backend.padEnd(4)} ${name.padEnd(40)} ratio ${median(ratios).toFixed(3)} ` +
      `(min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)}, ${REPS}×${K} steps) ` +
      `plain ${median(plainMs).toFixed(2)} ms/step, clipped ${median(clippedMs).toFixed(2)} ms/step, ` +
      `${s.clipCount}/${s.steps} steps clipped; kernels/step ${plainKernels} -> ${clippedKernels}`,
  );
  wrapper.dispose();
  plain.optimizer.dispose();
  plain.dispose();
  clipped.dispose();
  tf.dispose([x, y]);
}
