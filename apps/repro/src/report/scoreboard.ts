/**
 * The reproduction scoreboard: every number of the paper's Table 1 and every point of Fig. 7 beside
 * ours (paper-profile runs only), the paper's claims judged against our runs (supported,
 * contradicted or open), and a Fig.-7-style figure. Pure functions: result lines in, blocks out.
 */
import { METHOD_INDEX, TABLE1 } from '../core/paper-table.js';
import type { Block } from '../core/report-types.js';
import type { ResultLine } from '../core/types.js';
import { lineChart, PALETTE } from './charts.js';

export type Verdict = 'supported' | 'contradicted' | 'open';

const METHODS = ['SGD', 'SGD-C', 'SGD-CR'] as const;
type Method = (typeof METHODS)[number];
const INITS = ['sigmoid', 'basic-tanh', 'smart-tanh'];

/** A point of Fig. 7 needs this many finished runs per method before a claim is judged on it. */
export const MIN_RUNS = 3;
/** Paper, section 6: the test lengths of the generalisation experiment. */
export const PAPER_TEST_LENGTHS = [50, 100, 150, 200, 250, 500, 1000, 2000, 3000, 5000];
const PAPER_MAX_UPDATES = 5_000_000;

/** Table 1's data sets in the paper's order (JSB Chorales: a bonus set without paper numbers). */
const TABLE1_SETS: { key: string; label: string; data: 'music' | 'ptb' }[] = [
  { key: 'piano-midi', label: 'Piano-midi.de', data: 'music' },
  { key: 'nottingham', label: 'Nottingham', data: 'music' },
  { key: 'musedata', label: 'MuseData', data: 'music' },
  { key: 'jsb', label: 'JSB Chorales (bonus)', data: 'music' },
  { key: 'ptb-1', label: 'PTB, next char', data: 'ptb' },
  { key: 'ptb-5', label: 'PTB, 5th char ahead', data: 'ptb' },
];

// ---------------------------------------------------------------- small helpers

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
const isPaper = (l: ResultLine) => l.profile === 'paper';
const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** The median (the mean of the middle two for an even count); NaN for no values. */
export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;

/** (ours − paper) / paper as a signed percentage with one decimal: '+1.2%', '−0.4%'. */
export function signedPercent(x: number): string {
  const text = Math.abs(100 * x).toFixed(1);
  return `${x < 0 && Number(text) !== 0 ? '−' : '+'}${text}%`;
}

/** A fraction as a percentage: whole percent, one decimal where rounding would show 0% or 100%. */
export function percent(x: number): string {
  const whole = Math.round(100 * x);
  if (whole === 0 && x > 0) return `${Math.max(0.1, Math.round(1000 * x) / 10).toFixed(1)}%`;
  if (whole === 100 && x < 1) return `${Math.min(99.9, Math.floor(1000 * x) / 10).toFixed(1)}%`;
  return `${whole}%`;
}

// ---------------------------------------------------------------- Table 1

export interface Table1Cell {
  /** TABLE1 key: a music set or 'ptb-1' / 'ptb-5' */
  key: string;
  label: string;
  data: 'music' | 'ptb';
  fold: 'train' | 'test';
  method: Method;
  paper: number | null;
  /** our value per finished run (paper profile) */
  values: number[];
  /** mean over the runs; null when none finished */
  ours: number | null;
  /** median of result.updates over the runs */
  updates: number | null;
  /** result.epochs (and result.bestEpoch) per run, as text */
  epochs: string[];
  /** (ours − paper) / paper */
  rel: number | null;
  /** music: within 5% of the paper; PTB: within 0.1 bits/char. null where either side is missing */
  meets: boolean | null;
}

function table1Key(l: ResultLine): string | undefined {
  if (l.experiment === 'music') return str(l.config.set);
  if (l.experiment === 'ptb') {
    const ahead = num(l.config.ahead);
    return ahead === undefined ? undefined : `ptb-${ahead}`;
  }
  return undefined;
}

