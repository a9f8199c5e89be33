#!/usr/bin/env node
// Benchmark (a script, not a test): milliseconds per full training step of @cliffguard/rnn's
// trainStep (loss, gradients, Ω 'code' with α = 2, the safeguard, global-norm clip 1.0 and SGD
// through @cliffguard/clip) with the 'fused' and the 'reference' implementation, side by side in
// one process per backend (interleaved, median and min-max), plus the fused pass alone with and
// without Ω, achieved GFLOP/s, a profile of the wasm engine's phases, and the PyTorch peer.
//
//   pnpm --filter @cliffguard/fused build && node packages/fused/bench/step.mjs [--backends wasm,cpu]
//        [--configs P50,P100,P200,M,C] [--quick] [--no-torch] [--json out.json]
//
// Each backend runs in its own child process (a backend used earlier in a process slows the next).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const flag = (name) => args.includes(`--${name}`);

// name: inputs, hidden, outputs, T, batch, head, input kind (as the PyTorch peer's shapes)
export const CONFIGS = {
  P50: { I: 6, H: 50, O: 4, T: 50, B: 20, head: 'last-softmax', inputs: 'one-hot' },
  P100: { I: 6, H: 50, O: 4, T: 100, B: 20, head: 'last-softmax', inputs: 'one-hot' },
  P200: { I: 6, H: 50, O: 4, T: 200, B: 20, head: 'last-softmax', inputs: 'one-hot' },
  M: { I: 88, H: 300, O: 88, T: 100, B: 16, head: 'sigmoid', inputs: 'piano-roll' },
  C: { I: 50, H: 512, O: 50, T: 100, B: 32, head: 'softmax', inputs: 'one-hot' },
};

/** Multiply-adds ×2 of one step without Ω: forward, BPTT and ∂W_rec (3·2BTH²), head products, dense input products. */
export function stepFlops(c) {
  const rows = c.head.startsWith('last') ? c.B : c.B * c.T;
  const rec = 2 * c.B * c.T * c.H * c.H;
  const head = 3 * 2 * rows * c.H * c.O;
  const input = c.inputs === 'one-hot' ? 0 : 2 * 2 * c.B * c.T * c.I * c.H;
  return 3 * rec + head + input;
}

// How PyTorch may spend N threads: torch's intra-op threads × OpenBLAS's (the GEMMs). Both pools
// at once oversubscribe the cores (M: 53 ms at torch 2 threads over OpenBLAS's default pool,
// against 34 ms with one OpenBLAS thread), so at two threads the peer is the faster of torch 2 ×
// OpenBLAS 1 (elementwise ops threaded) and torch 1 × OpenBLAS 2 (GEMMs threaded), measured side
// by side; OPENBLAS_NUM_THREADS in the environment pins OpenBLAS instead.
function peerSettings(threads) {
  const n = Number(threads);
  const pinned = process.env.OPENBLAS_NUM_THREADS;
  const settings = pinned
    ? [{ torch: n, openblas: Number(pinned) }]
    : n === 1
      ? [{ torch: 1, openblas: 1 }]
      : [
          { torch: n, openblas: 1 },
          { torch: 1, openblas: n },
        ];
  return settings.map((x) => ({
    ...x,
    label: `torch ${x.torch} × OpenBLAS ${x.openblas}`,
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(x.openblas) },
  }));
}
const PEER_SCRIPT = join(here, '..', '..', '..', '..', 'shared', 'peers', 'pytorch_rnn_step.py');

/** The peer's JSON lines for `names` under one setting ([] when PyTorch is not installed). */
function runPeer(names, setting, steps, warmup) {
  const args = [
    PEER_SCRIPT,
    '--configs',
    names.join(','),
    '--threads',
    String(setting.torch),
    '--steps',
    steps,
  ];
  if (warmup) args.push('--warmup', warmup);
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', timeout: 900_000, env: setting.env });
  if (r.status !== 0) return [];
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ ...JSON.parse(l), setting: setting.label }));
}

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

