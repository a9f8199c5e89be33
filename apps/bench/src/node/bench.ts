/**
 * The Node benchmark run: check the request, run each backend in its own process, run the
 * peer, then write the JSON results and the Markdown summary and print the table.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { type BenchConfig, configRegistry, parseConfigFile, selectConfigs } from '../configs.js';
import type { FailedRow, ProgressEvent, SkippedRow } from '../core.js';
import { compareRuns, rowsOfResultsFile } from '../report/compare.js';
import { markdownSummary } from '../report/markdown.js';
import {
  assembleResults,
  type BackendReport,
  type BenchResults,
  failures,
  type Row,
} from '../report/results.js';
import { checkImpls, checkMethods } from '../stacks/index.js';
import { ENSEMBLE_PATHS, type EnsemblePath } from '../stacks/stack.js';
import { checkBackends } from './backends.js';
import { machineInfo } from './machine.js';
import type { WorkerJob } from './protocol.js';
import { runPytorchPeer } from './pytorch-peer.js';
import { childNodeFlags, runBackend } from './runner.js';
import { terminalTable } from './table.js';

export interface BenchOptions {
  configs: string[];
  configFile: string[];
  backends: string[];
  impls: string[];
  methods: string[];
  steps?: number;
  warmup: number;
  budget: number;
  seed: number;
  /** default: the app's out/ folder (ignored by git) */
  out?: string;
  markdown?: string;
  compare?: string;
  peer?: string;
  peerThreads: string[];
  /** ensemble sizes, e.g. ['1', '4', '16'] */
  ensembles: string[];
  /** how webgpu ensembles step: 'persistent' and/or 'multi-dispatch' (default ['persistent']) */
  ensemblePaths?: string[];
  progress: boolean;
  /** pass --experimental-wasm-relaxed-simd to the children when Node accepts it */
  relaxedSimd: boolean;
}

export const PEERS = ['pytorch'];

/** Paths on the command line are the user's: pnpm runs the script in apps/bench, INIT_CWD is where they typed. */
const userPath = (p: string) => resolve(process.env.INIT_CWD ?? process.cwd(), p);

/** Everything that can be wrong with the request, found before anything runs. */
export function checkRequest(o: BenchOptions): {
  configs: BenchConfig[];
  job: Omit<WorkerJob, 'backend'>;
  backends: string[];
  peerThreads: number[];
  previous?: { file: string; rows: ReturnType<typeof rowsOfResultsFile> };
} {
  const extra = o.configFile.flatMap((f) => {
    let text: string;
    try {
      text = readFileSync(userPath(f), 'utf8');
    } catch (err) {
      throw new Error(`cannot read config file ${f}: ${(err as Error).message}`);
    }
    return parseConfigFile(text, f);
  });
  const configs = selectConfigs(o.configs, configRegistry(extra));
  const backends = checkBackends(o.backends);
  const impls = checkImpls(o.impls);
  const methods = checkMethods(o.methods);
  if (!(o.budget > 0)) throw new Error(`--budget must be a positive number of seconds, got ${o.budget}`);
  if (o.peer !== undefined && !PEERS.includes(o.peer)) {
    throw new Error(`unknown peer "${o.peer}"; valid peers: ${PEERS.join(', ')}`);
  }
  const peerThreads = o.peerThreads.map((t) => {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--peer-threads must list positive integers, got "${t}"`);
    return n;
  });
  const ensembles = o.ensembles.map((t) => {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--ensembles must list positive integers, got "${t}"`);
    return n;
  });
  const ensemblePaths = (o.ensemblePaths ?? ['persistent']).map((p) => {
    if (!(ENSEMBLE_PATHS as readonly string[]).includes(p))
      throw new Error(`--ensemble-paths must list ${ENSEMBLE_PATHS.join(' or ')}, got "${p}"`);
    return p as EnsemblePath;
  });
  let previous: { file: string; rows: ReturnType<typeof rowsOfResultsFile> } | undefined;
  if (o.compare !== undefined) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(userPath(o.compare), 'utf8'));
    } catch (err) {
      throw new Error(`cannot read --compare file ${o.compare}: ${(err as Error).message}`);
    }
    previous = { file: o.compare, rows: rowsOfResultsFile(data, o.compare) };
  }
  const job = {
    configs,
    impls,
    methods,
    ensembles,
    ensemblePaths,
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    warmup: o.warmup,
    minSteps: 5,
    maxSteps: 50,
    budgetMs: o.budget * 1000,
    seed: o.seed,
  };
  return { configs, job, backends, peerThreads, ...(previous ? { previous } : {}) };
}

