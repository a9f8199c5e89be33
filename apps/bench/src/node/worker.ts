/**
 * One backend's child process: start the backend, run the shared core, send the results to
 * the parent over IPC, exit. A fresh process per backend, because a backend that ran earlier in
 * the same process slowed the next one 2-3x (toolchain.md).
 */
import { runCore } from '../core.js';
import { selectStacks, stackFlags } from '../stacks/index.js';
import { type BackendName, startBackend } from './backends.js';
import type { WorkerJob, WorkerMessage } from './protocol.js';

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) throw new Error('worker.js must be started by the bench runner (no IPC channel)');
    process.send(message, undefined, {}, () => resolve());
  });
}

async function run(job: WorkerJob): Promise<void> {
  const start = await startBackend(job.backend as BackendName);
  await send({ type: 'started', start });
  if (start.unavailable !== null) {
    await send({ type: 'done', start, result: { rows: [], skipped: [], failed: [] } });
    return;
  }
  const stacks = await selectStacks(job.impls, job.methods, job.ensembles, job.ensemblePaths);
  Object.assign(start.flags, await stackFlags(job.impls, job.backend));
  const result = await runCore({
    ...job,
    stacks,
    onProgress: (event) => {
      process.send?.({ type: 'progress', event } satisfies WorkerMessage);
    },
  });
  await send({ type: 'done', start, result });
}

process.once('message', (job: WorkerJob) => {
  run(job)
    .catch((err: Error) => send({ type: 'error', message: err.stack ?? err.message }))
    .finally(() => process.disconnect?.());
});
