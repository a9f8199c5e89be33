#!/usr/bin/env node
// Device check (not a test): the reference implementation on a real WebGPU adapter.
//   node scripts/webgpu-check.mjs            # correctness vs cpu, leaks, end-to-end, then timings
//   node scripts/webgpu-check.mjs --time cpu # one backend's timings (the parent spawns these)
// Needs a Vulkan driver for Dawn (the `webgpu` npm package). Prints one JSON line per result.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    time: { type: 'string' },
    steps: { type: 'string', default: '30' },
    T: { type: 'string', default: '50,100,200' },
  },
});
const log = (o) => console.log(JSON.stringify(o));

const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
await import('@tensorflow/tfjs-backend-wasm');
async function startWebgpu() {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  globalThis.navigator ??= {};
  const gpu = create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  globalThis.navigator.gpu = gpu;
  await import('@tensorflow/tfjs-backend-webgpu');
  const info = adapter.info ?? {};
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description,
    fallback: !!info.isFallbackAdapter,
  };
}
const rnn = await import('../dist/index.js');

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

async function use(name) {
  if (!(await tf.setBackend(name))) throw new Error(`setBackend(${name}) failed`);
  await tf.ready();
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timeBackend(backend) {
  if (backend === 'webgpu' && !(await startWebgpu())) throw new Error('no adapter');
  await use(backend);
  const B = 20;
  for (const T of values.T.split(',').map(Number)) {
    const rand = lcg(T);
    const batches = [0, 1, 2].map(() => {
      const x = new Float32Array(B * T * 6);
      for (let i = 0; i < B * T; i++) x[i * 6 + Math.floor(rand() * 6)] = 1;
      return {
        inputs: tf.tensor3d(x, [B, T, 6]),
        targets: tf.tensor1d(
          Int32Array.from({ length: B }, () => Math.floor(rand() * 4)),
          'int32',
        ),
      };
    });
    for (const method of ['SGD-C', 'SGD-CR']) {
      const model = rnn.createRnn({ inputSize: 6, hiddenSize: 50, outputSize: 4, seed: 52 });
      const m = rnn.paperMethod(method, { learningRate: 0.01, maxNorm: 1, alpha: 2 });
      const optimizer = rnn.methodOptimizer(m);
      const times = [];
      const steps = Number(values.steps);
      for (let i = 0; i < 5 + steps; i++) {
        const t0 = performance.now();
        await rnn.trainStep(model, batches[i % 3], optimizer, { omega: m.omega, step: i });
        if (i >= 5) times.push(performance.now() - t0);
      }
      log({
        kind: 'time',
        backend,
        T,
        method,
        median: median(times),
        min: Math.min(...times),
        max: Math.max(...times),
        steps,
      });
      optimizer.dispose();
      model.dispose();
    }
    for (const b of batches) tf.dispose([b.inputs, b.targets]);
  }
}

if (values.time) {
  await timeBackend(values.time);
  process.exit(0);
}

// --- correctness on webgpu against cpu (cpu is checked against finite differences by the tests) ---
const adapter = await startWebgpu();
log({ kind: 'adapter', adapter });
if (adapter) {
  const heads = [
    ['last-softmax', 'tanh', 'paper'],
    ['softmax', 'tanh', 'code'],
    ['last-linear', 'sigmoid', 'code'],
    ['sigmoid', 'sigmoid', 'paper'],
  ];
  for (const [head, activation, variant] of heads) {
    const run = async (backend) => {
      await use(backend);
      const model = rnn.createRnn({
        inputSize: 4,
        hiddenSize: 16,
        outputSize: 3,
        head,
        activation,
        init: 'basic-tanh',
        seed: 3,
      });
      const rand = lcg(9);
      const [B, T] = [5, 30];
      const inputs = tf.tensor3d(
        Float32Array.from({ length: B * T * 4 }, () => rand() * 2 - 1),
        [B, T, 4],
      );
      const targets =
        head === 'last-softmax'
          ? tf.tensor1d([0, 1, 2, 0, 1], 'int32')
          : head === 'softmax'
            ? tf.tensor2d(
                Int32Array.from({ length: B * T }, () => Math.floor(rand() * 3)),
                [B, T],
                'int32',
              )
            : head === 'last-linear'
              ? tf.tensor2d(
                  Float32Array.from({ length: B * 3 }, () => rand()),
                  [B, 3],
                )
              : tf.tensor3d(
                  Float32Array.from({ length: B * T * 3 }, () => (rand() < 0.5 ? 0 : 1)),
                  [B, T, 3],
                );
      const r = model.lossAndGradients(
        { inputs, targets },
        { omega: { variant, weight: 2 }, keepDeltas: true },
      );
      const out = {
        loss: (await r.loss.data())[0],
        omega: (await r.omega.data())[0],
        deltas: await r.deltas.data(),
      };
      for (const [k, g] of Object.entries(r.grads)) out[k] = await g.data();
      tf.dispose([r, inputs, targets]);
      model.dispose();
      return out;
    };
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    const rel = (a, b) => {
      let d = 0,
        n = 0;
      for (let i = 0; i < a.length; i++) {
        d += (a[i] - b[i]) ** 2;
        n += a[i] ** 2;
      }
      return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-12);
    };
    const errors = Object.fromEntries(
      ['deltas', 'W_in', 'W_rec', 'b', 'W_out', 'b_out'].map((k) => [k, rel(cpu[k], gpu[k])]),
    );
    errors.loss = Math.abs(cpu.loss - gpu.loss) / Math.abs(cpu.loss);
    errors.omega = Math.abs(cpu.omega - gpu.omega) / Math.abs(cpu.omega);
    const worst = Math.max(...Object.values(errors));
    log({ kind: 'webgpu-vs-cpu', head, activation, variant, worst, ok: worst < 1e-3, errors });
  }

  // leaks over many steps, and the end-to-end task
  await use('webgpu');
  const model = rnn.createRnn({ inputSize: 6, hiddenSize: 20, outputSize: 4, init: 'basic-tanh', seed: 3 });
  const m = rnn.paperMethod('SGD-C', { learningRate: 0.5, maxNorm: 1 });
  const optimizer = rnn.methodOptimizer(m);
  const rand = lcg(17);
  const gen = (n, L) => {
    const x = new Float32Array(n * L * 6);
    const y = new Int32Array(n);
    for (let b = 0; b < n; b++) {
      const sym = Array.from({ length: L }, () => 2 + Math.floor(rand() * 4));
      const v0 = Math.floor(rand() * 2),
        v1 = Math.floor(rand() * 2);
      sym[1] = v0;
      sym[5] = v1;
      sym.forEach((s, t) => {
        x[(b * L + t) * 6 + s] = 1;
      });
      y[b] = v0 + 2 * v1;
    }
    return { inputs: tf.tensor3d(x, [n, L, 6]), targets: tf.tensor1d(y, 'int32') };
  };
  let count = null;
  const t0 = performance.now();
  for (let step = 0; step < 200; step++) {
    const batch = gen(20, 10);
    await rnn.trainStep(model, batch, optimizer, { omega: m.omega, step });
    tf.dispose([batch.inputs, batch.targets]);
    if (step === 1) count = tf.memory().numTensors;
  }
  const leaked = tf.memory().numTensors - count;
  const test = gen(1000, 10);
  const { outputs, states } = model.forward(test.inputs);
  const pred = tf.argMax(outputs, 1);
  const [p, y] = [await pred.data(), await test.targets.data()];
  let correct = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === y[i]) correct++;
  log({
    kind: 'webgpu-e2e',
    steps: 200,
    ms: performance.now() - t0,
    accuracy: correct / 1000,
    leakedOver198Steps: leaked,
  });
  tf.dispose([outputs, states, pred, test.inputs, test.targets]);
  optimizer.dispose();
  model.dispose();
}

const self = fileURLToPath(import.meta.url);
for (const backend of [...(adapter ? ['webgpu'] : []), 'cpu', 'wasm']) {
  try {
    const out = execFileSync(
      process.execPath,
      [self, '--time', backend, '--steps', values.steps, '--T', values.T],
      { encoding: 'utf8' },
    );
    process.stdout.write(
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .join('\n') + '\n',
    );
  } catch (err) {
    log({ kind: 'time-failed', backend, error: String(err.message).slice(0, 500) });
  }
}