/** Whether `ours` meets the reproduction target for a number of `data`'s kind. */
export function meetsTarget(data: 'music' | 'ptb', ours: number, paper: number): boolean {
  // a tiny tolerance so that a difference of exactly the target (in decimal) counts as within it
  return data === 'music'
    ? Math.abs(ours - paper) <= 0.05 * paper + 1e-12
    : Math.abs(ours - paper) <= 0.1 + 1e-12;
}

/**
 * One cell per (data set, fold, method) where the paper has a number or we have a finished
 * paper-profile run, in the paper's order.
 */
export function table1Cells(lines: ResultLine[]): Table1Cell[] {
  const natural = lines.filter((l) => isPaper(l) && (l.experiment === 'music' || l.experiment === 'ptb'));
  const cells: Table1Cell[] = [];
  for (const set of TABLE1_SETS) {
    const runsOfSet = natural.filter((l) => l.experiment === set.data && table1Key(l) === set.key);
    for (const fold of ['train', 'test'] as const) {
      for (const method of METHODS) {
        const paper = TABLE1[set.key]?.[fold][METHOD_INDEX[method]] ?? null;
        const runs = runsOfSet.filter((l) => l.config.method === method && num(l.result[fold]) !== undefined);
        if (paper === null && runs.length === 0) continue;
        const values = runs.map((l) => num(l.result[fold])!);
        const ours = values.length ? mean(values) : null;
        const updates = runs.map((l) => num(l.result.updates)).filter((x): x is number => x !== undefined);
        cells.push({
          key: set.key,
          label: set.label,
          data: set.data,
          fold,
          method,
          paper,
          values,
          ours,
          updates: updates.length ? median(updates) : null,
          epochs: runs.map((l) => {
            const epochs = num(l.result.epochs);
            const best = num(l.result.bestEpoch);
            return `${epochs ?? '?'}${best !== undefined ? ` (best ${best})` : ''}`;
          }),
          rel: ours !== null && paper !== null ? (ours - paper) / paper : null,
          meets: ours !== null && paper !== null ? meetsTarget(set.data, ours, paper) : null,
        });
      }
    }
  }
  return cells;
}

export function table1Block(cells: Table1Cell[]): Block {
  const pending = 'pending';
  let lastLabel = '';
  const rows = cells.map((c) => {
    const label = c.label === lastLabel ? '' : c.label;
    lastLabel = c.label;
    const has = c.ours !== null;
    const distinctEpochs = [...new Set(c.epochs)];
    let vs = '–';
    if (c.paper !== null) {
      if (!has) vs = pending;
      else {
        vs = signedPercent(c.rel!);
        if (c.data === 'ptb') {
          const d = c.ours! - c.paper;
          vs += ` (${d < 0 && Math.abs(d) >= 0.0005 ? '−' : '+'}${Math.abs(d).toFixed(3)} bits)`;
        }
      }
    }
    return [
      label,
      c.fold,
      c.method,
      c.paper === null ? '–' : c.paper.toFixed(2),
      has ? c.ours!.toFixed(2) : pending,
      String(c.values.length),
      c.updates === null ? pending : int(c.updates),
      distinctEpochs.length ? distinctEpochs.join(', ') : pending,
      vs,
      c.meets === null ? (c.paper === null ? '–' : pending) : c.meets ? 'yes' : 'no',
    ];
  });
  return {
    kind: 'table',
    header: [
      'Table 1: data set',
      'fold',
      'method',
      'paper',
      'ours (mean)',
      'runs',
      'updates (median)',
      'epochs (best)',
      'ours vs paper',
      'target met',
    ],
    rows,
    caption:
      'Paper: ICML 2013 Table 1 (music: negative log-likelihood per time step; PTB: bits per character). ' +
      'Ours: paper-profile runs only, mean over runs (seeds); updates: median over runs; epochs: epochs trained ' +
      '(best: the epoch whose validation error was best, whose weights are reported). ' +
      'Ours vs paper: (ours − paper) / paper. Target: music within 5% of the paper, PTB within 0.1 bits/char. ' +
      "'–': the paper has no number; 'pending': no finished run yet (a sweep may be in progress).",
  };
}

// ---------------------------------------------------------------- Fig. 7

export interface Fig7Grid {
  inits: string[];
  methods: string[];
  lengths: number[];
}

