/**
 * `cliff` (paper Fig. 6): the error surface of one recurrent neuron over (w, b), its wall, and
 * gradient descent with and without norm clipping started at the same points.
 */

import type { Block } from '../core/report-types.js';
import type { ExperimentDef, Plan, PlanOptions, Profile, ReportInput, ResultLine } from '../core/types.js';
import { heatmap, lineChart, type Series } from '../report/charts.js';
import { basinWall, descend, FIG6, neuronError, saddleNodeCurve, stepLengths } from './neuron.js';
import { mulberry32 } from './random.js';

/** The figure's start: on the lower plateau, just below the wall near the cusp. */
export const CANONICAL_START: [number, number] = [4.4, -2.6];
/** Random starts are drawn here (below the wall, where descent walks into it). */
export const START_BOX = { w: [4.2, 5.0], b: [-3.0, -2.4] } as const;
export const VIEW = { w: [2, 10] as [number, number], b: [-5, 6] as [number, number] };

const SETTINGS: Record<Profile, { seeds: number; steps: number; lr: number; threshold: number }> = {
  quick: { seeds: 4, steps: 300, lr: 0.1, threshold: 1 },
  paper: { seeds: 100, steps: 300, lr: 0.1, threshold: 1 },
};

export function startFor(seed: number): [number, number] {
  if (seed === 0) return CANONICAL_START;
  const rand = mulberry32(seed * 7919 + 17);
  const w = START_BOX.w[0] + (START_BOX.w[1] - START_BOX.w[0]) * rand();
  const b = START_BOX.b[0] + (START_BOX.b[1] - START_BOX.b[0]) * rand();
  return [Number(w.toFixed(4)), Number(b.toFixed(4))];
}

function plan(options: PlanOptions): Plan {
  const s = SETTINGS[options.profile];
  const seeds = options.seeds ?? s.seeds;
  const protocol = { ...FIG6, lr: s.lr, threshold: s.threshold, steps: s.steps, seeds, startBox: START_BOX };
  const runs = [];
  for (let seed = 0; seed < seeds; seed++) {
    for (const method of ['SGD', 'SGD-C']) {
      runs.push({
        key: method,
        seed,
        config: {
          method,
          start: startFor(seed),
          lr: s.lr,
          steps: s.steps,
          threshold: method === 'SGD-C' ? s.threshold : null,
        },
      });
    }
  }
  return { protocol, runs };
}

interface CliffResult extends Record<string, unknown> {
  start: [number, number];
  final: { w: number; b: number; error: number };
  maxStep: number;
  maxNorm: number;
  clippedSteps: number;
  /** the largest step was over 1 in parameter space: the run jumped off the wall */
  jumped: boolean;
  /** [w, b, error, norm, clipped 0|1] per step */
  path: number[][];
}

async function execute(run: { config: Record<string, unknown> }): Promise<CliffResult> {
  const c = run.config as { start: [number, number]; lr: number; steps: number; threshold: number | null };
  const path = descend(c.start, c.lr, c.steps, c.threshold ?? undefined);
  const steps = stepLengths(path);
  const last = path[path.length - 1];
  const round = (v: number) => Number(v.toPrecision(6));
  return {
    start: c.start,
    final: { w: round(last.w), b: round(last.b), error: round(last.error) },
    maxStep: round(Math.max(...steps)),
    maxNorm: round(Math.max(...path.map((p) => p.norm))),
    clippedSteps: path.filter((p) => p.clipped).length,
    jumped: Math.max(...steps) > 1,
    path: path.map((p) => [round(p.w), round(p.b), round(p.error), round(p.norm), p.clipped ? 1 : 0]),
  };
}