async function child(backend, names, quick, withReference = true) {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  await import('@tensorflow/tfjs-backend-wasm');
  const fused = await import('@cliffguard/fused');
  const { createRnn, createTrainer, paperMethod, trainStep } = await import('@cliffguard/rnn');
  const { withGradientClipping } = await import('@cliffguard/clip');
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not start`);
  await tf.ready();
  const out = [];
  for (const name of names) {
    const c = CONFIGS[name];
    const rand = lcg(7);
    const u = new Float32Array(c.B * c.T * c.I);
    for (let r = 0; r < c.B * c.T; r++) {
      if (c.inputs === 'one-hot') u[r * c.I + Math.floor(rand() * c.I)] = 1;
      else for (let i = 0; i < c.I; i++) u[r * c.I + i] = rand() < 0.05 ? 1 : 0;
    }
    const inputs = tf.tensor3d(u, [c.B, c.T, c.I]);
    let targets;
    if (c.head === 'last-softmax')
      targets = tf.tensor1d(
        Int32Array.from({ length: c.B }, () => Math.floor(rand() * c.O)),
        'int32',
      );
    else if (c.head === 'softmax')
      targets = tf.tensor2d(
        Int32Array.from({ length: c.B * c.T }, () => Math.floor(rand() * c.O)),
        [c.B, c.T],
        'int32',
      );
    else
      targets = tf.tensor3d(
        Float32Array.from({ length: c.B * c.T * c.O }, () => (rand() < 0.05 ? 1 : 0)),
        [c.B, c.T, c.O],
      );
    const batch = { inputs, targets };
    const model = createRnn({
      inputSize: c.I,
      hiddenSize: c.H,
      outputSize: c.O,
      head: c.head,
      activation: 'tanh',
      init: 'basic-tanh',
      seed: 1,
      implementation: 'fused',
    });
    const optimizer = withGradientClipping(tf.train.sgd(0.01), { maxNorm: 1 });
    const step = async (impl) => {
      model.useImplementation(impl);
      const t0 = performance.now();
      await trainStep(model, batch, optimizer, { omega: { alpha: 2, variant: 'code' }, safeguard: true });
      return performance.now() - t0;
    };
    // the same update as a one-run fused trainer (the compiled engine): clip, Ω, safeguard and SGD
    // inside one kernel call
    const trainer = createTrainer({
      inputSize: c.I,
      hiddenSize: c.H,
      outputSize: c.O,
      head: c.head,
      activation: 'tanh',
      members: [
        {
          method: paperMethod('SGD-CR', {
            learningRate: 0.01,
            maxNorm: 1,
            alpha: 2,
            omegaVariant: 'code',
            safeguard: true,
          }),
        },
      ],
      implementation: 'fused',
      engine: 'compiled',
    });
    trainer.setWeights(0, await model.getWeights());
    const stacked = { inputs: tf.expandDims(inputs, 0), targets: tf.expandDims(targets, 0) };
    const kernelStep = async () => {
      const t0 = performance.now();
      await trainer.step(stacked);
      return performance.now() - t0;
    };
    const pass = (impl, withOmega) => {
      model.useImplementation(impl);
      const t0 = performance.now();
      const r = model.lossAndGradients(batch, withOmega ? { omega: { variant: 'code', weight: 2 } } : {});
      r.loss.dataSync();
      tf.dispose(r);
      return performance.now() - t0;
    };
    // rounds: each round runs fused k times and the reference once, in alternating order
    const big = c.H >= 300;
    const slow = backend === 'cpu' || big;
    const rounds = quick ? 3 : slow ? 5 : 15;
    const perRound = quick ? 2 : big ? 4 : 4;
    const times = { fused: [], reference: [], fusedPass: [], fusedPassNoOmega: [], kernelStep: [] };
    // warm-up: the JavaScript around a step (clip wrapper, optimizer, tfjs op dispatch) needs
    // about 200 calls before V8 has optimised it: P100's trainStep in a fresh process took 2.1 ms
    // over steps 0-10, 1.7 over 10-40, 1.5 over 40-100, 1.39 over 100-200 and 1.34 after. A
    // training run is 10^5 steps, so the steady state is the figure; M and C do not notice.
    const warm = big ? 2 : 200;
    for (let k = 0; k < warm; k++) {
      await step('fused');
      await kernelStep();
      pass('fused', true);
    }
    if (withReference) await step('reference');
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? ['reference', 'fused'] : ['fused', 'reference'];
      for (const impl of order) {
        if (impl === 'reference') {
          if (withReference) times.reference.push(await step('reference'));
        } else for (let k = 0; k < perRound; k++) times.fused.push(await step('fused'));
      }
      for (let k = 0; k < perRound; k++) {
        times.kernelStep.push(await kernelStep());
        times.fusedPass.push(pass('fused', true));
        times.fusedPassNoOmega.push(pass('fused', false));
      }
    }
    const stat = (a) => {
      const s = [...a].sort((x, y) => x - y);
      return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1], n: s.length };
    };
    const row = { backend, config: name, ...c, flops: stepFlops(c), kernelInfo: fused.kernelInfo(), times };
    for (const [k, v] of Object.entries(times)) if (v.length) row[k] = stat(v);
    if (backend === 'wasm' && fused.wasmVariant()) {
      // phases of the wasm engine on one thread (the engine's own build)
      const wasm = await fused.instantiateFusedWasm(fused.wasmVariant());
      const engine = new fused.WasmSequenceEngine(wasm);
      const arrays = async (t) => Float32Array.from(await t.data());
      const w = model.variables;
      const problem = {
        batch: c.B,
        time: c.T,
        inputSize: c.I,
        hiddenSize: c.H,
        outputSize: c.O,
        activation: 'tanh',
        head: c.head,
        weights: {
          W_in: await arrays(w.W_in),
          W_rec: await arrays(w.W_rec),
          b: await arrays(w.b),
          W_out: await arrays(w.W_out),
          b_out: await arrays(w.b_out),
        },
        inputs: u,
        targets: c.head === 'sigmoid' ? await arrays(targets) : Int32Array.from(await targets.data()),
        omega: 'code',
        omegaWeight: 2,
      };
      row.profile = engine.profile(problem, quick ? 3 : 9);
    }
    out.push(row);
    tf.dispose([inputs, targets, stacked.inputs, stacked.targets]);
    trainer.dispose();
    optimizer.dispose();
    model.dispose?.();
    process.stderr.write(
      `${backend} ${name}: fused ${row.fused.median.toFixed(2)} ms, reference ${row.reference ? row.reference.median.toFixed(2) : '–'} ms\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/** PyTorch at `threads` threads: per config, the fastest of the settings that use that many. */
function torch(names, threads) {
  const runs = peerSettings(threads).flatMap((setting) => runPeer(names, setting, '30'));
  return names
    .map((name) => {
      const mine = runs.filter((p) => p.config === name);
      return mine.sort((a, b) => a.ms_median - b.ms_median)[0];
    })
    .filter(Boolean)
    .map((p) => ({ ...p, threads: Number(threads) }));
}

const fmt = (s) => (s ? `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})` : '–');

/**
 * fused (wasm, full trainStep) against the PyTorch peer on a shared machine: blocks alternate
 * (PyTorch, fused, PyTorch, fused, ...) per config and thread count, so both see the same load;
 * medians over all blocks.
 */
async function peerInterleaved() {
  const names = opt('configs', 'P100,M,C').split(',');
  const rounds = Number(opt('rounds', '3'));
  const lines = [
    '| config | threads | fused trainStep ms | fused one-kernel step ms | fused pass (Ω) ms | PyTorch step ms | trainStep / PyTorch | one-kernel step / PyTorch | pass / PyTorch |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const all = [];
  for (const name of names) {
    for (const threads of ['1', '2']) {
      const f = { fused: [], kernelStep: [], fusedPass: [] };
      const settings = peerSettings(threads);
      const bySetting = settings.map(() => []);
      for (let r = 0; r < rounds; r++) {
        settings.forEach((setting, i) => {
          const py = runPeer([name], setting, '15', '3');
          if (py.length) bySetting[i].push(py[py.length - 1].ms_median);
        });
        const ch = spawnSync(
          process.execPath,
          [
            '--experimental-wasm-relaxed-simd',
            fileURLToPath(import.meta.url),
            '--child',
            '--backend',
            'wasm',
            '--configs',
            name,
            '--quick',
            '--no-reference',
          ],
          {
            encoding: 'utf8',
            env: { ...process.env, CLIFFGUARD_FUSED_THREADS: threads, CLIFFGUARD_WEBGPU: 'off' },
            stdio: ['ignore', 'pipe', 'ignore'],
            maxBuffer: 1 << 26,
          },
        );
        if (ch.status !== 0) throw new Error(`fused child failed for ${name}`);
        const row = JSON.parse(ch.stdout.trim().split('\n').pop())[0];
        f.fused.push(...row.times.fused);
        f.kernelStep.push(...row.times.kernelStep);
        f.fusedPass.push(...row.times.fusedPass);
      }
      const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
      const rng = (a) => `${med(a).toFixed(2)} (${Math.min(...a).toFixed(2)}–${Math.max(...a).toFixed(2)})`;
      // the peer: its fastest setting at this thread count (by median over the rounds)
      const best = bySetting
        .map((times, i) => ({ times, label: settings[i].label }))
        .filter((x) => x.times.length)
        .sort((a, b) => med(a.times) - med(b.times))[0];
      const t = best ? best.times : [];
      const peer = med(t);
      all.push({
        name,
        threads,
        ...f,
        torch: t,
        torchSetting: best?.label,
        torchSettings: Object.fromEntries(bySetting.map((times, i) => [settings[i].label, times])),
      });
      const ratio = (a) => `${(med(a) / peer).toFixed(2)}x`;
      lines.push(
        `| ${name} | ${threads} | ${rng(f.fused)} | ${rng(f.kernelStep)} | ${rng(f.fusedPass)} | ${t.length ? `${rng(t)}, ${best.label}` : '–'} | ${ratio(f.fused)} | ${ratio(f.kernelStep)} | ${ratio(f.fusedPass)} |`,
      );
      process.stderr.write(`${lines[lines.length - 1]}\n`);
    }
  }
  console.log(
    [
      'PyTorch: median of each block of 15 steps, its fastest setting at the thread count (two threads: torch 2 × OpenBLAS 1 or torch 1 × OpenBLAS 2, both run every round); fused: every step of every block',
      '',
      ...lines,
    ].join('\n'),
  );
  const json = opt('json');
  if (json) writeFileSync(json, JSON.stringify(all, null, 2));
}

async function main() {
  if (flag('child')) {
    return child(
      opt('backend', 'wasm'),
      opt('configs', 'P100').split(','),
      flag('quick'),
      !flag('no-reference'),
    );
  }
  if (flag('peer')) return peerInterleaved();
  const backends = opt('backends', 'wasm,cpu').split(',');
  const names = opt('configs', 'P50,P100,P200,M,C').split(',');
  const rows = [];
  for (const backend of backends) {
    const cfgs = backend === 'cpu' ? names.filter((n) => n.startsWith('P')) : names;
    const runs = backend === 'wasm' ? [{ threads: '2' }, { threads: '1' }] : [{ threads: '1' }];
    for (const run of runs) {
      const r = spawnSync(
        process.execPath,
        [
          '--experimental-wasm-relaxed-simd',
          fileURLToPath(import.meta.url),
          '--child',
          '--backend',
          backend,
          '--configs',
          cfgs.join(','),
          ...(flag('quick') ? ['--quick'] : []),
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, CLIFFGUARD_FUSED_THREADS: run.threads, CLIFFGUARD_WEBGPU: 'off' },
          stdio: ['ignore', 'pipe', 'inherit'],
          maxBuffer: 1 << 26,
        },
      );
      if (r.status !== 0) throw new Error(`${backend} child failed`);
      for (const row of JSON.parse(r.stdout.trim().split('\n').pop()))
        rows.push({ ...row, threads: row.kernelInfo.wasmThreads });
    }
  }
  const peers = flag('no-torch') ? [] : [...torch(names, '1'), ...torch(names, '2')];
  const lines = [
    '| backend | config | fused step ms | reference step ms | reference / fused | fused pass (Ω) ms | fused pass (no Ω) ms | GFLOP/s (no Ω) | PyTorch ms (same threads) | fused / PyTorch |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const threads = r.backend === 'wasm' ? r.threads : 1;
    const peer = peers.find((p) => p.config === r.config && p.threads === threads);
    const gflops = r.flops / (r.fusedPassNoOmega.median * 1e6);
    lines.push(
      `| ${r.backend}${r.backend === 'wasm' ? ` (${threads} thread${threads > 1 ? 's' : ''}, ${r.kernelInfo.wasmVariant})` : ''} | ${r.config} | ${fmt(r.fused)} | ${fmt(r.reference)} | ${(r.reference.median / r.fused.median).toFixed(1)}x | ${fmt(r.fusedPass)} | ${fmt(r.fusedPassNoOmega)} | ${gflops.toFixed(1)} | ${peer ? `${peer.ms_median.toFixed(2)} (${peer.ms_min.toFixed(2)}–${peer.ms_max.toFixed(2)})` : '–'} | ${peer ? `${(r.fused.median / peer.ms_median).toFixed(2)}x` : '–'} |`,
    );
  }
  const profiles = rows.filter((r) => r.profile && r.threads === 1);
  if (profiles.length) {
    lines.push(
      '',
      'Profile of the wasm engine on one thread (median ms per phase, Ω combined into ∂W_rec):',
      '',
    );
    for (const r of profiles) {
      const total = Object.values(r.profile).reduce((a, b) => a + b, 0);
      lines.push(
        `- ${r.config}: ${Object.entries(r.profile)
          .map(([k, v]) => `${k} ${v.toFixed(2)} (${((100 * v) / total).toFixed(0)}%)`)
          .join(', ')}`,
      );
    }
  }
  console.log(lines.join('\n'));
  const json = opt('json');
  if (json) writeFileSync(json, JSON.stringify({ rows, peers }, null, 2));
}

await main();