export interface Fig7Point {
  init: string;
  method: string;
  length: number;
  /** finished runs */
  n: number;
  successes: number;
  diverged: number;
  /** median of result.updates over the successful runs */
  updatesToSuccess: number | null;
  /** median of result.clippedFraction over the runs */
  clipped: number | null;
  /** config.maxUpdates of the runs (distinct, ascending) */
  maxUpdates: number[];
}

const fig7Lines = (lines: ResultLine[]) =>
  lines.filter((l) => isPaper(l) && l.experiment === 'temporal-order');

/**
 * One point per (init, method, L) of the grid (the paper profile's plan, if given) and of the
 * finished runs; a point of the grid without runs has n = 0.
 */
export function fig7Points(lines: ResultLine[], grid?: Partial<Fig7Grid>): Fig7Point[] {
  const runs = fig7Lines(lines);
  const seen = <T>(key: (l: ResultLine) => T | undefined) =>
    runs.map(key).filter((x): x is T => x !== undefined);
  const order = (all: readonly string[], found: string[]) => [
    ...all.filter((x) => found.includes(x)),
    ...[...new Set(found)].filter((x) => !all.includes(x)).sort(),
  ];
  const inits = order(INITS, [...(grid?.inits ?? []), ...seen((l) => str(l.config.init))]);
  const methods = order(METHODS, [...(grid?.methods ?? []), ...seen((l) => str(l.config.method))]);
  const lengths = [...new Set([...(grid?.lengths ?? []), ...seen((l) => num(l.config.minLength))])].sort(
    (a, b) => a - b,
  );
  const points: Fig7Point[] = [];
  for (const init of inits) {
    for (const length of lengths) {
      for (const method of methods) {
        const at = runs.filter(
          (l) => l.config.init === init && l.config.method === method && l.config.minLength === length,
        );
        const ok = at.filter((l) => l.result.success === true);
        const upd = ok.map((l) => num(l.result.updates)).filter((x): x is number => x !== undefined);
        const clipped = at
          .map((l) => num(l.result.clippedFraction))
          .filter((x): x is number => x !== undefined);
        points.push({
          init,
          method,
          length,
          n: at.length,
          successes: ok.length,
          diverged: at.filter((l) => l.result.diverged === true).length,
          updatesToSuccess: upd.length ? median(upd) : null,
          clipped: clipped.length ? median(clipped) : null,
          maxUpdates: [
            ...new Set(at.map((l) => num(l.config.maxUpdates)).filter((x): x is number => x !== undefined)),
          ].sort((a, b) => a - b),
        });
      }
    }
  }
  return points;
}

const rate = (p: Fig7Point) => p.successes / p.n;
const kn = (p: Fig7Point) => `${p.successes}/${p.n}`;

/** "k/n" with the median updates to success and the median clipped fraction; 'pending' without runs. */
export function fig7CellText(p: Fig7Point | undefined): string {
  if (!p || p.n === 0) return 'pending';
  const parts = [`${kn(p)} solved${p.diverged ? ` (${p.diverged} diverged)` : ''}`];
  if (p.updatesToSuccess !== null) parts.push(`median ${int(p.updatesToSuccess)} updates`);
  if (p.clipped !== null) parts.push(`clipped ${percent(p.clipped)}`);
  return parts.join('\n');
}

const PAPER_EXPECTS: Record<string, string> = {
  SGD: 'paper: below SGD-C, more so at long L',
  'SGD-C': 'paper: at least SGD',
  'SGD-CR': 'paper: the most reliable',
};

