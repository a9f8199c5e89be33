/**
 * What the CLI's commands do (cli.ts only parses arguments): run an experiment (resuming what an
 * earlier invocation left), merge shard results, render a report.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { damagedCheckpoint, readCheckpoint, setAsideCheckpoint, writeFileAtomic } from './core/checkpoint.js';
import { fileNameFor, hashOf, type Shard, selectShard } from './core/ids.js';
import { experimentPaths } from './core/paths.js';
import type { ExperimentDef, PlanOptions, Profile, ResultLine, RunSpec } from './core/types.js';
import { EXPERIMENTS, getExperiment } from './experiments/registry.js';
import { writeReport } from './report/doc.js';
import { writeIndex } from './results-index.js';
import type { BackendName } from './runner/backend.js';
import { mixedGroups } from './runner/batched.js';
import { acquireLock } from './runner/lock.js';
import { planRuns } from './runner/plan.js';
import { defaultWorkers, executeRuns, type PoolSummary } from './runner/pool.js';
import { assertOutputsWritable } from './runner/preflight.js';
import { ProgressView } from './runner/progress.js';
import { dropTornLines, mergeResults, readResultFile } from './runner/results.js';

export interface RunOptions {
  profile: Profile;
  backend: BackendName;
  out: string;
  dataDir: string;
  seeds?: number;
  workers?: number;
  /**
   * `--ensemble`: the most runs one batched trainer holds (0: off, every run trains alone);
   * default {@link defaultEnsemble}
   */
  ensemble?: number;
  shard?: Shard;
  flags: PlanOptions['flags'];
  checkpointEverySeconds: number;
  /** print the header and per-run lines (false in the tour's sub-steps) */
  log?: (text: string) => void;
}

export interface RunOutcome {
  summary: PoolSummary;
  resultsFile: string;
  lines: ResultLine[];
  report?: { markdown: string; html: string };
}

/**
 * Batched trainers by default on webgpu only, where one pass steps every slot on the device. On
 * cpu and wasm they are asked for: on the 2-core machine (README) they were faster on wasm (its
 * kernel uses two threads) and slower on cpu (one thread against one run per core).
 */
export function defaultEnsemble(backend: BackendName): number {
  return backend === 'webgpu' ? 256 : 0;
}

/** The command that reproduces a results file (without --out/--workers/--backend/--ensemble, which do not change results). */
export function canonicalCommand(
  name: string,
  options: Pick<RunOptions, 'profile' | 'seeds' | 'flags'>,
): string {
  const parts = ['pnpm repro', name, '--profile', options.profile];
  if (options.seeds !== undefined) parts.push('--seeds', String(options.seeds));
  for (const [k, v] of Object.entries(options.flags)) {
    if (v === undefined) continue;
    parts.push(v === true ? `--${k}` : `--${k} ${v}`);
  }
  return parts.join(' ');
}

