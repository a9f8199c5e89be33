/**
 * Ratios between rows measured side by side in one run (browser-safe). All are ratios of
 * median step times of the same config on the same backend (PyTorch: on the same CPU).
 */
import type { ResultRow } from '../core.js';
import { median } from '../stats.js';

/** The fields a ratio needs; the rows of a results file (and of PyTorch) have them. */
export type RowLike = Pick<ResultRow, 'config' | 'backend' | 'impl' | 'method' | 'ms_median'> & {
  threads?: number;
  ms_steps?: number[];
};

/**
 * a's time over b's. Rows timed round-robin in one process have one step per round each: then
 * the median over rounds of the per-round ratio, which cancels drift that hits both alike (a
 * shared machine's load changes from second to second); otherwise the ratio of the medians.
 */
export function timeRatio(a: RowLike, b: RowLike): number {
  const sa = a.ms_steps;
  const sb = b.ms_steps;
  if (sa && sb && sa.length === sb.length && sa.length > 0 && a.backend === b.backend) {
    return median(sa.map((t, i) => t / sb[i]));
  }
  return a.ms_median / b.ms_median;
}

export interface Overhead {
  config: string;
  backend: string;
  impl: string;
  /** 'clip' = SGD-C over SGD; 'omega' = SGD-CR over SGD-C */
  what: 'clip' | 'omega';
  /** time ratio; 1.05 means 5% slower with the feature */
  ratio: number;
}

/** The ensemble rows: 'fused-ensemble' and its multi-dispatch twin 'fused-ensemble-multi' (webgpu). */
export const isEnsembleImpl = (impl: string) => impl === 'fused-ensemble' || impl === 'fused-ensemble-multi';

/** How many times faster than stock tfjs-layers on the same config and backend (>1: faster). */
export function speedupVsLayers(row: RowLike, rows: RowLike[]): number | undefined {
  // ensembles are compared per update with ensembleGain, not per step
  if (row.impl === 'tfjs-layers' || row.impl === 'pytorch' || isEnsembleImpl(row.impl)) return undefined;
  const layers = rows.find(
    (r) => r.config === row.config && r.backend === row.backend && r.impl === 'tfjs-layers',
  );
  return layers ? timeRatio(layers, row) : undefined;
}

/**
 * Step time as a multiple of PyTorch's SGD-C step on the same config, at `threads` threads
 * (<1: faster than PyTorch). issue 7's targets are stated this way.
 */
export function timeVsPytorch(row: RowLike, rows: RowLike[], threads = 1): number | undefined {
  if (row.impl === 'pytorch' || isEnsembleImpl(row.impl)) return undefined;
  const peer = rows.find(
    (r) => r.config === row.config && r.impl === 'pytorch' && (r.threads ?? 1) === threads,
  );
  return peer ? row.ms_median / peer.ms_median : undefined;
}

/**
 * An ensemble's throughput (updates/s over its R runs) over the same method's single fused run,
 * i.e. over R separate runs one after the other (paired by rounds).
 */
export function ensembleGain(row: RowLike & { runs?: number }, rows: RowLike[]): number | undefined {
  if (!isEnsembleImpl(row.impl)) return undefined;
  const single = rows.find(
    (r) =>
      r.config === row.config && r.backend === row.backend && r.impl === 'fused' && r.method === row.method,
  );
  return single ? (row.runs ?? 1) * timeRatio(single, row) : undefined;
}

/** Clip overhead (SGD-C / SGD) and Ω overhead (SGD-CR / SGD-C) per implementation. */
export function overheads(rows: RowLike[]): Overhead[] {
  const out: Overhead[] = [];
  const find = (r: RowLike, method: string) =>
    rows.find(
      (o) => o.config === r.config && o.backend === r.backend && o.impl === r.impl && o.method === method,
    );
  for (const r of rows) {
    if (r.method === 'SGD-C') {
      const plain = find(r, 'SGD');
      if (plain)
        out.push({
          config: r.config,
          backend: r.backend,
          impl: r.impl,
          what: 'clip',
          ratio: timeRatio(r, plain),
        });
    }
    if (r.method === 'SGD-CR') {
      const clipped = find(r, 'SGD-C');
      if (clipped) {
        out.push({
          config: r.config,
          backend: r.backend,
          impl: r.impl,
          what: 'omega',
          ratio: timeRatio(r, clipped),
        });
      }
    }
  }
  return out;
}