export function fig7Block(points: Fig7Point[]): Block {
  const inits = [...new Set(points.map((p) => p.init))];
  const lengths = [...new Set(points.map((p) => p.length))].sort((a, b) => a - b);
  const methods = [...new Set(points.map((p) => p.method))];
  const rows: string[][] = [];
  for (const init of inits) {
    lengths.forEach((L, i) => {
      const at = points.filter((p) => p.init === init && p.length === L);
      const caps = [...new Set(at.flatMap((p) => p.maxUpdates))].sort((a, b) => a - b);
      rows.push([
        i === 0 ? init : '',
        String(L),
        ...methods.map((m) => fig7CellText(at.find((p) => p.method === m))),
        caps.length ? caps.map(int).join(', ') : 'pending',
      ]);
    });
  }
  return {
    kind: 'table',
    header: [
      'Fig. 7: init',
      'L',
      ...methods.map((m) => (PAPER_EXPECTS[m] ? `${m} (${PAPER_EXPECTS[m]})` : m)),
      'ours censored at (updates)',
    ],
    rows,
    caption:
      'Paper: Fig. 7 (temporal order, 50 hidden, minibatch 20, lr 0.01, clip 1, α 4) gives success rate against L ' +
      `as curves only, 5 seeds per point and up to ${int(PAPER_MAX_UPDATES)} updates per run; no numbers are read off them here. ` +
      "Its stated expectation: clipping matters more as L grows and SGD-CR is the most reliable. Ours: paper-profile runs only, successful runs / finished runs (success: under 1% error on 10,000 fresh sequences), median updates to success over the successful runs, median fraction of updates clipped over all runs; a run that has not succeeded by the censoring limit counts as a failure. 'pending': no finished run yet.",
  };
}

/** Success rate against L, one panel per init (stacked in one SVG), one line per method. */
export function fig7Figure(points: Fig7Point[]): Block | undefined {
  const inits = [...new Set(points.filter((p) => p.n > 0).map((p) => p.init))];
  if (inits.length === 0) return undefined;
  const lengths = [...new Set(points.map((p) => p.length))].sort((a, b) => a - b);
  const methods = [...new Set(points.map((p) => p.method))];
  // methods drawn slightly apart along L, so that equal rates stay visible
  const span = lengths.length > 1 ? lengths[lengths.length - 1] - lengths[0] : 20;
  const dodge = (j: number) => (j - (methods.length - 1) / 2) * 0.015 * span;
  const width = 640;
  const height = 240;
  const panels = inits.map((init, i) => {
    const svg = lineChart({
      title: `${init} init: success rate vs length (paper profile)`,
      width,
      height,
      x: {
        label: 'sequence length L',
        domain: lengths.length > 1 ? undefined : [lengths[0] - 10, lengths[0] + 10],
      },
      y: { label: 'success rate', domain: [-0.03, 1.05] },
      series: methods.map((m, j) => ({
        name: m,
        color: PALETTE[(METHODS as readonly string[]).includes(m) ? METHODS.indexOf(m as Method) : j],
        dots: true,
        points: lengths.map((L) => {
          const p = points.find((q) => q.init === init && q.method === m && q.length === L);
          return [L + dodge(j), p && p.n > 0 ? rate(p) : Number.NaN] as [number, number];
        }),
      })),
    });
    return `<g transform="translate(0,${i * height})">${svg}</g>`;
  });
  const total = height * inits.length;
  return {
    kind: 'figure',
    figure: {
      id: 'scoreboard-fig7',
      title: 'Fig. 7 (ours): success rate against sequence length',
      svg:
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${total}" viewBox="0 0 ${width} ${total}">` +
        `${panels.join('')}</svg>`,
      caption:
        'Ours, paper profile: successful runs / finished runs at each length, one panel per initialisation, one line per method; ' +
        'lengths without a finished run are left out; the methods are drawn slightly apart along L so that equal rates stay visible. Compare with Fig. 7 of the paper (5 seeds per point, up to 5M updates).',
    },
  };
}

// ---------------------------------------------------------------- section 6: generalisation

interface TestError {
  length: number;
  wrong: number;
  total: number;
}

export interface GeneralizeSummary {
  n: number;
  successes: number;
  /** the test with the most wrong sequences (the error rate breaks ties), over all runs and lengths */
  worst: (TestError & { seed: number }) | null;
  /** paper test lengths tested with 0 errors in every run (over runs that tested them) */
  cleanLengths: number[];
  /** paper test lengths that every run tested */
  testedLengths: number[];
  /** the worst test of a run that succeeded (the paper's claim is about trained models) */
  worstSolved: (TestError & { seed: number }) | null;
  /** the update cap of the runs that did not succeed (censored, not failed for good), when all share one */
  censoredAt: number | null;
}