/** E over the view, rows from low b to high b. */
export function errorSurface(
  cols = 120,
  rows = 110,
  view = VIEW,
): { error: number[][]; logNorm: number[][] } {
  const error: number[][] = [];
  const logNorm: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const b = view.b[0] + ((view.b[1] - view.b[0]) * (r + 0.5)) / rows;
    const er: number[] = [];
    const nr: number[] = [];
    for (let c = 0; c < cols; c++) {
      const w = view.w[0] + ((view.w[1] - view.w[0]) * (c + 0.5)) / cols;
      const e = neuronError(w, b);
      er.push(e.error);
      nr.push(Math.log10(Math.max(1e-8, Math.hypot(e.gradW, e.gradB))));
    }
    error.push(er);
    logNorm.push(nr);
  }
  return { error, logNorm };
}

function wallSeries(): Series[] {
  const sn = saddleNodeCurve();
  const basin: [number, number][] = [];
  for (let w = 4.26; w <= VIEW.w[1]; w += 0.05) basin.push([w, basinWall(w)!]);
  return [
    {
      name: 'saddle-node bifurcation',
      points: [...sn.upper.reverse(), ...sn.lower],
      color: '#ffffff',
      dashed: true,
    },
    { name: 'wall: x0 on the unstable fixed point', points: basin, color: '#cccccc' },
  ];
}

const toPoints = (path: number[][]): [number, number][] => path.map((p) => [p[0], p[1]]);

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length === 0
    ? Number.NaN
    : v.length % 2
      ? v[(v.length - 1) / 2]
      : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

function report(input: ReportInput) {
  const byMethod = (m: string) => input.lines.filter((l) => l.config.method === m);
  const figureRun = (m: string) => byMethod(m).find((l) => l.seed === 0) as ResultLine | undefined;
  const sgd = figureRun('SGD');
  const sgdc = figureRun('SGD-C');
  const surface = errorSurface();
  const trajectories: Series[] = [];
  if (sgd)
    trajectories.push({
      name: 'SGD',
      points: toPoints((sgd.result as CliffResult).path),
      color: '#f28e2b',
      dots: true,
    });
  if (sgdc)
    trajectories.push({
      name: 'SGD-C (clipped)',
      points: toPoints((sgdc.result as CliffResult).path),
      color: '#59f0ff',
      dots: true,
    });
  const cfg = (sgd ?? sgdc)?.config as { lr: number; threshold: number } | undefined;
  const blocks: Block[] = [
    {
      kind: 'text',
      markdown:
        'One recurrent neuron, x_t = w σ(x_{t-1}) + b with x_0 = 0.5 and the logistic σ, trained so that σ(x_50) = 0.7 ' +
        '(E = (σ(x_50) − 0.7)²). For w > 4 the map x ↦ wσ(x) + b has a saddle-node bifurcation (dashed): between its two ' +
        'branches there are two attractors, and where x_0 lies on the unstable fixed point between them (grey line) the state ' +
        'after 50 steps switches attractor, so E jumps. Near the cusp (4, −2) the jump is a steep wall whose gradient is huge; ' +
        `plain SGD takes one huge step off it, clipped SGD (Algorithm 1, threshold ${cfg?.threshold ?? 1}) does not.`,
    },
    {
      kind: 'figure',
      figure: {
        id: 'cliff-surface',
        title: 'Error surface E(w, b) with SGD and clipped SGD from the same start',
        caption: `Start (${CANONICAL_START.join(', ')}), learning rate ${cfg?.lr ?? '-'}; dots are iterates.`,
        svg: heatmap({
          title: 'E(w, b) = (σ(x_50) − 0.7)², one-neuron RNN (paper Fig. 6)',
          x: { label: 'w', domain: VIEW.w },
          y: { label: 'b', domain: VIEW.b },
          values: surface.error,
          color: { label: 'error E', domain: [0, 0.5] },
          overlays: [...wallSeries(), ...trajectories],
        }),
      },
    },
    {
      kind: 'figure',
      figure: {
        id: 'cliff-gradient',
        title: 'log10 ‖∇E‖ over (w, b)',
        caption: 'The wall shows as a thin ridge of huge gradient norm next to flat plateaus.',
        svg: heatmap({
          title: 'log10 ‖∇E(w, b)‖',
          x: { label: 'w', domain: VIEW.w },
          y: { label: 'b', domain: VIEW.b },
          values: surface.logNorm,
          color: { label: 'log10 gradient norm', domain: [-6, 2] },
          overlays: trajectories,
        }),
      },
    },
  ];
  if (sgd && sgdc) {
    const series = (l: ResultLine, name: string, color: string): Series => {
      const path = (l.result as CliffResult).path;
      return {
        name,
        color,
        points: path.map((p, i) => [i, p[2]]),
        marks: path.flatMap((p, i) => (p[4] ? [[i, p[2]] as [number, number]] : [])),
      };
    };
    blocks.push({
      kind: 'figure',
      figure: {
        id: 'cliff-error',
        title: 'Error per iteration',
        svg: lineChart({
          title: 'E during descent from the figure start',
          x: { label: 'iteration' },
          y: { label: 'error E', log: true },
          series: [series(sgd, 'SGD', '#f28e2b'), series(sgdc, 'SGD-C', '#4e79a7')],
        }),
      },
    });
  }
  const rows = ['SGD', 'SGD-C'].map((m) => {
    const runs = byMethod(m).map((l) => l.result as CliffResult);
    return [
      m,
      String(runs.length),
      `${runs.filter((r) => r.jumped).length}`,
      median(runs.map((r) => r.maxStep)).toPrecision(3),
      Math.max(...runs.map((r) => r.maxStep)).toPrecision(3),
      median(runs.map((r) => r.final.error)).toExponential(2),
      `${runs.filter((r) => r.final.error < 0.01).length}`,
    ];
  });
  blocks.push({
    kind: 'table',
    header: [
      'method',
      'runs',
      'jumped (a step > 1)',
      'median largest step',
      'largest step',
      'median final E',
      'final E < 0.01',
    ],
    rows,
    caption: `Starts: the figure's start and ${Math.max(0, byMethod('SGD').length - 1)} uniform in w ∈ [${START_BOX.w.join(', ')}], b ∈ [${START_BOX.b.join(', ')}]. The paper shows this figure as an illustration and reports no numbers for it.`,
  });
  return { title: 'cliff: the exploding-gradient wall of one neuron (Fig. 6)', blocks };
}

