/**
 * `temporal-order` (paper Fig. 7): success rate against sequence length for SGD, SGD-C and
 * SGD-CR under the three initialisations; 50 hidden units, minibatch 20, lr 0.01, clip 1.0,
 * α 4 (ICML; the authors' code has 2) with the code's Ω (mean over time and batch; `--omega paper`
 * for the ICML sum over time); success = under 1% error on 10,000 fresh sequences.
 */

import type { Block, ReportDoc } from '../core/report-types.js';
import type { ExperimentDef, Plan, PlanOptions, Profile, ReportInput, ResultLine } from '../core/types.js';
import { lineChart, PALETTE } from '../report/charts.js';
import { tracedRun, trainingFigures } from '../report/training.js';
import {
  type CheckEvery,
  checkFloorOf,
  DEFAULT_CHECK_EVERY,
  INITS,
  METHODS,
  runSynthetic,
  type SyntheticRunConfig,
  type SyntheticRunResult,
} from '../training/train-synthetic.js';
import { syntheticBatchKey, trainSyntheticBatched } from '../training/train-synthetic-batched.js';

interface Settings {
  lengths: number[];
  seeds: number;
  maxUpdates: number;
  checkSize: number;
  traceEvery: number;
}

const SETTINGS: Record<Profile, Settings> = {
  quick: { lengths: [10, 20], seeds: 1, maxUpdates: 1500, checkSize: 1000, traceEvery: 50 },
  paper: {
    lengths: [50, 100, 150, 200, 250],
    seeds: 5,
    maxUpdates: 5_000_000,
    checkSize: 1000,
    traceEvery: 5000,
  },
};

export const TEMPORAL_ORDER_OPTIONS = [
  {
    name: 'alpha',
    value: '<a>',
    description: "Ω weight α of SGD-CR: 4 (ICML, default) or 2 (the authors' code)",
  },
  {
    name: 'omega',
    value: '<variant>',
    description:
      "Ω averaged as in the authors' code ('code', default: mean over time and batch) or summed over time as in the ICML text ('paper')",
  },
  {
    name: 'check-every',
    value: '<n|p%>',
    description:
      'updates between checks on fresh sequences: a whole number N, or p% for the next check after max(50, ⌈p% of the updates so far⌉) (quick: 25); default 5%',
  },
  {
    name: 'lengths',
    value: '<list>',
    description: "comma-separated sequence lengths (default: the profile's)",
  },
  { name: 'updates', value: '<n>', description: "maximum updates per run (default: the profile's)" },
  {
    name: 'inits',
    value: '<list>',
    description: 'comma-separated initialisations: sigmoid, basic-tanh, smart-tanh',
  },
  { name: 'methods', value: '<list>', description: 'comma-separated methods: SGD, SGD-C, SGD-CR' },
  { name: 'eval-size', value: '<n>', description: 'fresh sequences in the success test (paper: 10,000)' },
];

export function listFlag<T extends string>(
  value: unknown,
  allowed: readonly T[],
  what: string,
): T[] | undefined {
  if (value === undefined) return undefined;
  const items = String(value)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T))
      throw new Error(`--${what}: '${item}' is not one of ${allowed.join(', ')}`);
  }
  return items as T[];
}

export function numberFlag(
  value: unknown,
  what: string,
  check: (n: number) => boolean,
  expected: string,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`--${what} expects ${expected}, got '${value}'`);
  return n;
}

export function lengthsFlag(value: unknown): number[] | undefined {
  if (value === undefined) return undefined;
  return String(value)
    .split(',')
    .map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 10)
        throw new Error(`--lengths expects whole numbers >= 10, got '${s}'`);
      return n;
    });
}