const testErrorsOf = (l: ResultLine): TestError[] =>
  Array.isArray(l.result.testErrors)
    ? (l.result.testErrors as unknown[]).filter(
        (t): t is TestError =>
          typeof t === 'object' &&
          t !== null &&
          num((t as TestError).length) !== undefined &&
          num((t as TestError).wrong) !== undefined &&
          num((t as TestError).total) !== undefined,
      )
    : [];

/** The test with the most wrong sequences over `runs` (the error rate breaks ties), or null. */
function worstTest(runs: ResultLine[]): GeneralizeSummary['worst'] {
  let worst: GeneralizeSummary['worst'] = null;
  for (const l of runs) {
    for (const t of testErrorsOf(l)) {
      if (
        worst === null ||
        t.wrong / t.total > worst.wrong / worst.total ||
        (t.wrong / t.total === worst.wrong / worst.total && t.length > worst.length)
      )
        worst = { length: t.length, wrong: t.wrong, total: t.total, seed: l.seed };
    }
  }
  return worst;
}

export function generalizeSummary(lines: ResultLine[]): GeneralizeSummary {
  const runs = lines.filter((l) => isPaper(l) && l.experiment === 'generalize');
  const worst = worstTest(runs);
  const solved = runs.filter((l) => l.result.success === true);
  const caps = [
    ...new Set(runs.filter((l) => l.result.success !== true).map((l) => num(l.config.maxUpdates))),
  ];
  const testedLengths = PAPER_TEST_LENGTHS.filter(
    (L) => runs.length > 0 && runs.every((l) => testErrorsOf(l).some((t) => t.length === L)),
  );
  const cleanLengths = PAPER_TEST_LENGTHS.filter((L) => {
    const tests = runs.flatMap((l) => testErrorsOf(l).filter((t) => t.length === L));
    return tests.length > 0 && tests.every((t) => t.wrong === 0);
  });
  return {
    n: runs.length,
    successes: solved.length,
    worst,
    cleanLengths,
    testedLengths,
    worstSolved: worstTest(solved),
    censoredAt: caps.length === 1 && caps[0] !== undefined ? caps[0] : null,
  };
}

export function generalizeBlock(g: GeneralizeSummary): Block {
  const pending = g.n === 0;
  const worst = g.worst
    ? `${int(g.worst.wrong)}/${int(g.worst.total)} at L=${g.worst.length} (seed ${g.worst.seed})`
    : 'pending';
  return {
    kind: 'table',
    header: ['§6 generalisation', 'paper', 'ours', 'as the paper'],
    rows: [
      [
        'runs that succeed',
        '5/5',
        pending ? 'pending' : `${g.successes}/${g.n}`,
        pending ? 'pending' : g.successes === g.n ? 'yes' : 'no',
      ],
      [
        'worst test error',
        `0 in 10,000 at every length (${PAPER_TEST_LENGTHS.join(', ')})`,
        worst,
        g.worst === null ? 'pending' : g.worst.wrong === 0 ? 'yes' : 'no',
      ],
      [
        'test lengths with 0 errors in every run',
        `all ${PAPER_TEST_LENGTHS.length}`,
        pending
          ? 'pending'
          : `${g.cleanLengths.length} of ${PAPER_TEST_LENGTHS.length}${g.cleanLengths.length ? ` (${g.cleanLengths.join(', ')})` : ''}`,
        pending ? 'pending' : g.cleanLengths.length === PAPER_TEST_LENGTHS.length ? 'yes' : 'no',
      ],
    ],
    caption:
      'Paper, section 6: one SGD-CR model (basic tanh, 50 units) trained on random lengths 50..200, 5 seeds, tested on 10,000 ' +
      'fresh sequences at each length. Ours: paper-profile runs of `generalize` only; worst: the most errors at any test length in any run.',
  };
}

// ---------------------------------------------------------------- claims

export interface ClaimVerdict {
  /** (a) ordering, (b) clipping gap grows with L, (c) Table 1 ordering, (d) generalisation */
  claim: 'a' | 'b' | 'c' | 'd';
  /** the init or data set judged ('' for the claim as a whole) */
  scope: string;
  verdict: Verdict;
  detail: string;
}

