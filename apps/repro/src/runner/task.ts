/**
 * Executes one run: in a pool worker (worker.ts) or, with --workers 0, in the main thread.
 * The run reads its checkpoint through the context, saves new ones atomically, reports
 * progress over a MessagePort, and stops (after a checkpoint) when the shared stop flag is set.
 * `openRun` is that context, which batched runs (batched.ts) use too.
 */
import { hostname } from 'node:os';
import type { MessagePort } from 'node:worker_threads';
import { loadCheckpoint, saveCheckpoint } from '../core/checkpoint.js';
import { hashOf } from '../core/ids.js';
import { Interrupted, type ProgressUpdate, type RunContext, type RunSpec } from '../core/types.js';
import { getExperiment } from '../experiments/registry.js';
import { type BackendName, useBackend } from './backend.js';

export interface RunTask {
  run: RunSpec;
  backend: BackendName;
  dataDir: string;
  checkpointFile: string;
  checkpointEverySeconds: number;
  /** Int32Array view: element 0 becomes 1 when the runner asks every run to stop */
  stop: SharedArrayBuffer;
  port?: MessagePort;
}

export type ProgressMessage = { runId: string } & ProgressUpdate;

/** What a run posts to the runner: progress, or a warning for the log (a damaged checkpoint set aside). */
export type TaskMessage = ProgressMessage | { runId: string; warning: string };

export type TaskOutcome =
  | {
      status: 'done';
      result: Record<string, unknown>;
      seconds: number;
      resumedFromStep: number;
      host: string;
    }
  | { status: 'interrupted'; step: number };

/** The runner's side of one run, wherever it trains: its context, and its outcome once it ends. */
export interface OpenedRun {
  ctx: RunContext;
  /** the run ended with `result` */
  done(result: Record<string, unknown>): TaskOutcome;
  /** the run stopped on request: at the step of its last checkpoint */
  interrupted(): TaskOutcome;
}

/**
 * Reads the run's checkpoint (a damaged one is set aside and reported as a warning) and makes its
 * context: resume, checkpoints, the stop flag, progress (at most every 150 ms) through `post`.
 */
export function openRun(
  task: Omit<RunTask, 'port'>,
  post: (msg: TaskMessage) => void,
  started = Date.now(),
): OpenedRun {
  const { run } = task;
  const stopFlag = new Int32Array(task.stop);
  const configHash = hashOf(run.config);
  const prior = loadCheckpoint(task.checkpointFile, run.id, configHash, (warning) =>
    post({ runId: run.id, warning }),
  );
  let lastSave = Date.now();
  let lastProgress = 0;
  let savedStep = prior?.step ?? 0;
  const ctx: RunContext = {
    backend: task.backend,
    dataDir: task.dataDir,
    resume: <S>() => (prior ? { step: prior.step, state: prior.state as S } : undefined),
    stopRequested: () => Atomics.load(stopFlag, 0) !== 0,
    checkpointDue: () =>
      Atomics.load(stopFlag, 0) !== 0 || Date.now() - lastSave >= task.checkpointEverySeconds * 1000,
    checkpoint: (step, state) => {
      saveCheckpoint(task.checkpointFile, {
        runId: run.id,
        configHash,
        step,
        savedAt: new Date().toISOString(),
        state,
      });
      lastSave = Date.now();
      savedStep = step;
    },
    progress: (update) => {
      const now = Date.now();
      if (now - lastProgress < 150 && update.step < update.total) return;
      lastProgress = now;
      post({ runId: run.id, ...update });
    },
  };
  return {
    ctx,
    done: (result) => ({
      status: 'done',
      result,
      seconds: (Date.now() - started) / 1000,
      resumedFromStep: prior?.step ?? 0,
      host: hostname(),
    }),
    interrupted: () => ({ status: 'interrupted', step: savedStep }),
  };
}

export async function executeTask(task: RunTask): Promise<TaskOutcome> {
  const { run } = task;
  const started = Date.now();
  const stopFlag = new Int32Array(task.stop);
  if (Atomics.load(stopFlag, 0) !== 0) return { status: 'interrupted', step: 0 }; // queued when the stop came
  await useBackend(task.backend);
  const def = await getExperiment(run.experiment);
  // without a port (no pool), warnings go to the console and progress nowhere
  const post = (msg: TaskMessage) => {
    if (task.port) task.port.postMessage(msg);
    else if ('warning' in msg) console.warn(msg.warning);
  };
  const opened = openRun(task, post, started);
  try {
    return opened.done(await def.execute(run, opened.ctx));
  } catch (err) {
    if (err instanceof Interrupted) return opened.interrupted();
    throw err;
  } finally {
    task.port?.close();
  }
}
