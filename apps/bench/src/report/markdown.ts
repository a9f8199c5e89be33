/** The Markdown summary of a results file. Browser-safe. */
import { fmtBytes, fmtGflops, fmtMs, fmtNum, fmtRange, fmtRatio } from './format.js';
import { isEnsembleImpl } from './ratios.js';
import type { BenchResults, Row } from './results.js';

const line = (cells: string[]) => `| ${cells.join(' | ')} |`;

export const TABLE_HEADER = [
  'config',
  'backend',
  'impl',
  'method',
  'steps',
  'median ms',
  'min–max ms',
  'first ms',
  'updates/s',
  'GFLOP/s',
  'vs tfjs-layers',
  'x PyTorch time',
  'tensors (held / leaked)',
];

/** One row's cells, in TABLE_HEADER's order. */
export function rowCells(r: Row): string[] {
  const impl =
    r.impl === 'pytorch'
      ? `pytorch ${r.threads ?? 1}t${r.setting ? ` (${r.setting})` : ''}`
      : r.runs > 1 || isEnsembleImpl(r.impl)
        ? `${r.impl} R=${r.runs}`
        : r.impl;
  const tensors =
    r.impl === 'pytorch'
      ? ''
      : `${r.tensors_in_use} (${fmtBytes(r.bytes_in_use)}) / ${r.tensors_leaked + r.tensors_growth}`;
  return [
    r.config,
    r.backend,
    impl,
    r.method,
    String(r.steps),
    fmtMs(r.ms_median),
    fmtRange(r.ms_min, r.ms_max),
    fmtMs(r.ms_first),
    fmtNum(r.updates_per_s ?? r.steps_per_s, 1),
    fmtGflops(r.gflops),
    fmtRatio(r.speedup_vs_layers),
    Object.entries(r.time_vs_pytorch_by_threads ?? {})
      .map(([n, v]) => `${fmtRatio(v)} (${n}t)`)
      .join(' '),
    r.ok ? tensors : `FAIL: ${(r.problems ?? []).join('; ')}`,
  ];
}

export function markdownSummary(results: BenchResults): string {
  const m = results.machine as Record<string, unknown>;
  const out: string[] = [];
  out.push(`# cliffguard bench, ${results.date}`, '');
  out.push(
    `Machine: ${m.cpu_model ?? m.userAgent ?? 'unknown'}, ${m.cores ?? m.hardwareConcurrency ?? '?'} cores, Node ${m.node ?? '-'}; ` +
      `load average ${fmtNum(Number(m.loadavg_start ?? 0))} at start${m.loadavg_end !== undefined ? `, ${fmtNum(Number(m.loadavg_end))} at end` : ''}.`,
    '',
  );
  for (const b of results.backends) {
    const flags = Object.entries(b.flags)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    out.push(
      `- ${b.backend}: ${b.unavailable === null ? `ran (${flags || 'no flags'})` : `unavailable: ${b.unavailable}`}`,
    );
  }
  if (results.peer) {
    const p = results.peer;
    const info = Object.entries(p.info)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    out.push(`- ${p.name}: ${p.unavailable === null ? `ran (${info})` : `unavailable: ${p.unavailable}`}`);
  }
  out.push('', line(TABLE_HEADER), line(TABLE_HEADER.map(() => '---')));
  for (const r of results.rows) out.push(line(rowCells(r)));
  if (results.overheads.length > 0) {
    out.push('', '## Overheads (median time ratios, same implementation and backend)', '');
    out.push(
      line(['config', 'backend', 'impl', 'clip (SGD-C / SGD)', 'Ω (SGD-CR / SGD-C)']),
      line(['---', '---', '---', '---', '---']),
    );
    const keys = [...new Set(results.overheads.map((o) => `${o.config}|${o.backend}|${o.impl}`))];
    for (const k of keys) {
      const [config, backend, impl] = k.split('|');
      const of = (what: string) =>
        results.overheads.find((o) => `${o.config}|${o.backend}|${o.impl}` === k && o.what === what);
      out.push(line([config, backend, impl, fmtRatio(of('clip')?.ratio), fmtRatio(of('omega')?.ratio)]));
    }
  }
  const ensembles = results.rows.filter((r) => r.throughput_vs_separate !== undefined);
  if (ensembles.length > 0) {
    out.push('', '## Ensembles (updates per second summed over the R runs)', '');
    out.push(
      line(['config', 'backend', 'method', 'R', 'updates/s', 'vs R separate fused runs']),
      line(['---', '---', '---', '---', '---', '---']),
    );
    for (const r of ensembles) {
      out.push(
        line([
          r.config,
          r.backend,
          r.method,
          String(r.runs),
          fmtNum(r.updates_per_s, 1),
          fmtRatio(r.throughput_vs_separate),
        ]),
      );
    }
  }
  if (results.loss_agreement.length > 0) {
    out.push('', '## First-step loss agreement (same weights and batch in every stack and backend)', '');
    for (const a of results.loss_agreement) {
      out.push(
        `- ${a.config}: loss ${a.loss.toPrecision(6)}, largest relative difference ${a.max_rel_diff.toExponential(1)} over ${a.rows} rows`,
      );
    }
  }
  if (results.failed.length > 0) {
    out.push('', '## FAILED (threw; the run went on without them)', '');
    for (const f of results.failed) out.push(`- ${f.config} ${f.backend} ${f.impl} ${f.method}: ${f.error}`);
  }
  if (results.skipped.length > 0) {
    out.push('', '## Not run', '');
    for (const s of results.skipped)
      out.push(`- ${s.config} ${s.backend} ${s.impl} ${s.method}: ${s.reason}`);
  }
  if (results.comparison) {
    out.push('', `## Against ${results.comparison.file} (current / previous median; < 1 is faster now)`, '');
    out.push(line(['config', 'backend', 'impl', 'method', 'previous ms', 'current ms', 'ratio', 'verdict']));
    out.push(line(['---', '---', '---', '---', '---', '---', '---', '---']));
    for (const c of results.comparison.rows) {
      out.push(
        line([
          c.config,
          c.backend,
          c.impl,
          c.method,
          fmtMs(c.previous_ms),
          fmtMs(c.current_ms),
          fmtRatio(c.ratio),
          c.verdict,
        ]),
      );
    }
  }
  out.push('');
  return out.join('\n');
}