export const CLAIM_TEXT: Record<ClaimVerdict['claim'], string> = {
  a: 'Fig. 7: success rate SGD-CR ≥ SGD-C ≥ SGD at every length',
  b: 'Fig. 7: clipping matters more as the length grows (SGD-C − SGD success gap non-decreasing in L)',
  c: "Table 1: SGD-C's test value ≤ SGD's and SGD-CR's ≤ SGD-C's",
  d: 'Section 6: 0 errors at every test length (50..5000), every seed',
};

const EPS = 1e-9;

function pointsByInit(points: Fig7Point[]): Map<string, Map<number, Map<string, Fig7Point>>> {
  const out = new Map<string, Map<number, Map<string, Fig7Point>>>();
  for (const p of points) {
    if (!out.has(p.init)) out.set(p.init, new Map());
    const byL = out.get(p.init)!;
    if (!byL.has(p.length)) byL.set(p.length, new Map());
    byL.get(p.length)!.set(p.method, p);
  }
  return out;
}

const enough = (p: Fig7Point | undefined): p is Fig7Point => p !== undefined && p.n >= MIN_RUNS;

/** (a), per init: contradicted where a judged point breaks the order; supported when every length holds. */
export function orderingClaims(points: Fig7Point[]): ClaimVerdict[] {
  const out: ClaimVerdict[] = [];
  for (const [init, byL] of pointsByInit(points)) {
    const lengths = [...byL.keys()].sort((a, b) => a - b);
    const broken: string[] = [];
    let held = 0;
    let open = 0;
    let trivial = true;
    for (const L of lengths) {
      const [s, c, cr] = METHODS.map((m) => byL.get(L)!.get(m));
      if (!enough(s) || !enough(c) || !enough(cr)) {
        open += 1;
        continue;
      }
      if (!(rate(s) === rate(c) && rate(c) === rate(cr))) trivial = false;
      const bad: string[] = [];
      if (rate(cr) < rate(c) - EPS) bad.push(`SGD-CR ${kn(cr)} < SGD-C ${kn(c)}`);
      if (rate(c) < rate(s) - EPS) bad.push(`SGD-C ${kn(c)} < SGD ${kn(s)}`);
      if (bad.length) broken.push(`L=${L}: ${bad.join(', ')}`);
      else held += 1;
    }
    const total = lengths.length;
    const verdict: Verdict = broken.length ? 'contradicted' : open === 0 && total > 0 ? 'supported' : 'open';
    const parts: string[] = [];
    if (broken.length) parts.push(`broken at ${broken.join('; ')}`);
    if (held + broken.length === 0) parts.push('no length judged yet');
    else
      parts.push(
        `holds at ${held} of ${total} lengths${verdict === 'supported' && trivial ? ' (trivially: equal rates everywhere)' : ''}`,
      );
    if (open) parts.push(`${open} of ${total} lengths with fewer than ${MIN_RUNS} finished runs per method`);
    out.push({ claim: 'a', scope: init, verdict, detail: parts.join('; ') });
  }
  return out;
}