function progressBar(enabled: boolean) {
  if (!enabled || !process.stderr.isTTY) return { update: (_e: ProgressEvent) => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: '{backend} {config} |{bar}| {value}/{total} steps | {duration}s',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(e: ProgressEvent) {
      if (!started) bar.start(e.total, 0, { backend: e.backend, config: e.config });
      started = true;
      bar.setTotal(e.total);
      bar.update(e.done, { backend: e.backend, config: e.config });
    },
    stop: () => bar.stop(),
  };
}

/** Runs the whole benchmark; resolves to the process exit code (1 when a row failed). */
export async function runBench(o: BenchOptions): Promise<number> {
  const request = checkRequest(o);
  const machine = machineInfo();
  const nodeFlags = childNodeFlags(o.relaxedSimd);
  const rows: Row[] = [];
  const backends: BackendReport[] = [];
  const skipped: SkippedRow[] = [];
  const failed: FailedRow[] = [];
  for (const backend of request.backends) {
    const bar = progressBar(o.progress);
    try {
      const run = await runBackend({ ...request.job, backend }, (e) => bar.update(e), nodeFlags);
      backends.push({ backend, unavailable: run.start.unavailable, flags: run.start.flags });
      rows.push(...run.result.rows);
      skipped.push(...run.result.skipped);
      failed.push(...run.result.failed);
    } finally {
      bar.stop();
    }
    const b = backends[backends.length - 1];
    if (b.unavailable !== null)
      console.error(`${backend}: unavailable (${b.unavailable}); going on with the others`);
  }
  let peer: BenchResults['peer'];
  if (o.peer === 'pytorch') {
    console.error('pytorch peer: running...');
    const p = await runPytorchPeer(request.configs, {
      steps: o.steps ?? 30,
      warmup: o.warmup,
      threads: request.peerThreads,
      seed: o.seed,
    });
    peer = { name: 'pytorch', unavailable: p.unavailable, info: p.info };
    if (p.unavailable !== null)
      console.error(`pytorch peer unavailable: ${p.unavailable}; going on without it`);
    rows.push(...p.rows);
  }
  const results = assembleResults({
    date: new Date().toISOString(),
    machine: { ...machine, loadavg_end: os.loadavg()[0], child_node_flags: nodeFlags.join(' ') },
    options: { ...request.job, configs: o.configs, backends: request.backends },
    configs: request.configs,
    backends,
    ...(peer ? { peer } : {}),
    rows,
    skipped,
    failed,
  });
  if (request.previous) {
    results.comparison = {
      file: request.previous.file,
      rows: compareRuns(results.rows, request.previous.rows),
    };
  }
  const out = o.out ? userPath(o.out) : fileURLToPath(new URL('../../out/results.json', import.meta.url));
  const md = o.markdown ? userPath(o.markdown) : out.replace(/\.json$/i, '') + '.md';
  mkdirSync(dirname(out), { recursive: true });
  mkdirSync(dirname(md), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(md, markdownSummary(results));
  console.log(terminalTable(results));
  if (results.comparison) printComparison(results);
  for (const s of skipped)
    console.log(`not run: ${s.config} ${s.backend} ${s.impl} ${s.method}: ${s.reason}`);
  console.log(`results: ${out}\nsummary: ${md}`);
  const problems = failures(results);
  for (const p of problems) console.error(`FAIL ${p}`);
  return problems.length > 0 ? 1 : 0;
}

function printComparison(results: BenchResults): void {
  const c = results.comparison!;
  console.log(`\nagainst ${c.file} (current / previous median step time; < 1 is faster now):`);
  for (const r of c.rows) {
    console.log(
      `  ${r.config} ${r.backend} ${r.impl} ${r.method}: ${r.previous_ms.toFixed(2)} -> ${r.current_ms.toFixed(2)} ms = ${r.ratio.toFixed(2)}x ${r.verdict}`,
    );
  }
  if (c.rows.length === 0) console.log('  no row in common');
}
