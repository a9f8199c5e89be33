/**
 * Figures of training runs from their traces: loss and gradient norm with clipping events marked,
 * ρ(W_rec) over training, and temporal-contribution heat maps (log10 ‖∂E/∂h_t‖ over training).
 */

import type { Block } from '../core/report-types.js';
import type { ResultLine } from '../core/types.js';
import type { TracePoint } from '../training/trace.js';
import { heatmap, lineChart, PALETTE, type Series } from './charts.js';

export interface TracedRun {
  label: string;
  trace: TracePoint[];
}

export function tracedRun(line: ResultLine, label: string): TracedRun {
  return { label, trace: (line.result.trace as TracePoint[]) ?? [] };
}

const clipMarks = (trace: TracePoint[], y: (p: TracePoint) => number): [number, number][] =>
  trace.filter((p) => p.clipped > 0).map((p) => [p.step, y(p)]);

/** Loss, gradient norm (max per window, clipped windows marked), ρ(W_rec) and heat maps. */
export function trainingFigures(id: string, title: string, runs: TracedRun[]): Block[] {
  if (runs.length === 0) return [];
  const series = (f: (p: TracePoint) => number, marks: boolean): Series[] =>
    runs.map((r, i) => ({
      name: r.label,
      color: PALETTE[i % PALETTE.length],
      points: r.trace.map((p) => [p.step, f(p)] as [number, number]),
      marks: marks ? clipMarks(r.trace, f) : undefined,
    }));
  const blocks: Block[] = [
    {
      kind: 'figure',
      figure: {
        id: `${id}-loss`,
        title: `${title}: training loss`,
        caption:
          'Mean training loss per window of updates; a red cross marks a window in which some update was clipped.',
        svg: lineChart({
          title: `${title}: training loss`,
          x: { label: 'update' },
          y: { label: 'loss (window mean)' },
          series: series((p) => p.lossMean, true),
        }),
      },
    },
    {
      kind: 'figure',
      figure: {
        id: `${id}-norm`,
        title: `${title}: gradient norm`,
        caption:
          'Largest global gradient norm (before clipping, Ω term included) per window, log scale; red crosses: windows with clipped updates.',
        svg: lineChart({
          title: `${title}: gradient norm before clipping`,
          x: { label: 'update' },
          y: { label: '‖g‖ (window max)', log: true },
          series: series((p) => p.normMax, true),
        }),
      },
    },
    {
      kind: 'figure',
      figure: {
        id: `${id}-rho`,
        title: `${title}: spectral radius`,
        caption:
          'ρ(W_rec) at the end of each window (paper section 2: ρ < 1 is sufficient for vanishing in the linear case; γ = 1/4 for sigmoid moves the bound to 4).',
        svg: lineChart({
          title: `${title}: ρ(W_rec) over training`,
          x: { label: 'update' },
          y: { label: 'ρ(W_rec)' },
          series: series((p) => p.rho, false),
        }),
      },
    },
  ];
  for (const [i, r] of runs.entries()) {
    if (r.trace.length === 0) continue;
    const bins = r.trace[0].contributions.length;
    if (bins === 0) continue; // runs without the temporal-contribution probe (natural tasks)
    // rows: time bins (t = 1 at the bottom); columns: trace windows
    const values = Array.from({ length: bins }, (_, t) =>
      r.trace.map((p) => p.contributions[t] ?? Number.NaN),
    );
    const last = r.trace[r.trace.length - 1].step;
    // each run its own colour range: runs differ by many decades (exploding vs vanishing)
    const finiteValues = values.flat().filter(Number.isFinite);
    const lo = Math.min(...finiteValues);
    const hi = Math.max(...finiteValues);
    blocks.push({
      kind: 'figure',
      figure: {
        id: `${id}-contrib-${i}`,
        title: `${title}: temporal contributions, ${r.label}`,
        caption:
          'log10 ‖∂E/∂h_t‖ (mean over a fixed probe batch) for each time step t (vertical, t = 1 at the bottom) over training (horizontal). ' +
          'Dark at the bottom = the error signal vanishes before it reaches the early steps that hold the information.',
        svg: heatmap({
          title: `log10 ‖∂E/∂h_t‖ over training: ${r.label}`,
          height: 300,
          x: { label: `update (0 .. ${last})`, domain: [0, last] },
          y: { label: 'time step t (fraction of T)', domain: [0, 1] },
          values,
          color: { label: 'log10 ‖∂E/∂h_t‖', domain: [lo, hi] },
        }),
      },
    });
  }
  return blocks;
}