/** (b), per init: the SGD-C − SGD gap must not fall between any two judged lengths. */
export function clippingGapClaims(points: Fig7Point[]): ClaimVerdict[] {
  const out: ClaimVerdict[] = [];
  const fmtGap = (g: number) => `${g < -EPS ? '−' : '+'}${Math.abs(g).toFixed(2)}`;
  for (const [init, byL] of pointsByInit(points)) {
    const lengths = [...byL.keys()].sort((a, b) => a - b);
    const gaps: { L: number; gap: number }[] = [];
    let open = 0;
    for (const L of lengths) {
      const s = byL.get(L)!.get('SGD');
      const c = byL.get(L)!.get('SGD-C');
      if (!enough(s) || !enough(c)) open += 1;
      else gaps.push({ L, gap: rate(c) - rate(s) });
    }
    const falls: string[] = [];
    for (let i = 0; i < gaps.length; i++) {
      for (let j = i + 1; j < gaps.length; j++) {
        if (gaps[j].gap < gaps[i].gap - EPS)
          falls.push(`L=${gaps[i].L} ${fmtGap(gaps[i].gap)} > L=${gaps[j].L} ${fmtGap(gaps[j].gap)}`);
      }
    }
    const verdict: Verdict = falls.length
      ? 'contradicted'
      : open === 0 && gaps.length >= 2
        ? 'supported'
        : 'open';
    const parts: string[] = [];
    parts.push(
      gaps.length ? `gap ${gaps.map((g) => `L=${g.L} ${fmtGap(g.gap)}`).join(', ')}` : 'no length judged yet',
    );
    if (falls.length) parts.push(`falls: ${falls.slice(0, 3).join('; ')}${falls.length > 3 ? '; …' : ''}`);
    if (verdict === 'supported' && gaps.every((g) => Math.abs(g.gap) < EPS))
      parts.push('trivially: no gap at any length');
    if (open) parts.push(`${open} of ${lengths.length} lengths with fewer than ${MIN_RUNS} finished runs`);
    out.push({ claim: 'b', scope: init, verdict, detail: parts.join('; ') });
  }
  return out;
}

/** (c), per data set: the test means ordered as in the paper; open where a cell is pending. */
export function table1Claims(cells: Table1Cell[]): ClaimVerdict[] {
  const out: ClaimVerdict[] = [];
  const sets = [...new Set(cells.map((c) => c.key))];
  for (const key of sets) {
    const test = cells.filter((c) => c.key === key && c.fold === 'test');
    const by = (m: Method) => test.find((c) => c.method === m);
    const pairs: [Method, Method][] = [
      ['SGD-C', 'SGD'],
      ['SGD-CR', 'SGD-C'],
    ];
    const judged: string[] = [];
    const broken: string[] = [];
    let open = 0;
    for (const [lower, higher] of pairs) {
      const a = by(lower);
      const b = by(higher);
      if (!a || !b) continue; // not part of the table for this set (PTB 5th char: no SGD)
      if (a.ours === null || b.ours === null) {
        open += 1;
        continue;
      }
      const text = `${lower} ${a.ours.toFixed(2)} ${a.ours <= b.ours + EPS ? '≤' : '>'} ${higher} ${b.ours.toFixed(2)}`;
      (a.ours <= b.ours + EPS ? judged : broken).push(text);
    }
    const label = test[0]?.label ?? key;
    const verdict: Verdict = broken.length
      ? 'contradicted'
      : open === 0 && judged.length > 0
        ? 'supported'
        : 'open';
    const parts = [...broken, ...judged];
    if (open) parts.push(`${open} comparison${open > 1 ? 's' : ''} pending`);
    out.push({ claim: 'c', scope: label, verdict, detail: parts.join('; ') });
  }
  return out;
}

/**
 * (d): the paper's claim is about trained models: contradicted by a run that succeeded (error
 * under 1% at its training lengths) yet errs at a test length; a run that did not succeed within
 * our update cap is censored (the paper trained for up to 5M updates), so it leaves the claim
 * open; supported by ≥ MIN_RUNS runs, all successful and clean at every length.
 */
export function generalizeClaim(g: GeneralizeSummary): ClaimVerdict {
  let verdict: Verdict;
  let detail: string;
  if (g.worstSolved && g.worstSolved.wrong > 0) {
    verdict = 'contradicted';
    detail = `${int(g.worstSolved.wrong)}/${int(g.worstSolved.total)} wrong at L=${g.worstSolved.length} (seed ${g.worstSolved.seed}, a successful run)`;
  } else if (g.n > 0 && g.successes < g.n) {
    verdict = 'open';
    const cap =
      g.censoredAt === null
        ? ''
        : ` within ${int(g.censoredAt)} updates (censored; the paper trained up to 5M)`;
    detail = `${g.n - g.successes} of ${g.n} runs did not succeed${cap}`;
  } else if (g.n >= MIN_RUNS && g.testedLengths.length === PAPER_TEST_LENGTHS.length) {
    verdict = 'supported';
    detail = `0 errors at all ${PAPER_TEST_LENGTHS.length} lengths in ${g.n} runs`;
  } else {
    verdict = 'open';
    detail =
      g.n === 0
        ? 'no finished run'
        : `${g.n} run${g.n > 1 ? 's' : ''} without errors so far, ${g.testedLengths.length} of ${PAPER_TEST_LENGTHS.length} lengths tested in every run; ${MIN_RUNS} runs needed`;
  }
  return { claim: 'd', scope: '', verdict, detail };
}

