/**
 * Runs a list of independent runs over a pool of worker threads (piscina), one tfjs backend per
 * worker; with `ensemble`, the runs an experiment can batch train first, in this thread, R at a
 * time in batched trainers (batched.ts). Each finished run appends its line to the results file
 * (main thread: one writer) and then drops its checkpoint (record.ts). Ctrl-C / SIGTERM set a
 * shared stop flag: runs checkpoint and stop; a second Ctrl-C quits at once (the last
 * checkpoints remain).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { appRoot } from '../core/paths.js';
import type { RunSpec } from '../core/types.js';
import { prepareWebgpuEnvironment } from './backend.js';
import { executeBatched } from './batched.js';
import {
  checkpointFileOf,
  type PoolSummary,
  type RecordOptions,
  recordFailure,
  recordOutcome,
} from './record.js';
import { executeTask, type RunTask, type TaskMessage, type TaskOutcome } from './task.js';

export interface PoolOptions extends RecordOptions {
  /** 0 = run in this thread (no pool) */
  workers: number;
  /**
   * `--ensemble`: the most runs one batched trainer holds (0 or absent: every run trains alone);
   * runs the experiment cannot batch still train alone
   */
  ensemble?: number;
  dataDir: string;
  checkpointDir: string;
  checkpointEverySeconds: number;
}

export type { PoolSummary };

/** Worker threads to use by default: one per core (tfjs cpu and wasm are single-threaded in Node). */
export function defaultWorkers(runs: number): number {
  return Math.max(1, Math.min(availableParallelism(), runs));
}

function workerFile(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  // under vitest this module is the .ts source: the pool still needs the built worker
  return existsSync(here) ? here : join(appRoot, 'dist', 'runner', 'worker.js');
}

export async function executeRuns(runs: RunSpec[], options: PoolOptions): Promise<PoolSummary> {
  const summary: PoolSummary = { done: 0, interrupted: 0, failed: [] };
  const stop = new SharedArrayBuffer(4);
  const stopFlag = new Int32Array(stop);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      Atomics.store(stopFlag, 0, 1);
      options.view.log(
        `${signal}: checkpointing the runs in progress, then stopping (press Ctrl-C again to quit now)`,
      );
    } else {
      options.view.stop();
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (options.backend === 'webgpu') prepareWebgpuEnvironment();
  try {
    // the runs a batched trainer can hold first (in this thread), then the others
    const alone = options.ensemble
      ? await executeBatched(runs, { ...options, slots: options.ensemble }, stop, summary)
      : runs;
    await executeAlone(alone, options, stop, summary);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return summary;
}

/** Each run as a task of its own: on the pool's workers, or one after another in this thread. */
async function executeAlone(
  runs: RunSpec[],
  options: PoolOptions,
  stop: SharedArrayBuffer,
  summary: PoolSummary,
): Promise<void> {
  const stopFlag = new Int32Array(stop);
  const pool =
    options.workers > 0 && runs.length > 0
      ? new Piscina({
          filename: workerFile(),
          minThreads: options.workers,
          maxThreads: options.workers,
          idleTimeout: 1000,
        })
      : undefined;

  const runOne = async (run: RunSpec): Promise<void> => {
    if (Atomics.load(stopFlag, 0) !== 0) return;
    const channel = new MessageChannel();
    channel.port1.on('message', (msg: TaskMessage) => {
      if ('warning' in msg) options.view.log(`warning: ${msg.warning}`);
      else options.view.update(msg);
    });
    const checkpointFile = checkpointFileOf(options.checkpointDir, run);
    const task: RunTask = {
      run,
      backend: options.backend,
      dataDir: options.dataDir,
      checkpointFile,
      checkpointEverySeconds: options.checkpointEverySeconds,
      stop,
      port: channel.port2,
    };
    try {
      const outcome: TaskOutcome = pool
        ? await pool.run(task, { transferList: [channel.port2] as never })
        : await executeTask(task);
      recordOutcome(run, checkpointFile, outcome, options, summary);
    } catch (err) {
      recordFailure(run, err, options, summary);
    } finally {
      channel.port1.close();
    }
  };

  try {
    if (pool) {
      await Promise.all(runs.map((run) => runOne(run)));
    } else {
      for (const run of runs) await runOne(run);
    }
  } finally {
    await pool?.destroy();
  }
}