export async function runExperiment(name: string, options: RunOptions): Promise<RunOutcome> {
  const log = options.log ?? console.log;
  const every = options.checkpointEverySeconds;
  if (typeof every !== 'number' || !Number.isFinite(every) || every < 0) {
    throw new Error(
      `checkpoint interval must be a number of seconds >= 0, got ${String(every)}: checkpointing may never be turned off silently`,
    );
  }
  const def = await getExperiment(name);
  const planOptions: PlanOptions = { profile: options.profile, seeds: options.seeds, flags: options.flags };
  const { runs: allRuns } = planRuns(def, planOptions);
  const runs = selectShard(allRuns, options.shard);
  const paths = experimentPaths(options.out, name, options.profile, options.shard);
  // every output must take a write now, not after the runs have trained
  assertOutputsWritable({
    dir: paths.dir,
    results: paths.results,
    checkpoints: paths.checkpoints,
    report: options.shard ? undefined : paths.report,
    index: options.shard ? undefined : resolve(paths.dir, '..', '..'),
  });
  const release = acquireLock(paths.lock);
  try {
    let existing = readResultFile(paths.results);
    const protocol = runs[0]?.protocol;
    const foreign = existing.lines.find((l) => l.protocol !== protocol);
    if (foreign) {
      throw new Error(
        `${paths.results} holds results of another protocol (run ${foreign.runId}: protocol ${foreign.protocol}, now ${protocol}); ` +
          'use another --out, or the same --seeds and flags as before',
      );
    }
    if (existing.skipped.length > 0) {
      // torn lines (a crash mid-write): rewrite the file without them, so that merge accepts it
      const { dropped, savedTo } = dropTornLines(paths.results);
      log(
        `warning: ${paths.results}: line(s) ${dropped.join(', ')} held no complete result (a write cut short by a crash); ` +
          `rewrote the file without them (they are kept in ${basename(savedTo ?? '')}); their runs run again`,
      );
      existing = readResultFile(paths.results);
    }
    for (const d of existing.duplicateLines) {
      log(
        `warning: ${paths.results}: run ${d.runId} is recorded again at line ${d.line} ` +
          `(${d.identical ? 'the same run apart from timing' : 'with a DIFFERENT result'}); line ${d.first} is used`,
      );
    }
    const done = new Set(existing.lines.map((l) => l.runId));
    const todo = runs.filter((r) => !done.has(r.id));
    // a crash between "line written" and "checkpoint removed" leaves a stale checkpoint: drop it
    for (const r of runs) {
      if (done.has(r.id)) rmSync(join(paths.checkpoints, `${fileNameFor(r.id)}.json`), { force: true });
    }
    const workers = options.workers ?? defaultWorkers(todo.length);
    const ensemble = options.ensemble ?? defaultEnsemble(options.backend);
    // damaged checkpoints are set aside now (their runs start again), so none fails a run later
    let resumable = 0;
    for (const r of todo) {
      const file = join(paths.checkpoints, `${fileNameFor(r.id)}.json`);
      const read = readCheckpoint(file);
      if (read.status === 'bad') {
        log(`warning: ${damagedCheckpoint(file, read.problem, setAsideCheckpoint(file), r.id)}`);
      } else if (
        read.status === 'ok' &&
        read.checkpoint.runId === r.id &&
        read.checkpoint.configHash === hashOf(r.config)
      ) {
        resumable += 1;
      }
    }
    const command = canonicalCommand(name, options);
    log(`${def.name}: ${def.title} (paper ${def.paperRef})`);
    log(`profile ${options.profile}: ${def.budgets[options.profile]}`);
    if (options.profile === 'quick') {
      log(
        "note: the quick profile is a shortened protocol (shorter sequences / fewer updates / fewer seeds), not the paper's; use --profile paper for the full protocol",
      );
    }
    const shardText = options.shard ? `, shard ${options.shard.index}/${options.shard.count}` : '';
    log(
      `${runs.length} runs${shardText}: ${runs.length - todo.length} already done, ${todo.length} to run` +
        `${resumable ? ` (${resumable} resume from a checkpoint)` : ''}; backend ${options.backend}, ${layoutText(def, todo, workers, ensemble, options.backend)}`,
    );
    log(`command: ${command}`);
    log(`results: ${paths.results}`);
    writeFileAtomic(join(paths.dir, 'COMMAND'), `${command}\n`);
    const view = new ProgressView(runs.length, runs.length - todo.length);
    let summary: PoolSummary;
    try {
      summary = await executeRuns(todo, {
        backend: options.backend,
        workers: todo.length === 0 ? 0 : workers,
        ensemble,
        dataDir: options.dataDir,
        resultsFile: paths.results,
        checkpointDir: paths.checkpoints,
        checkpointEverySeconds: options.checkpointEverySeconds,
        view,
        summarize: (r) => def.summarizeResult(r),
      });
    } finally {
      view.stop();
    }
    const lines = readResultFile(paths.results).lines;
    let report: RunOutcome['report'];
    if (!options.shard) {
      report = renderReport(
        def,
        options.profile,
        lines,
        allRuns.map((r) => r.id),
        command,
        paths.report,
      );
    } else {
      log(`shard done; merge the shards with \`pnpm repro merge\`, then \`pnpm repro report ${name}\``);
    }
    return { summary, resultsFile: paths.results, lines, report };
  } finally {
    release();
  }
}

