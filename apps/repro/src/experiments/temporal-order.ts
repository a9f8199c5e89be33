/**
 * `temporal-order` (paper Fig. 7): success rate against sequence length for SGD, SGD-C and
 * SGD-CR under the three initialisations; 50 hidden units, minibatch 20, lr 0.01, clip 1.0,
 * α 4 (ICML) or 2 (the authors' code); success = under 1% error on 10,000 fresh sequences.
 */
import { lineChart, PALETTE } from '../report/charts.js';
import type { Block, ReportDoc } from '../report/doc.js';
import { tracedRun, trainingFigures } from '../report/training.js';
import {
  INITS,
  METHODS,
  runSynthetic,
  type SyntheticRunConfig,
  type SyntheticRunResult,
} from './train-synthetic.js';
import type { ExperimentDef, Plan, PlanOptions, Profile, ReportInput, ResultLine } from './types.js';

interface Settings {
  lengths: number[];
  seeds: number;
  maxUpdates: number;
  checkEvery: number;
  checkSize: number;
  traceEvery: number;
}

const SETTINGS: Record<Profile, Settings> = {
  quick: { lengths: [10, 20], seeds: 1, maxUpdates: 1500, checkEvery: 250, checkSize: 1000, traceEvery: 50 },
  paper: {
    lengths: [50, 100, 150, 200, 250],
    seeds: 5,
    maxUpdates: 5_000_000,
    checkEvery: 1000,
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
    description: "Ω as in the ICML text ('paper', default) or the authors' code ('code')",
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
  const omega = flags.omega ?? 'paper';
  if (omega !== 'paper' && omega !== 'code')
    throw new Error(`--omega expects 'paper' or 'code', got '${omega}'`);
  return { alpha, omega };
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
    checkEvery: Math.min(s.checkEvery, maxUpdates),
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

function median(values: number[]): number {
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
        `α ${first.alpha} (Ω ${first.omega}), at most ${first.maxUpdates.toLocaleString('en-US')} updates, fixed length L per point, ` +
        `success = error < 1% on ${first.evalSize.toLocaleString('en-US')} fresh sequences`
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
  report,
  headline,
  paperTable,
  summarizeResult: (r) => {
    const s = r as SyntheticRunResult;
    return `${s.success ? 'success' : s.diverged ? 'diverged' : 'no success'} after ${s.updates} updates, error ${(100 * s.finalError).toFixed(1)}% [${s.implementation}]`;
  },
};
