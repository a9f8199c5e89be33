/** The terminal table (cli-table3). */
import Table from 'cli-table3';
import { fmtRatio } from '../report/format.js';
import { rowCells, TABLE_HEADER } from '../report/markdown.js';
import type { BenchResults } from '../report/results.js';

export function terminalTable(results: BenchResults): string {
  const table = new Table({ head: TABLE_HEADER, style: { head: [], border: [] } });
  for (const r of results.rows) table.push(rowCells(r));
  const lines = [table.toString()];
  for (const o of results.overheads) {
    const what = o.what === 'clip' ? 'clip overhead (SGD-C / SGD)' : 'Ω overhead (SGD-CR / SGD-C)';
    lines.push(`${o.config} ${o.backend} ${o.impl}: ${what} ${fmtRatio(o.ratio)}`);
  }
  for (const r of results.rows.filter((x) => x.throughput_vs_separate !== undefined)) {
    lines.push(
      `${r.config} ${r.backend} ${r.impl} R=${r.runs}: ${r.updates_per_s.toFixed(1)} updates/s, ${fmtRatio(r.throughput_vs_separate)} R separate fused runs`,
    );
  }
  for (const a of results.loss_agreement) {
    const flag = a.max_rel_diff > 1e-3 ? '  <-- DISAGREE' : '';
    lines.push(
      `${a.config}: first-step loss ${a.loss.toPrecision(6)} agrees to ${a.max_rel_diff.toExponential(1)} over ${a.rows} rows${flag}`,
    );
  }
  return lines.join('\n');
}