function wholeNumberFlag(value: unknown, what: string): number | undefined {
  return numberFlag(value, what, (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1');
}

export function evalSizeFlag(flags: PlanOptions['flags']): number {
  return wholeNumberFlag(flags['eval-size'], 'eval-size') ?? 10_000;
}

/** --updates: the most updates one run may take. */
export function updatesFlag(flags: PlanOptions['flags'], fallback: number): number {
  return wholeNumberFlag(flags.updates, 'updates') ?? fallback;
}

export function omegaFlags(flags: PlanOptions['flags']): { alpha: number; omega: 'paper' | 'code' } {
  const alpha = numberFlag(flags.alpha, 'alpha', (n) => n >= 0, 'a number >= 0') ?? 4;
  const omega = flags.omega ?? 'code';
  if (omega !== 'paper' && omega !== 'code')
    throw new Error(`--omega expects 'paper' or 'code', got '${omega}'`);
  return { alpha, omega };
}

/**
 * --check-every: a whole number N ≥ 1 (a check every N updates) or a percentage p% with
 * 0 < p ≤ 100 (a relative schedule); default 5%.
 */
export function checkEveryFlag(flags: PlanOptions['flags']): CheckEvery {
  const value = flags['check-every'];
  if (value === undefined) return DEFAULT_CHECK_EVERY;
  const text = String(value).trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const p = Number(percent[1]);
    if (p > 0 && p <= 100) return `${p}%`;
  } else if (/^\d+$/.test(text) && Number(text) >= 1) {
    return Number(text);
  }
  throw new Error(
    `--check-every expects a whole number of updates >= 1 (for example 1000) or a percentage above 0% and at most 100% (for example 5%), got '${value}'`,
  );
}

/** The schedule in words: 'every 1,000 updates' or 'after max(50, ⌈5% of the update count⌉) more updates'. */
export function checkScheduleText(c: { checkEvery: CheckEvery; checkFloor?: number }): string {
  return typeof c.checkEvery === 'number'
    ? `every ${c.checkEvery.toLocaleString('en-US')} updates`
    : `each after max(${c.checkFloor ?? checkFloorOf(true)}, ⌈${c.checkEvery} of the updates so far⌉) more updates`;
}

/**
 * What each check draws and how success is decided, in words (older results, with a fixed
 * probe set and no recorded schedule, say so).
 */
export function checkProtocolText(c: {
  checkEvery: CheckEvery;
  checkFloor?: number;
  checkSize: number;
  evalSize: number;
}): string {
  const n = (x: number) => x.toLocaleString('en-US');
  if (c.checkFloor === undefined)
    return `checks every ${n(c.checkEvery as number)} updates on a fixed set of ${n(c.checkSize)} sequences, success = error < 1% on ${n(c.evalSize)} fixed fresh sequences`;
  return (
    `checks ${checkScheduleText(c)}, each drawing ${n(c.checkSize)} new sequences from a stream separate from training; ` +
    `where under 1% of them are wrong, ${n(c.evalSize)} further new sequences decide: success = error < 1% on them`
  );
}

/** Ω's variant in words. */
export function omegaText(omega: 'paper' | 'code'): string {
  return omega === 'code'
    ? "Ω as in the authors' code (mean over time and batch)"
    : 'Ω as in the ICML text (sum over time, mean over batch)';
}

function plan(options: PlanOptions): Plan {
  const s = SETTINGS[options.profile];
  const { alpha, omega } = omegaFlags(options.flags);
  const lengths = lengthsFlag(options.flags.lengths) ?? s.lengths;
  const maxUpdates = updatesFlag(options.flags, s.maxUpdates);
  const inits = listFlag(options.flags.inits, INITS, 'inits') ?? [...INITS];
  const methods = listFlag(options.flags.methods, METHODS, 'methods') ?? [...METHODS];
  const seeds = options.seeds ?? s.seeds;
  const base = {
    task: 'temporal-order' as const,
    hidden: 50,
    batch: 20,
    lr: 0.01,
    clip: 1,
    alpha,
    omega,
    maxUpdates,
    checkEvery: checkEveryFlag(options.flags),
    checkFloor: checkFloorOf(options.profile === 'paper'),
    checkSize: Math.min(s.checkSize, evalSizeFlag(options.flags)),
    evalSize: evalSizeFlag(options.flags),
    traceEvery: Math.max(5, Math.min(s.traceEvery, Math.floor(maxUpdates / 20))),
  };
  const runs = [];
  for (const init of inits) {
    for (const length of lengths) {
      for (const method of methods) {
        for (let seed = 0; seed < seeds; seed++) {
          const config: SyntheticRunConfig = { ...base, method, init, minLength: length, maxLength: length };
          runs.push({ key: `${method}/${init}/L${length}`, seed, config });
        }
      }
    }
  }
  return { protocol: { ...base, lengths, inits, methods, seeds }, runs };
}

const cfg = (l: ResultLine) => l.config as SyntheticRunConfig;
const res = (l: ResultLine) => l.result as SyntheticRunResult;

export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length === 0 ? Number.NaN : v[Math.floor((v.length - 1) / 2)];
}

/** "k/n" successes and the median updates of the successful runs. */
export function successCell(lines: ResultLine[]): string {
  if (lines.length === 0) return '–';
  const ok = lines.filter((l) => res(l).success);
  const upd = ok.length
    ? `, median ${median(ok.map((l) => res(l).updates)).toLocaleString('en-US')} updates`
    : '';
  const div = lines.filter((l) => res(l).diverged).length;
  return `${ok.length}/${lines.length}${upd}${div ? `, ${div} diverged` : ''}`;
}

