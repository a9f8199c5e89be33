/** The results file: every row, the ratios between them, and how far their losses agree. Browser-safe. */
import type { BenchConfig } from '../configs.js';
import type { FailedRow, ResultRow, SkippedRow } from '../core.js';
import type { Comparison } from './compare.js';
import { ensembleGain, type Overhead, overheads, speedupVsLayers, timeVsPytorch } from './ratios.js';

export const RESULTS_SCHEMA = 'cliffguard-bench/1';

export interface BackendReport {
  backend: string;
  /** null when it ran, else why not */
  unavailable: string | null;
  flags: Record<string, string | number | boolean>;
}

export type Row = ResultRow & {
  threads?: number;
  variant?: string;
  /** PyTorch rows: how its threads were split (`torch n × OpenBLAS m`), the fastest tried */
  setting?: string;
  /** stock tfjs-layers' median over this row's (>1: this row is faster) */
  speedup_vs_layers?: number;
  /** this row's median over PyTorch's (1 thread) on the same config (<1: faster than PyTorch) */
  time_vs_pytorch?: number;
  /** ensembles: updates/s over R separate single fused runs of the same method */
  throughput_vs_separate?: number;
  /** the same against PyTorch at each thread count run (`--peer-threads`), by thread count */
  time_vs_pytorch_by_threads?: Record<string, number>;
};

/**
 * Every stack starts from the same weights and batch, so the loss of its first step (computed
 * before any update) must agree across stacks and backends.
 */
export interface LossAgreement {
  config: string;
  /** the first-step loss of the first row, as cliffguard defines it */
  loss: number;
  /** largest |loss_i - loss| / |loss| over the rows */
  max_rel_diff: number;
  rows: number;
}

export interface BenchResults {
  schema: typeof RESULTS_SCHEMA;
  date: string;
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  configs: BenchConfig[];
  backends: BackendReport[];
  peer?: { name: string; unavailable: string | null; info: Record<string, string> };
  rows: Row[];
  skipped: SkippedRow[];
  /** stacks that threw; the run went on without them */
  failed: FailedRow[];
  overheads: Overhead[];
  loss_agreement: LossAgreement[];
  comparison?: { file: string; rows: Comparison[] };
}

/**
 * The first-step loss in cliffguard's definition: tfjs-layers' binary cross-entropy is a mean
 * over the O output units where the 'sigmoid' head sums them.
 */
export function firstLoss(row: Row, config: BenchConfig): number {
  const scale = row.impl === 'tfjs-layers' && config.head === 'sigmoid' ? config.outputSize : 1;
  return row.losses[0] * scale;
}

export function lossAgreement(rows: Row[], configs: BenchConfig[]): LossAgreement[] {
  const out: LossAgreement[] = [];
  for (const config of configs) {
    const mine = rows.filter((r) => r.config === config.name && r.losses.length > 0);
    if (mine.length === 0) continue;
    const losses = mine.map((r) => firstLoss(r, config));
    const ref = losses[0];
    const maxRel = Math.max(...losses.map((l) => Math.abs(l - ref) / Math.max(Math.abs(ref), 1e-12)));
    out.push({ config: config.name, loss: ref, max_rel_diff: maxRel, rows: mine.length });
  }
  return out;
}

/** Adds the ratios to the rows and computes overheads and loss agreement. */
export function assembleResults(
  parts: Omit<BenchResults, 'schema' | 'overheads' | 'loss_agreement' | 'rows'> & { rows: Row[] },
): BenchResults {
  const rows = parts.rows.map((r) => {
    const speedup = speedupVsLayers(r, parts.rows);
    const vsTorch = timeVsPytorch(r, parts.rows);
    const gain = ensembleGain(r, parts.rows);
    const byThreads: Record<string, number> = {};
    for (const n of new Set(parts.rows.filter((p) => p.impl === 'pytorch').map((p) => p.threads ?? 1))) {
      const v = timeVsPytorch(r, parts.rows, n);
      if (v !== undefined) byThreads[String(n)] = v;
    }
    return {
      ...r,
      ...(speedup !== undefined ? { speedup_vs_layers: speedup } : {}),
      ...(vsTorch !== undefined ? { time_vs_pytorch: vsTorch } : {}),
      ...(gain !== undefined ? { throughput_vs_separate: gain } : {}),
      ...(Object.keys(byThreads).length > 0 ? { time_vs_pytorch_by_threads: byThreads } : {}),
    };
  });
  return {
    schema: RESULTS_SCHEMA,
    ...parts,
    rows,
    overheads: overheads(rows),
    loss_agreement: lossAgreement(rows, parts.configs),
  };
}

/** What failed: rows with a leak or a non-finite loss, and stacks that threw. */
export function failures(results: BenchResults): string[] {
  return [
    ...results.rows
      .filter((r) => !r.ok)
      .map((r) => `${r.config} ${r.backend} ${r.impl} ${r.method}: ${(r.problems ?? []).join('; ')}`),
    ...results.failed.map((f) => `${f.config} ${f.backend} ${f.impl} ${f.method} threw: ${f.error}`),
  ];
}
