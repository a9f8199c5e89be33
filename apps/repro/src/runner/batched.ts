/**
 * `--ensemble R`: the runs an experiment can batch (its `batchKey`) are grouped by key, and each
 * group trains in this thread through the experiment's `executeBatched` (one batched trainer of
 * at most R slots whose runs come and go). Each run is still a run of its own to the runner: its
 * context comes from `openRun` (its checkpoint, progress, the stop flag), its end is recorded by
 * `recordOutcome` / `recordFailure`, exactly as for a run trained alone.
 */
import type { BatchedRun, ExperimentDef, RunSpec } from '../core/types.js';
import { getExperiment } from '../experiments/registry.js';
import { useBackend } from './backend.js';
import {
  checkpointFileOf,
  type PoolSummary,
  type RecordOptions,
  recordFailure,
  recordOutcome,
} from './record.js';
import { type OpenedRun, openRun, type TaskMessage } from './task.js';

export interface BatchedOptions extends RecordOptions {
  /** the most runs one batched trainer holds */
  slots: number;
  /**
   * Every group at once (their steps interleaved in this thread) rather than one after another.
   * The default on webgpu, where a step is queued on the device and awaited: while one group
   * waits for its record, the others' steps are recorded, so a sweep of several lengths keeps the
   * GPU busy. On cpu and wasm a step is the thread's own work, so interleaving only costs memory
   * (`CLIFFGUARD_REPRO_GROUPS=together` asks for it anyway; tested so).
   */
  groupsTogether?: boolean;
  dataDir: string;
  checkpointDir: string;
  checkpointEverySeconds: number;
}

interface Group {
  def: ExperimentDef;
  runs: RunSpec[];
}

/**
 * Whether one batched trainer holds runs of different units and sequence lengths (a whole Fig. 7
 * sweep in one ensemble). The default on webgpu, where the fused packed step takes them all in
 * its three dispatches; on cpu and wasm such an ensemble steps its runs group by group inside each
 * update, so separate trainers, one after another, are the default there
 * (`CLIFFGUARD_REPRO_GROUPS=one` asks for one trainer anyway, `apart` for separate ones on webgpu).
 */
export function mixedGroups(backend: string): boolean {
  const asked = process.env.CLIFFGUARD_REPRO_GROUPS;
  if (asked === 'one') return true;
  if (asked === 'apart' || asked === 'together') return false;
  return backend === 'webgpu';
}

/** The runs one batched trainer can hold together, by experiment and key; the rest train alone. */
async function groupRuns(runs: RunSpec[], backend: string): Promise<{ groups: Group[]; alone: RunSpec[] }> {
  const groups = new Map<string, Group>();
  const alone: RunSpec[] = [];
  const mixed = mixedGroups(backend);
  for (const run of runs) {
    const def = await getExperiment(run.experiment);
    const key = def.executeBatched ? def.batchKey?.(run, mixed) : undefined;
    if (key === undefined) {
      alone.push(run);
      continue;
    }
    const id = `${run.experiment} ${key}`;
    const group = groups.get(id);
    if (group) group.runs.push(run);
    else groups.set(id, { def, runs: [run] });
  }
  return { groups: [...groups.values()], alone };
}

/**
 * Trains every batchable run of `runs` in this thread, group after group or all groups at once
 * (`groupsTogether`); returns the runs that train alone (the pool's). After a stop request no
 * further run starts.
 */
export async function executeBatched(
  runs: RunSpec[],
  options: BatchedOptions,
  stop: SharedArrayBuffer,
  summary: PoolSummary,
): Promise<RunSpec[]> {
  const { groups, alone } = await groupRuns(runs, options.backend);
  if (groups.length === 0) return alone;
  const stopFlag = new Int32Array(stop);
  const stopRequested = () => Atomics.load(stopFlag, 0) !== 0;
  await useBackend(options.backend);
  const together =
    options.groupsTogether ??
    (options.backend === 'webgpu' || process.env.CLIFFGUARD_REPRO_GROUPS === 'together');
  if (together) {
    // trainGroup records its runs' failures itself: one group's failure leaves the others running
    await Promise.all(groups.map((group) => trainGroup(group, options, stop, summary, stopRequested)));
    return alone;
  }
  for (const group of groups) {
    if (stopRequested()) break;
    await trainGroup(group, options, stop, summary, stopRequested);
  }
  return alone;
}

/** One group through its experiment's batched trainer; a run not told when the group fails has failed. */
async function trainGroup(
  group: Group,
  options: BatchedOptions,
  stop: SharedArrayBuffer,
  summary: PoolSummary,
  stopRequested: () => boolean,
): Promise<void> {
  const told = new Set<string>();
  const handles = group.runs.map((run) => handleOf(run, options, stop, summary, told));
  try {
    await group.def.executeBatched?.(handles, {
      slots: options.slots,
      backend: options.backend,
      stopRequested,
    });
  } catch (err) {
    for (const run of group.runs) if (!told.has(run.id)) recordFailure(run, err, options, summary);
  }
}

/** A run's handle: its context when it takes a slot, and its end recorded as a lone run's is. */
function handleOf(
  run: RunSpec,
  options: BatchedOptions,
  stop: SharedArrayBuffer,
  summary: PoolSummary,
  told: Set<string>,
): BatchedRun {
  const checkpointFile = checkpointFileOf(options.checkpointDir, run);
  let opened: OpenedRun | undefined;
  const post = (msg: TaskMessage) => {
    if ('warning' in msg) options.view.log(`warning: ${msg.warning}`);
    else options.view.update(msg);
  };
  /** Records the run's end once; a line that cannot be written fails the run (as in the pool). */
  const tell = (record: () => void) => {
    if (told.has(run.id)) return;
    told.add(run.id);
    try {
      record();
    } catch (err) {
      recordFailure(run, err, options, summary);
    }
  };
  const started = () => {
    if (!opened) throw new Error(`run ${run.id} ended before it started`);
    return opened;
  };
  return {
    run,
    start: () => {
      opened = openRun(
        {
          run,
          backend: options.backend,
          dataDir: options.dataDir,
          checkpointFile,
          checkpointEverySeconds: options.checkpointEverySeconds,
          stop,
        },
        post,
      );
      return opened.ctx;
    },
    done: (result) =>
      tell(() => recordOutcome(run, checkpointFile, started().done(result), options, summary)),
    stopped: () => tell(() => recordOutcome(run, checkpointFile, started().interrupted(), options, summary)),
    failed: (err) => tell(() => recordFailure(run, err, options, summary)),
  };
}