/** How the runs to do will train: on `workers` worker threads, and/or batched (`--ensemble`). */
function layoutText(
  def: ExperimentDef,
  todo: RunSpec[],
  workers: number,
  ensemble: number,
  backend: BackendName,
): string {
  const mixed = mixedGroups(backend);
  const keys = ensemble && def.executeBatched ? todo.map((r) => def.batchKey?.(r, mixed)) : [];
  const batched = keys.filter((k) => k !== undefined).length;
  if (batched === 0) return `${workers} worker(s)`;
  const rest = todo.length - batched;
  const trainers = new Set(keys.filter((k) => k !== undefined)).size;
  return (
    `${batched} run(s) batched in ${trainers} trainer(s) of up to ${ensemble} runs (in one thread` +
    `${mixed ? '; units and lengths mixed in a trainer' : ''})` +
    `${rest > 0 ? `, the other ${rest} on ${workers} worker(s)` : ''}`
  );
}

export function renderReport(
  def: ExperimentDef,
  profile: Profile,
  lines: ResultLine[],
  planned: string[],
  command: string,
  dir: string,
): { markdown: string; html: string } {
  const have = new Set(lines.map((l) => l.runId));
  const missing = planned.filter((id) => !have.has(id));
  const doc = def.report({ profile, lines, missing, command });
  const backends = [...new Set(lines.map((l) => l.timing.backend))].join(', ') || '-';
  const seconds = lines.reduce((s, l) => s + l.timing.seconds, 0);
  doc.blocks.unshift({
    kind: 'text',
    markdown:
      `Profile **${profile}**${profile === 'quick' ? " (a shortened protocol, not the paper's)" : ''}` +
      `${/ --(?!profile )[a-z]/.test(command) ? ', changed by the flags of the command below' : ''}; ` +
      `${lines.length} of ${planned.length} planned runs finished${missing.length ? ` (${missing.length} missing)` : ''}; ` +
      `backend ${backends}; ${seconds.toFixed(0)} s of run time in all.\n\nMade by: \`${command}\``,
  });
  const written = writeReport(doc, dir);
  writeIndex(join(dir, '..', '..', '..')); // <out>/index.{md,html}
  return written;
}

/** `repro report <experiment>`: re-render the report from the results file. */
export async function reportCommand(
  name: string,
  options: { profile: Profile; out: string; seeds?: number; flags: PlanOptions['flags'] },
): Promise<{ markdown: string; html: string }> {
  const def = await getExperiment(name);
  const { runs } = planRuns(def, { profile: options.profile, seeds: options.seeds, flags: options.flags });
  const paths = experimentPaths(options.out, name, options.profile);
  const { lines } = readResultFile(paths.results);
  if (lines.length === 0) throw new Error(`no results in ${paths.results}: run \`pnpm repro ${name}\` first`);
  return renderReport(
    def,
    options.profile,
    lines,
    runs.map((r) => r.id),
    canonicalCommand(name, options),
    paths.report,
  );
}

/**
 * What to do about a torn line in `file`: run the command that made it again (its COMMAND file,
 * its shard, its --out), which sets the torn line aside and runs that run again.
 */
