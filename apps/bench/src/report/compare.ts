/** `--compare previous.json`: this run's rows against a previous results file. */
import type { RowLike } from './ratios.js';

export type CompareRow = RowLike & { ms_min: number; ms_max: number };

export interface Comparison {
  config: string;
  backend: string;
  impl: string;
  method: string;
  threads?: number;
  previous_ms: number;
  current_ms: number;
  /** current / previous median step time: < 1 is faster now */
  ratio: number;
  /**
   * 'faster' / 'slower' only when the min-max ranges do not overlap (noise on a shared machine
   * easily moves a median by 10-20%); '~' otherwise.
   */
  verdict: 'faster' | 'slower' | '~';
}

const key = (r: CompareRow) => `${r.config}|${r.backend}|${r.impl}|${r.method}|${r.threads ?? ''}`;

/** Checks that `data` looks like a results file and returns its rows. */
export function rowsOfResultsFile(data: unknown, source: string): CompareRow[] {
  const rows = (data as { rows?: unknown })?.rows;
  if (!Array.isArray(rows)) throw new Error(`${source} is not a bench results file: it has no "rows" array`);
  for (const [i, r] of rows.entries()) {
    for (const f of ['config', 'backend', 'impl', 'method']) {
      if (typeof r?.[f] !== 'string') throw new Error(`${source}: rows[${i}].${f} should be a string`);
    }
    for (const f of ['ms_median', 'ms_min', 'ms_max']) {
      if (typeof r?.[f] !== 'number') throw new Error(`${source}: rows[${i}].${f} should be a number`);
    }
  }
  return rows as CompareRow[];
}

export function compareRuns(current: CompareRow[], previous: CompareRow[]): Comparison[] {
  const prev = new Map(previous.map((r) => [key(r), r]));
  const out: Comparison[] = [];
  for (const r of current) {
    const p = prev.get(key(r));
    if (!p) continue;
    const verdict = r.ms_max < p.ms_min ? 'faster' : r.ms_min > p.ms_max ? 'slower' : '~';
    out.push({
      config: r.config,
      backend: r.backend,
      impl: r.impl,
      method: r.method,
      ...(r.threads !== undefined ? { threads: r.threads } : {}),
      previous_ms: p.ms_median,
      current_ms: r.ms_median,
      ratio: r.ms_median / p.ms_median,
      verdict,
    });
  }
  return out;
}
