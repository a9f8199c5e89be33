/**
 * What an experiment is to the runner: a plan (a list of independent runs, each a config and a
 * seed), a way to execute one run inside a worker, and a report built from the finished runs.
 */
import type { Block, ReportDoc } from './report-types.js';

export type Profile = 'quick' | 'paper';
export const PROFILES: readonly Profile[] = ['quick', 'paper'];

export interface PlanOptions {
  profile: Profile;
  /** seeds per configuration; undefined = the profile's default */
  seeds?: number;
  /** experiment-specific switches from the command line (for example `alpha`) */
  flags: Record<string, string | number | boolean | undefined>;
}

export interface PlannedRun {
  /** readable key, unique within the experiment (the seed is appended to make the run id) */
  key: string;
  config: Record<string, unknown>;
  seed: number;
}

export interface Plan {
  /** everything that defines the protocol: results made under different protocols never merge */
  protocol: Record<string, unknown>;
  runs: PlannedRun[];
}

/** One run, as the runner hands it to a worker. */
export interface RunSpec {
  /** `${experiment}:${key}:s${seed}`, stable across invocations */
  id: string;
  experiment: string;
  profile: Profile;
  /** hash of the plan's protocol */
  protocol: string;
  config: Record<string, unknown>;
  seed: number;
}

export interface ProgressUpdate {
  step: number;
  total: number;
  loss?: number;
  accuracy?: number;
  gradNorm?: number;
  note?: string;
}

/** What a run sees of the runner, inside its worker. */
export interface RunContext {
  backend: string;
  /** where the natural data sets are (ptb/, music/) */
  dataDir: string;
  /** the last checkpoint of this run, when an earlier invocation left one */
  resume<S>(): { step: number; state: S } | undefined;
  /** true when a checkpoint is due (interval elapsed) or a stop was requested */
  checkpointDue(): boolean;
  /** writes the checkpoint atomically (temp file + rename) */
  checkpoint(step: number, state: unknown): void;
  /** true after Ctrl-C / SIGTERM: checkpoint, then throw `new Interrupted()` */
  stopRequested(): boolean;
  progress(update: ProgressUpdate): void;
}

/**
 * One run handed to a batched trainer (`--ensemble`): its spec, its context once it takes a slot,
 * and where its end is told, which the runner records as it records a run trained alone.
 */
export interface BatchedRun {
  run: RunSpec;
  /** The run takes a slot now: its context (its checkpoint is read here). */
  start(): RunContext;
  /** It ended with `result`: the runner writes its line and drops its checkpoint. */
  done(result: Record<string, unknown>): void;
  /** It checkpointed and stopped on request (it threw `Interrupted`). */
  stopped(): void;
  failed(error: unknown): void;
}

/** Thrown by a run that stopped on request after checkpointing. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/** One line of an experiment's results file. */
export interface ResultLine {
  runId: string;
  experiment: string;
  profile: Profile;
  protocol: string;
  configHash: string;
  config: Record<string, unknown>;
  seed: number;
  result: Record<string, unknown>;
  /** how and where it ran: not part of the result (merges and comparisons ignore it) */
  timing: { seconds: number; backend: string; resumedFromStep: number; finishedAt: string; host: string };
}

export interface ReportInput {
  profile: Profile;
  lines: ResultLine[];
  /** runs of the plan with no result yet */
  missing: string[];
  /** the command that produced the results */
  command: string;
}

export interface ExperimentOption {
  /** the flag without dashes, for example 'alpha' */
  name: string;
  /** commander syntax for the value, for example '<n>' */
  value: string;
  description: string;
}

export interface ExperimentDef {
  name: string;
  title: string;
  summary: string;
  /** the paper's figure or table this reproduces */
  paperRef: string;
  /** human-readable budget per profile, shown by --help */
  budgets: Record<Profile, string>;
  /** experiment-specific command-line flags, passed to plan() in `flags` */
  options?: ExperimentOption[];
  plan(options: PlanOptions): Plan;
  /** runs in a worker thread with its own tfjs backend; returns the run's result (plain JSON) */
  execute(run: RunSpec, ctx: RunContext): Promise<Record<string, unknown>>;
  /**
   * With `executeBatched`: runs that one batched trainer can train together share a key;
   * undefined for a run that trains alone (through `execute`). `mixed`: one trainer may hold runs
   * of different units and sequence lengths (see runner/batched.ts, `mixedGroups`).
   */
  batchKey?(run: RunSpec, mixed: boolean): string | undefined;
  /**
   * Trains one group of runs (one key) in this thread (its tfjs backend started), at most `slots`
   * at a time, telling each run's end through its handle as it comes; starts no run once
   * `stopRequested()`.
   */
  executeBatched?(
    runs: BatchedRun[],
    options: { slots: number; backend: string; stopRequested(): boolean },
  ): Promise<void>;
  report(input: ReportInput): ReportDoc;
  /** one line over all results, for the results index */
  headline?(lines: ResultLine[]): string;
  /** the paper's numbers beside ours, for the results index */
  paperTable?(lines: ResultLine[], profile: Profile): Block[];
  /** one line about a finished run, for the log */
  summarizeResult(result: Record<string, unknown>): string;
}