function tornLineAdvice(file: string, lines: number[], rows: string[]): string {
  const n = lines[0];
  const row = rows[n - 1] ?? '';
  const preview = row.length > 60 ? `${row.slice(0, 60)}…` : row;
  const dir = dirname(file);
  const shard = /^results\.shard-(\d+)-of-(\d+)\.jsonl$/.exec(basename(file));
  const out = resolve(dir, '..', '..');
  const commandFile = join(dir, 'COMMAND');
  const made = existsSync(commandFile) ? readFileSync(commandFile, 'utf8').trim() : undefined;
  const again = made
    ? `\`${made}${shard ? ` --shard ${shard[1]}/${shard[2]}` : ''} --out ${out}\``
    : `the command that made it${shard ? ` with --shard ${shard[1]}/${shard[2]}` : ''} and --out ${out}`;
  const others = lines.length > 1 ? ` (and line(s) ${lines.slice(1).join(', ')})` : '';
  return (
    `repro merge: ${file} line ${n}${others} is not a complete result (it reads: ${preview}): a write cut short by a crash. ` +
    `Run ${shard ? 'that shard' : 'it'} again: ${again}; the resume moves the torn line to ${basename(file)}.torn-<time>, ` +
    `runs the run it held again and leaves the file whole. Then merge again. ` +
    `(Or delete line ${n} by hand: the run it held is then missing from the merge.)`
  );
}

/**
 * `repro merge -o OUT FILES...`: combine shard result files. Refuses torn lines (saying which file,
 * which line and what to do), mismatched protocols, and a run recorded twice with different
 * results; a run recorded twice identically (apart from timing) is kept once, with a warning.
 */
export function mergeCommand(
  files: string[],
  output: string,
  warn: (message: string) => void = (m) => console.warn(`repro merge: warning: ${m}`),
): { lines: number } {
  if (files.length === 0) throw new Error('repro merge: give the result files to merge');
  if (existsSync(output) && !files.includes(output)) {
    throw new Error(`repro merge: ${output} exists and is not one of the inputs; choose a new -o file`);
  }
  const position = new Map<string, number>();
  files.forEach((f, i) => {
    const first = position.get(resolve(f));
    if (first !== undefined) {
      throw new Error(
        `repro merge: ${f} appears in both argument ${first + 1} and argument ${i + 1} (the same file given twice)`,
      );
    }
    position.set(resolve(f), i);
  });
  const inputs = files.map((f) => {
    if (!existsSync(f)) throw new Error(`repro merge: ${f} does not exist`);
    const read = readResultFile(f);
    if (read.skipped.length > 0) throw new Error(tornLineAdvice(f, read.skipped, read.rows));
    // every record, repeats included, in file order: mergeResults decides about repeats
    const entries = [
      ...read.lines.map((record, i) => ({ record, line: read.lineNumbers[i] })),
      ...read.duplicateLines.map((d) => ({ record: d.record, line: d.line })),
    ].sort((a, b) => a.line - b.line);
    return { name: f, lines: entries.map((e) => e.record), lineNumbers: entries.map((e) => e.line) };
  });
  const merged = mergeResults(inputs, warn);
  writeFileAtomic(output, merged.map((l) => `${JSON.stringify(l)}\n`).join(''));
  return { lines: merged.length };
}

/** Shard result files in an experiment's folder, for `repro merge --experiment`. */
export function shardFiles(out: string, name: string, profile: Profile): string[] {
  const dir = experimentPaths(out, name, profile).dir;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^results\.shard-\d+-of-\d+\.jsonl$/.test(f))
    .map((f) => join(dir, f));
}

export function describeExperiments(): string {
  const lines = ['Experiments (budgets on a 2-core machine unless noted):'];
  for (const e of EXPERIMENTS) {
    lines.push(`  ${e.name.padEnd(15)} ${e.summary}`);
    lines.push(`  ${''.padEnd(15)}   quick: ${e.budgets.quick}`);
    lines.push(`  ${''.padEnd(15)}   paper: ${e.budgets.paper}`);
  }
  lines.push(`  ${'all'.padEnd(15)} every experiment above, in order`);
  lines.push(
    `  ${'tour'.padEnd(15)} the quick tour (pnpm start): cliff, a short SGD / SGD-C / SGD-CR comparison, backend timing`,
  );
  return lines.join('\n');
}

/** A path as the user should read it: relative to where they ran pnpm when that is shorter. */
export function relativePath(p: string): string {
  const rel = relative(process.env.INIT_CWD ?? process.cwd(), p) || '.';
  return rel.startsWith('../..') ? p : rel;
}