function protocolOf(lines: ResultLine[], profile: string): string {
  const first = lines[0] ? cfg(lines[0]) : undefined;
  return first
    ? `${profile} profile: temporal order, ${first.hidden} hidden, minibatch ${first.batch}, SGD lr ${first.lr}, clip ${first.clip}, ` +
        `α ${first.alpha}, ${omegaText(first.omega)}, at most ${first.maxUpdates.toLocaleString('en-US')} updates, fixed length L per point; ` +
        checkProtocolText(first)
    : '';
}

function paperTable(lines: ResultLine[], profile: string): Block[] {
  const lengths = [...new Set(lines.map((l) => cfg(l).minLength))].sort((a, b) => a - b);
  const methods = METHODS.filter((m) => lines.some((l) => cfg(l).method === m));
  const rate = (m: string, L: number) => {
    const runs = lines.filter((l) => cfg(l).method === m && cfg(l).minLength === L);
    return `${runs.filter((l) => res(l).success).length}/${runs.length}`;
  };
  return [
    {
      kind: 'table',
      header: ['claim', 'paper (ICML 2013, Fig. 7)', 'ours (successes over all inits and seeds)'],
      rows: [
        [
          'clipping matters more as length grows; SGD-CR is the most reliable',
          'SGD fails at long lengths, SGD-C helps, SGD-CR succeeds most often (5 seeds per point, up to 5M updates, α 4)',
          methods.map((m) => `${m}: ${lengths.map((L) => `L=${L} ${rate(m, L)}`).join(', ')}`).join('\n'),
        ],
      ],
      caption: `Ours: ${protocolOf(lines, profile)}.`,
    },
  ];
}

/** "0.123" (3 significant digits), or '–' for no value. */
function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(3) : '–';
}

/**
 * Per init and L, medians over seeds: the fraction of updates clipped per method, and SGD-CR's
 * first-update ratio ‖α∇Ω‖ / ‖∇E‖.
 */
export function updateTable(lines: ResultLine[]): Block[] {
  const lengths = [...new Set(lines.map((l) => cfg(l).minLength))].sort((a, b) => a - b);
  const inits = INITS.filter((i) => lines.some((l) => cfg(l).init === i));
  const methods = METHODS.filter((m) => lines.some((l) => cfg(l).method === m));
  if (lines.length === 0) return [];
  const at = (init: string, L: number, m: string) =>
    lines.filter((l) => cfg(l).init === init && cfg(l).minLength === L && cfg(l).method === m);
  const medianOf = (runs: ResultLine[], value: (r: SyntheticRunResult) => number | null | undefined) =>
    median(
      runs.map((l) => value(res(l))).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)),
    );
  const withOmega = methods.includes('SGD-CR');
  const omega = withOmega ? cfg(lines.find((l) => cfg(l).method === 'SGD-CR')!).omega : undefined;
  return [
    {
      kind: 'table',
      header: [
        'init',
        'L',
        ...methods.map((m) => `${m}: clipped`),
        ...(withOmega ? ['SGD-CR: ‖α∇Ω‖ / ‖∇E‖ at update 1'] : []),
      ],
      rows: inits.flatMap((init) =>
        lengths.map((L) => [
          init,
          String(L),
          ...methods.map((m) => fmt(medianOf(at(init, L, m), (r) => r.clippedFraction))),
          ...(withOmega ? [fmt(medianOf(at(init, L, 'SGD-CR'), (r) => r.omegaRatio))] : []),
        ]),
      ),
      caption:
        'Medians over seeds. Clipped: the fraction of updates whose gradient norm was clipped (plain SGD never clips). ' +
        (withOmega
          ? `‖α∇Ω‖ / ‖∇E‖: the size of SGD-CR's Ω term (α·∂Ω/∂W_rec, ${omega ? omegaText(omega) : 'Ω'}) against the task-loss gradient over all parameters, both on the first minibatch before any update.`
          : ''),
    },
  ];
}

function headline(lines: ResultLine[]): string {
  const methods = METHODS.filter((m) => lines.some((l) => cfg(l).method === m));
  const lengths = [...new Set(lines.map((l) => cfg(l).minLength))].sort((a, b) => a - b);
  return (
    methods
      .map((m) => {
        const runs = lines.filter((l) => cfg(l).method === m);
        return `${m} ${runs.filter((l) => res(l).success).length}/${runs.length}`;
      })
      .join(', ') + ` solved (L ∈ {${lengths.join(', ')}})`
  );
}

