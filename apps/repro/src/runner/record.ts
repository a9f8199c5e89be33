/**
 * How the runner records a run's end, wherever it trained (a pool worker, this thread, a slot
 * of a batched trainer): a finished run appends its line to the results file (main thread: one
 * writer) and then drops its checkpoint; a stopped run keeps its checkpoint; a failed run writes
 * no line (the next invocation runs it again).
 */
import { join } from 'node:path';
import { removeCheckpoint } from '../core/checkpoint.js';
import { fileNameFor, hashOf } from '../core/ids.js';
import type { ResultLine, RunSpec } from '../core/types.js';
import type { BackendName } from './backend.js';
import type { ProgressView } from './progress.js';
import { appendResultLine } from './results.js';
import type { TaskOutcome } from './task.js';

export interface PoolSummary {
  done: number;
  interrupted: number;
  failed: { runId: string; error: string }[];
}

export interface RecordOptions {
  backend: BackendName;
  resultsFile: string;
  view: ProgressView;
  /** one-line summary of a result for the log */
  summarize(result: Record<string, unknown>): string;
}

/** Where a run's checkpoint lives. */
export function checkpointFileOf(checkpointDir: string, run: RunSpec): string {
  return join(checkpointDir, `${fileNameFor(run.id)}.json`);
}

/** Test hook: SIGKILL this process right after N result lines were appended (an injected crash). */
const killAfter = Number(process.env.CLIFFGUARD_REPRO_KILL_AFTER_RUNS ?? 0);

/** A run that ended or stopped; throws when its line cannot be written (then record it as failed). */
export function recordOutcome(
  run: RunSpec,
  checkpointFile: string,
  outcome: TaskOutcome,
  options: RecordOptions,
  summary: PoolSummary,
): void {
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
}

export function recordFailure(
  run: RunSpec,
  err: unknown,
  options: RecordOptions,
  summary: PoolSummary,
): void {
  options.view.runStopped(run.id);
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  summary.failed.push({ runId: run.id, error: message });
  options.view.log(`${run.id}: FAILED: ${message}`);
}