function headline(lines: ResultLine[]): string {
  const of = (m: string) => lines.filter((l) => l.config.method === m).map((l) => l.result as CliffResult);
  const sgd = of('SGD');
  const sgdc = of('SGD-C');
  return (
    `SGD jumped off the wall from ${sgd.filter((r) => r.jumped).length}/${sgd.length} starts (largest step ${Math.max(...sgd.map((r) => r.maxStep)).toPrecision(3)}); ` +
    `SGD-C from ${sgdc.filter((r) => r.jumped).length}/${sgdc.length} (largest step ${Math.max(...sgdc.map((r) => r.maxStep)).toPrecision(3)})`
  );
}

export const cliff: ExperimentDef = {
  name: 'cliff',
  title: 'The wall in the error surface of one recurrent neuron',
  summary: 'paper Fig. 6: error surface over (w, b), bifurcation wall, SGD vs clipped SGD trajectories',
  paperRef: 'Fig. 6',
  budgets: {
    quick: `${SETTINGS.quick.seeds} starts × 2 methods × ${SETTINGS.quick.steps} steps: about a second`,
    paper: `${SETTINGS.paper.seeds} starts × 2 methods × ${SETTINGS.paper.steps} steps: a few seconds`,
  },
  plan,
  execute: (run) => execute(run),
  report,
  headline,
  summarizeResult: (r) => {
    const c = r as CliffResult;
    return `final E ${c.final.error.toExponential(2)}, largest step ${c.maxStep.toPrecision(3)}${c.jumped ? ' (jumped)' : ''}`;
  },
};
