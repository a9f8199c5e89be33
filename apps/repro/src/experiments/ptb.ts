/**
 * `ptb` (paper Table 1): character-level Penn Treebank, next character and 5th character ahead,
 * SGD / SGD-C / SGD-CR, bits per character on train and test.
 */
import type { Block, ReportDoc } from '../core/report-types.js';
import type { ExperimentDef, Plan, PlanOptions, Profile, ReportInput, ResultLine } from '../core/types.js';
import { type NaturalRunConfig, type NaturalRunResult, runNatural } from '../training/train-natural.js';
import { epochFigures, naturalTraces, table1Blocks } from './natural-report.js';
import { describeNatural, NATURAL_OPTIONS, type NaturalSettings, naturalFlags } from './natural-settings.js';

const PAPER_SETUP =
  '500 sigmoid units, 200-step segments with the state carried, clip 45 on the summed cost, lr 0.01 (SGD-C) / 0.05 (SGD-CR), α ≈ 0.01';

const SETTINGS: Record<Profile, NaturalSettings> = {
  quick: {
    hidden: 64,
    steps: 50,
    batch: 32,
    epochs: 3,
    patience: 2,
    trainLimit: 200_000,
    evalLimit: 50_000,
    seeds: 1,
  },
  paper: {
    hidden: 500,
    steps: 200,
    batch: 32,
    epochs: 10,
    patience: 2,
    trainLimit: 0,
    evalLimit: 0,
    seeds: 1,
  },
};

const BUDGET = { runs: 5, unit: 'symbols', window: 'segments (state carried)' } as const;

function plan(options: PlanOptions): Plan {
  const s = SETTINGS[options.profile];
  const { epochs, seeds, trainLimit, evalLimit, patience, omega, batch } = naturalFlags(options, s);
  // The paper's lr and threshold apply to the cost summed over the T steps of a segment; our loss
  // is the mean over (batch, time), so lr × T, threshold / T and α / T give the same updates.
  const T = s.steps;
  const runs = [];
  for (const ahead of [1, 5]) {
    for (const method of ahead === 1
      ? (['SGD', 'SGD-C', 'SGD-CR'] as const)
      : (['SGD-C', 'SGD-CR'] as const)) {
      const config: NaturalRunConfig = {
        data: 'ptb',
        ahead,
        method,
        hidden: s.hidden,
        batch,
        steps: T,
        lr: (method === 'SGD-CR' ? 0.05 : 0.01) * T,
        clip: 45 / T,
        alpha: 0.01 / T,
        alphaDecay: false,
        halveOnRise: true,
        omega,
        epochs,
        patience,
        trainLimit,
        evalLimit,
        paperSetup: PAPER_SETUP,
      };
      for (let seed = 0; seed < seeds; seed++) runs.push({ key: `ahead${ahead}/${method}`, seed, config });
    }
  }
  return { protocol: { ...s, batch, trainLimit, evalLimit, epochs, patience, omega, seeds }, runs };
}

const cfg = (l: ResultLine) => l.config as NaturalRunConfig;

const TABLE_KEYS = [
  { key: 'ptb-1', label: 'PTB, next char', match: (l: ResultLine) => cfg(l).ahead === 1 },
  { key: 'ptb-5', label: 'PTB, 5th char ahead', match: (l: ResultLine) => cfg(l).ahead === 5 },
];

function paperTable(lines: ResultLine[], profile: string): Block[] {
  return table1Blocks(lines, TABLE_KEYS, profile);
}

function headline(lines: ResultLine[]): string {
  const r = (l: ResultLine) => l.result as NaturalRunResult;
  const metric = lines[0] ? ` (${r(lines[0]).metric})` : '';
  return `test${metric}: ${lines.map((l) => `${l.runId.split(':')[1]} ${r(l).test}`).join(', ')}`;
}

function report(input: ReportInput): ReportDoc {
  const lines = input.lines;
  return {
    title: 'ptb: character-level Penn Treebank (Table 1)',
    blocks: [
      {
        kind: 'text',
        markdown:
          'Bits per character of a sigmoid RNN predicting the next character, and the 5th character ahead, of character-level PTB, ' +
          "trained with SGD, SGD-C and SGD-CR. The paper's lr and clip threshold apply to the cost summed over a segment's steps; " +
          'ours is the mean over (batch, time), so we use lr × T, threshold / T and α / T (the same updates if "summed" means over time).',
      },
      ...paperTable(lines, input.profile),
      ...epochFigures('ptb-epochs', 'PTB', lines, (l) => `ahead ${cfg(l).ahead}, ${cfg(l).method}`),
      ...naturalTraces(
        'ptb-next',
        'PTB next char',
        lines.filter((l) => cfg(l).ahead === 1 && l.seed === 0),
      ),
    ],
  };
}

export const ptb: ExperimentDef = {
  name: 'ptb',
  title: 'Character-level Penn Treebank',
  summary:
    'paper Table 1: char-level PTB (next char, 5th char ahead), SGD / SGD-C / SGD-CR, bits per character',
  paperRef: 'Table 1 (PTB)',
  budgets: {
    quick: describeNatural(SETTINGS.quick, { ...BUDGET, hidden: '64', time: 'a few minutes' }),
    paper: describeNatural(SETTINGS.paper, {
      ...BUDGET,
      hidden: '500',
      time: 'about 15 min an epoch per run on one core',
    }),
  },
  options: [
    ...NATURAL_OPTIONS,
    { name: 'train-limit', value: '<n>', description: 'train on the first n symbols only (0 = all)' },
    {
      name: 'eval-limit',
      value: '<n>',
      description: 'evaluate on the first n symbols of each split (0 = all)',
    },
  ],
  plan,
  execute: (run, ctx) => runNatural(run.config as NaturalRunConfig, run.seed, ctx),
  report,
  headline,
  paperTable,
  summarizeResult: (r) => {
    const s = r as NaturalRunResult;
    return `train ${s.train} / test ${s.test} ${s.metric} after ${s.updates} updates`;
  },
};
