/**
 * Runs a list of independent runs over a pool of worker threads (piscina), one tfjs backend per
 * worker. Each finished run appends its line to the results file (main thread: one writer) and
 * then drops its checkpoint. Ctrl-C / SIGTERM set a shared stop flag: runs checkpoint and stop;
 * a second Ctrl-C quits at once (the last checkpoints remain).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { removeCheckpoint } from '../core/checkpoint.js';
import { fileNameFor, hashOf } from '../core/ids.js';
import { appRoot } from '../core/paths.js';
import type { ResultLine, RunSpec } from '../core/types.js';
import { type BackendName, prepareWebgpuEnvironment } from './backend.js';
import type { ProgressView } from './progress.js';
import { appendResultLine } from './results.js';
import { executeTask, type RunTask, type TaskMessage, type TaskOutcome } from './task.js';

export interface PoolOptions {
  backend: BackendName;
  /** 0 = run in this thread (no pool) */
  workers: number;
  dataDir: string;
  resultsFile: string;
  checkpointDir: string;
  checkpointEverySeconds: number;
  view: ProgressView;
  /** one-line summary of a result for the log */
  summarize(result: Record<string, unknown>): string;
}

export interface PoolSummary {
  done: number;
  interrupted: number;
  failed: { runId: string; error: string }[];
}

/** Worker threads to use by default: one per core (tfjs cpu and wasm are single-threaded in Node). */
export function defaultWorkers(runs: number): number {
  return Math.max(1, Math.min(availableParallelism(), runs));
}

function workerFile(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  // under vitest this module is the .ts source: the pool still needs the built worker
  return existsSync(here) ? here : join(appRoot, 'dist', 'runner', 'worker.js');
}

/** Test hook: SIGKILL this process right after N result lines were appended (an injected crash). */
const killAfter = Number(process.env.CLIFFGUARD_REPRO_KILL_AFTER_RUNS ?? 0);

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
  const pool =
    options.workers > 0
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
    const checkpointFile = join(options.checkpointDir, `${fileNameFor(run.id)}.json`);
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
      if (outcome.status === 'interrupted') {
        summary.interrupted += 1;
        options.view.runStopped(run.id);
        options.view.log(`${run.id}: stopped at step ${outcome.step}, checkpoint kept`);
        return;
      }
      const line: ResultLine = {
        runId: run.id,
        experiment: run.experiment,
        profile: run.profile,
        protocol: run.protocol,
        configHash: hashOf(run.config),
        config: run.config,
        seed: run.seed,
        result: outcome.result,
        timing: {
          seconds: outcome.seconds,
          backend: options.backend,
          resumedFromStep: outcome.resumedFromStep,
          finishedAt: new Date().toISOString(),
          host: outcome.host,
        },
      };
      appendResultLine(options.resultsFile, line);
      removeCheckpoint(checkpointFile); // only after the line is safely written
      summary.done += 1;
      const resumed = outcome.resumedFromStep > 0 ? ` (resumed from step ${outcome.resumedFromStep})` : '';
      options.view.runFinished(
        run.id,
        `${options.summarize(outcome.result)} in ${outcome.seconds.toFixed(1)} s${resumed}`,
      );
      if (killAfter > 0 && summary.done >= killAfter) process.kill(process.pid, 'SIGKILL');
    } catch (err) {
      options.view.runStopped(run.id);
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      summary.failed.push({ runId: run.id, error: message });
      options.view.log(`${run.id}: FAILED: ${message}`);
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
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await pool?.destroy();
  }
  return summary;
}
