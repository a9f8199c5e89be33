/** Runs each backend in its own child process and collects what the children send back. */
import { fork, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CoreResult, ProgressEvent } from '../core.js';
import { type BackendStart, webgpuChildEnv } from './backends.js';
import type { WorkerJob, WorkerMessage } from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

export interface BackendRun {
  start: BackendStart;
  result: CoreResult;
}

const RELAXED_SIMD = '--experimental-wasm-relaxed-simd';
let relaxedAccepted: boolean | undefined;

/**
 * Node flags for the children: relaxed SIMD when this Node accepts the flag (Node 20 needs it;
 * the fused wasm kernels pick their relaxed build when the runtime allows it). A V8 flag is not
 * in process.allowedNodeEnvironmentFlags, so ask a throwaway node once.
 */
export function childNodeFlags(relaxedSimd = true): string[] {
  if (!relaxedSimd) return [];
  relaxedAccepted ??=
    spawnSync(process.execPath, [RELAXED_SIMD, '-e', '0'], { stdio: 'ignore' }).status === 0;
  return relaxedAccepted ? [RELAXED_SIMD] : [];
}

/** Runs one backend's job in a fresh Node process. */
export function runBackend(
  job: WorkerJob,
  onProgress?: (e: ProgressEvent) => void,
  nodeFlags: string[] = childNodeFlags(),
): Promise<BackendRun> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [], {
      execArgv: nodeFlags,
      env: job.backend === 'webgpu' ? webgpuChildEnv() : process.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stderr = '';
    let done: BackendRun | undefined;
    let failure: string | undefined;
    child.stdout?.on('data', (d) => {
      stderr += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') onProgress?.(m.event);
      if (m.type === 'done') done = { start: m.start, result: m.result };
      if (m.type === 'error') failure = m.message;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (done) return resolve(done);
      const why = failure ?? `exited with ${signal ?? `code ${code}`}`;
      reject(new Error(`the ${job.backend} benchmark process failed: ${why}\n${stderr.slice(-4000)}`));
    });
    child.send(job);
  });
}
