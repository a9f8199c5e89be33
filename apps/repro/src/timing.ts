/**
 * One line of backend timing for the tour: the median time of one training step (temporal
 * order, 50 hidden, batch 20, SGD-C) per backend and implementation, each measured in its own
 * child process (a backend that ran earlier in a process slows the next one).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type BackendName, useBackend } from './runner/backend.js';

export interface StepTiming {
  backend: string;
  implementation: string;
  length: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  reps: number;
}

/** Measures in this process (called in a child by {@link timeBackends}). */
export async function measureStep(
  backend: BackendName,
  implementation: string,
  length: number,
  reps: number,
): Promise<StepTiming> {
  await useBackend(backend);
  const tf = await import('@tensorflow/tfjs-core');
  const rnn = await import('@cliffguard/rnn');
  const data = await import('@cliffguard/datasets');
  const clip = await import('@cliffguard/clip');
  if (implementation === 'fused') await import('@cliffguard/fused');
  const task = data.createTask('temporal-order', { seed: 1, minLength: length, maxLength: length });
  const model = rnn.createRnn({
    inputSize: 6,
    hiddenSize: 50,
    outputSize: 4,
    activation: 'tanh',
    head: 'last-softmax',
    init: 'smart-tanh',
    seed: 1,
    implementation,
  });
  const optimizer = clip.withGradientClipping(tf.train.sgd(0.01), { maxNorm: 1 });
  const times: number[] = [];
  for (let i = 0; i < reps + 5; i++) {
    const batch = task.nextBatch(20);
    const t0 = performance.now();
    await rnn.trainStep(model, batch, optimizer);
    if (i >= 5) times.push(performance.now() - t0); // 5 warm-up steps
    tf.dispose([batch.inputs, batch.targets]);
  }
  model.dispose();
  optimizer.dispose();
  times.sort((a, b) => a - b);
  const r = (v: number) => Number(v.toFixed(2));
  return {
    backend,
    implementation,
    length,
    medianMs: r(times[Math.floor(times.length / 2)]),
    minMs: r(times[0]),
    maxMs: r(times[times.length - 1]),
    reps,
  };
}

/** Each (backend, implementation) in its own child process; failures are reported, not thrown. */
export function timeBackends(
  pairs: { backend: BackendName; implementation: string }[],
  length: number,
  reps: number,
): (StepTiming | { backend: string; implementation: string; error: string })[] {
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  return pairs.map(({ backend, implementation }) => {
    const out = spawnSync(
      process.execPath,
      [
        cli,
        'time-step',
        '--backend',
        backend,
        '--implementation',
        implementation,
        '--length',
        String(length),
        '--reps',
        String(reps),
      ],
      { encoding: 'utf8', timeout: 300_000 },
    );
    const last = out.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(last) as StepTiming;
    } catch {
      return {
        backend,
        implementation,
        error: (out.stderr || out.stdout).trim().split('\n').pop() ?? 'failed',
      };
    }
  });
}

export function timingLine(results: ReturnType<typeof timeBackends>): string {
  const parts = results.map((r) =>
    'error' in r
      ? `${r.backend}/${r.implementation}: unavailable (${r.error})`
      : `${r.backend}/${r.implementation} ${r.medianMs} ms (${r.minMs}–${r.maxMs})`,
  );
  const first = results.find((r): r is StepTiming => !('error' in r));
  const what = first
    ? `one SGD-C step, temporal order L=${first.length}, 50 hidden, batch 20, median (min–max) of ${first.reps}`
    : 'one step';
  return `backend timing (${what}; shared machine): ${parts.join('; ')}`;
}
