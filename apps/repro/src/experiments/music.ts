/**
 * `music` (paper Table 1): the polyphonic music sets (Piano-midi.de, Nottingham, MuseData; JSB
 * Chorales as a bonus), SGD / SGD-C / SGD-CR, negative log-likelihood per time step.
 */
import type { Block, ReportDoc } from '../core/report-types.js';
import type { ExperimentDef, Plan, PlanOptions, Profile, ReportInput, ResultLine } from '../core/types.js';
import { type NaturalRunConfig, type NaturalRunResult, runNatural } from '../training/train-natural.js';
import { epochFigures, naturalTraces, table1Blocks } from './natural-report.js';
import { describeNatural, NATURAL_OPTIONS, type NaturalSettings, naturalFlags } from './natural-settings.js';
import { listFlag } from './temporal-order.js';

export const MUSIC_SETS = ['piano-midi', 'nottingham', 'musedata', 'jsb'] as const;
const LABEL: Record<string, string> = {
  'piano-midi': 'Piano-midi.de',
  nottingham: 'Nottingham',
  musedata: 'MuseData',
  jsb: 'JSB Chorales (bonus)',
};

const PAPER_SETUP =
  'sigmoid RNN, 300 hidden (400 MuseData), 200-step sequences, clip 8 on the mean-over-time gradient, lr 1.0 (0.5 MuseData) halved when the epoch error rises, α from 0.5 with a 1/t schedule';

// The lr halves at every rise of the validation error, so late epochs improve it by 1e-4 relative
// and a run would go on to the epoch cap at a negligible lr (JSB, SGD-CR: 50 epochs, lr 1/512).
const MIN_IMPROVEMENT = 0.001;

const SETTINGS: Record<Profile, NaturalSettings> = {
  quick: {
    hidden: 32,
    steps: 50,
    batch: 8,
    epochs: 3,
    patience: 2,
    minImprovement: MIN_IMPROVEMENT,
    trainLimit: 60,
    evalLimit: 20,
    seeds: 1,
  },
  // The paper gives no minibatch size: one 200-step sequence per update. At 16 a Piano-midi.de
  // epoch is 27 updates, and SGD's validation NLL was still 10.9 after 27 epochs (lr halved to 1/16).
  paper: {
    hidden: 300,
    steps: 200,
    batch: 1,
    epochs: 50,
    patience: 3,
    minImprovement: MIN_IMPROVEMENT,
    trainLimit: 0,
    evalLimit: 0,
    seeds: 1,
  },
};

const BUDGET = { runs: 12, unit: 'pieces', window: 'windows (whole pieces at evaluation)' } as const;

function plan(options: PlanOptions): Plan {
  const s = SETTINGS[options.profile];
  const { epochs, seeds, trainLimit, evalLimit, patience, omega, batch } = naturalFlags(options, s);
  const sets = listFlag(options.flags.sets, MUSIC_SETS, 'sets') ?? [...MUSIC_SETS];
  const runs = [];
  for (const set of sets) {
    for (const method of ['SGD', 'SGD-C', 'SGD-CR'] as const) {
      const config: NaturalRunConfig = {
        data: 'music',
        set,
        method,
        hidden: set === 'musedata' && options.profile === 'paper' ? 400 : s.hidden,
        batch,
        steps: s.steps,
        lr: set === 'musedata' ? 0.5 : 1.0,
        clip: 8,
        alpha: 0.5,
        alphaDecay: true,
        halveOnRise: true,
        omega,
        epochs,
        patience,
        minImprovement: s.minImprovement,
        trainLimit,
        evalLimit,
        paperSetup: PAPER_SETUP,
      };
      for (let seed = 0; seed < seeds; seed++) runs.push({ key: `${set}/${method}`, seed, config });
    }
  }
  return { protocol: { ...s, batch, trainLimit, evalLimit, epochs, patience, omega, sets, seeds }, runs };
}

const cfg = (l: ResultLine) => l.config as NaturalRunConfig;

const TABLE_KEYS = MUSIC_SETS.map((set) => ({
  key: set,
  label: LABEL[set],
  match: (l: ResultLine) => cfg(l).set === set,
}));

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
    title: 'music: polyphonic music, NLL per time step (Table 1)',
    blocks: [
      {
        kind: 'text',
        markdown:
          'Negative log-likelihood per time step (88 Bernoulli notes, summed over notes, mean over steps) of a sigmoid RNN ' +
          'predicting the next step of piano rolls, trained with SGD, SGD-C and SGD-CR.',
      },
      ...paperTable(lines, input.profile),
      ...epochFigures('music-epochs', 'music', lines, (l) => `${cfg(l).set}, ${cfg(l).method}`),
      ...naturalTraces(
        'music-nottingham',
        'Nottingham',
        lines.filter((l) => cfg(l).set === 'nottingham' && l.seed === 0),
      ),
    ],
  };
}

export const music: ExperimentDef = {
  name: 'music',
  title: 'Polyphonic music',
  summary:
    'paper Table 1: Piano-midi.de, Nottingham, MuseData (+ JSB Chorales), SGD / SGD-C / SGD-CR, NLL per step',
  paperRef: 'Table 1 (music)',
  budgets: {
    quick: describeNatural(SETTINGS.quick, { ...BUDGET, hidden: '32', time: 'a few minutes' }),
    paper: describeNatural(SETTINGS.paper, {
      ...BUDGET,
      hidden: '300 (MuseData 400)',
      time: 'about 4 h on one core',
    }),
  },
  options: [
    ...NATURAL_OPTIONS,
    { name: 'sets', value: '<list>', description: `comma-separated sets: ${MUSIC_SETS.join(', ')}` },
    { name: 'train-limit', value: '<n>', description: 'train on the first n pieces only (0 = all)' },
    {
      name: 'eval-limit',
      value: '<n>',
      description: 'evaluate on the first n pieces of each split (0 = all)',
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