function report(input: ReportInput): ReportDoc {
  const lines = input.lines;
  const lengths = [...new Set(lines.map((l) => cfg(l).minLength))].sort((a, b) => a - b);
  const inits = INITS.filter((i) => lines.some((l) => cfg(l).init === i));
  const methods = METHODS.filter((m) => lines.some((l) => cfg(l).method === m));
  const protocol = protocolOf(lines, input.profile);
  const blocks: Block[] = [
    {
      kind: 'text',
      markdown:
        'Fig. 7 of the paper: the fraction of runs that solve the temporal-order problem (under 1% error on 10,000 fresh sequences) ' +
        'against the sequence length, for plain SGD, SGD with gradient-norm clipping (SGD-C) and clipping plus the Ω regulariser (SGD-CR), ' +
        `under the three initialisations.\n\nProtocol: ${protocol}.`,
    },
  ];
  for (const init of inits) {
    blocks.push({
      kind: 'figure',
      figure: {
        id: `success-${init}`,
        title: `Success rate, ${init} initialisation`,
        svg: lineChart({
          title: `temporal order, ${init} init: success rate vs length`,
          height: 280,
          x: { label: 'sequence length L' },
          y: { label: 'success rate', domain: [-0.03, 1.05] },
          series: methods.map((m, i) => ({
            name: m,
            color: PALETTE[i],
            dots: true,
            points: lengths.map((L) => {
              const runs = lines.filter(
                (l) => cfg(l).init === init && cfg(l).method === m && cfg(l).minLength === L,
              );
              return [
                L,
                runs.length ? runs.filter((l) => res(l).success).length / runs.length : Number.NaN,
              ] as [number, number];
            }),
          })),
        }),
      },
    });
  }
  blocks.push({
    kind: 'table',
    header: ['init', 'L', ...methods],
    rows: inits.flatMap((init) =>
      lengths.map((L) => [
        init,
        String(L),
        ...methods.map((m) =>
          successCell(
            lines.filter((l) => cfg(l).init === init && cfg(l).method === m && cfg(l).minLength === L),
          ),
        ),
      ]),
    ),
    caption: 'Successful runs / runs, with the median number of updates to success.',
  });
  blocks.push(...updateTable(lines));
  blocks.push({ kind: 'heading', text: 'The paper beside ours' }, ...paperTable(lines, input.profile));
  const longest = lengths[lengths.length - 1];
  // traces: the longest length, seed 0, each method, for the first init with data
  for (const init of inits) {
    const runs = methods
      .map((m) =>
        lines.find(
          (l) => cfg(l).init === init && cfg(l).method === m && cfg(l).minLength === longest && l.seed === 0,
        ),
      )
      .filter((l): l is ResultLine => l !== undefined);
    if (runs.length === 0) continue;
    blocks.push({ kind: 'heading', text: `Training traces: ${init} init, L = ${longest}, seed 0` });
    blocks.push(
      ...trainingFigures(
        `trace-${init}-L${longest}`,
        `${init}, L=${longest}`,
        runs.map((l) => tracedRun(l, cfg(l).method)),
      ),
    );
  }
  if (input.missing.length) {
    blocks.push({
      kind: 'text',
      markdown: `Runs without a result yet: ${input.missing.length} (re-run the command to finish them).`,
    });
  }
  return { title: 'temporal-order: success rate against sequence length (Fig. 7)', blocks };
}

export const temporalOrder: ExperimentDef = {
  name: 'temporal-order',
  title: 'Temporal order: SGD vs SGD-C vs SGD-CR across lengths and initialisations',
  summary:
    'paper Fig. 7: success rate vs length for SGD / SGD-C / SGD-CR under sigmoid, basic-tanh, smart-tanh',
  paperRef: 'Fig. 7',
  budgets: {
    quick: '3 methods × 3 inits × L ∈ {10, 20} × 1 seed, ≤ 1,500 updates each: a few minutes on 2 cores',
    paper:
      '3 × 3 × L ∈ {50..250} × 5 seeds = 225 runs, ≤ 5M updates each (10^5–10^6 typical): days on 2 cores; shard it',
  },
  options: TEMPORAL_ORDER_OPTIONS,
  plan,
  execute: (run, ctx) => runSynthetic(run.config as SyntheticRunConfig, run.seed, ctx),
  // --ensemble: runs of one unit type and length L train together in one batched trainer
  batchKey: (run, mixed) => syntheticBatchKey(run.config as SyntheticRunConfig, mixed),
  executeBatched: (runs, options) => trainSyntheticBatched(runs, options),
  report,
  headline,
  paperTable,
  summarizeResult: (r) => {
    const s = r as SyntheticRunResult;
    const ratio =
      typeof s.omegaRatio === 'number' ? `, ‖α∇Ω‖/‖∇E‖ ${s.omegaRatio.toPrecision(3)} at update 1` : '';
    const checks = s.checks === undefined ? '' : `, ${s.checks} checks (${s.checkEvery})`;
    return `${s.success ? 'success' : s.diverged ? 'diverged' : 'no success'} after ${s.updates} updates, error ${(100 * s.finalError).toFixed(1)}%, ${(100 * s.clippedFraction).toFixed(1)}% clipped${ratio}${checks} [${s.implementation}]`;
  },
};