export function allClaims(lines: ResultLine[], grid?: Partial<Fig7Grid>): ClaimVerdict[] {
  const points = fig7Points(lines, grid);
  return [
    ...orderingClaims(points),
    ...clippingGapClaims(points),
    ...table1Claims(table1Cells(lines)),
    generalizeClaim(generalizeSummary(lines)),
  ];
}

/** The verdict line (supported / contradicted / open, by claim) and the details as a list. */
export function claimsBlock(claims: ClaimVerdict[], maxUpdates: number[] = []): Block {
  const byVerdict = (v: Verdict) => {
    const groups = (['a', 'b', 'c', 'd'] as const)
      .map((id) => {
        const scopes = claims.filter((c) => c.claim === id && c.verdict === v).map((c) => c.scope);
        if (scopes.length === 0) return '';
        const all = claims.filter((c) => c.claim === id).length;
        return scopes.length === all && all > 1
          ? `(${id}) all ${id === 'c' ? 'data sets' : 'inits'}`
          : `(${id})${scopes.some(Boolean) ? ` ${scopes.join(', ')}` : ''}`;
      })
      .filter(Boolean);
    return groups.length ? groups.join('; ') : 'none';
  };
  const censored = maxUpdates.length
    ? ` Our temporal-order runs stop at ${maxUpdates.map(int).join(' or ')} updates (the paper's at up to ${int(PAPER_MAX_UPDATES)}), so a failure there is censored, not final.`
    : '';
  const lines = (['a', 'b', 'c', 'd'] as const).map((id) => {
    const of = claims.filter((c) => c.claim === id);
    const body = of.length
      ? of.map((c) => `${c.scope ? `${c.scope} ` : ''}**${c.verdict}** (${c.detail})`).join('; ')
      : '**open** (no finished run)';
    return `- (${id}) ${CLAIM_TEXT[id]}: ${body}.`;
  });
  return {
    kind: 'text',
    markdown:
      `**The paper's claims against our paper-profile runs.** Supported: ${byVerdict('supported')}. ` +
      `Contradicted: ${byVerdict('contradicted')}. Open: ${byVerdict('open')}.${censored}\n\n` +
      lines.join('\n'),
  };
}

// ---------------------------------------------------------------- the section

export interface ScoreboardOptions {
  /** the paper profile's Fig. 7 grid (planned points without a run show as 'pending') */
  fig7Grid?: Partial<Fig7Grid>;
}

/** The Scoreboard section of the results index: heading, claims, Table 1, Fig. 7 (table, figure), §6. */
export function scoreboardBlocks(lines: ResultLine[], options: ScoreboardOptions = {}): Block[] {
  const paper = lines.filter(isPaper);
  const points = fig7Points(paper, options.fig7Grid);
  const cells = table1Cells(paper);
  const general = generalizeSummary(paper);
  const claims = [
    ...orderingClaims(points),
    ...clippingGapClaims(points),
    ...table1Claims(cells),
    generalizeClaim(general),
  ];
  const caps = [...new Set(points.flatMap((p) => p.maxUpdates))].sort((a, b) => a - b);
  const figure = fig7Figure(points);
  return [
    { kind: 'heading', text: 'Scoreboard' },
    {
      kind: 'text',
      markdown:
        "Every number of the paper's Table 1 and every point of its Fig. 7 beside ours, from `paper`-profile runs only " +
        "(quick-profile numbers are not comparable and stay out). Three tables: Table 1, Fig. 7, and section 6's generalisation test.",
    },
    claimsBlock(claims, caps),
    table1Block(cells),
    fig7Block(points),
    ...(figure ? [figure] : []),
    generalizeBlock(general),
  ];
}
