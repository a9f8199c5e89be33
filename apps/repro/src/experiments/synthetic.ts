/**
 * `synthetic` (paper section 6): the six pathological tasks with SGD-CR, success per task.
 * Paper: success everywhere except random permutation (2 of 5 runs); addition and
 * multiplication stay under 1% error at length 500.
 */
import type { TaskName } from '@cliffguard/datasets';
import type { Block, ReportDoc } from '../core/report-types.js';
import type { ExperimentDef, Plan, PlanOptions, Profile, ReportInput, ResultLine } from '../core/types.js';
import { tracedRun, trainingFigures } from '../report/training.js';
import {
  INITS,
  runSynthetic,
  type SyntheticRunConfig,
  type SyntheticRunResult,
  sgdCrRunConfig,
} from '../training/train-synthetic.js';
import {
  checkEveryFlag,
  checkProtocolText,
  evalSizeFlag,
  listFlag,
  omegaFlags,
  omegaText,
  TEMPORAL_ORDER_OPTIONS,
  updatesFlag,
} from './temporal-order.js';

export const SYNTHETIC_TASKS: readonly TaskName[] = [
  'temporal-order',
  'temporal-order-3bit',
  'addition',
  'multiplication',
  'random-permutation',
  'memorization',
];

/** The paper's outcome per task (section 6): successes out of 5 runs. */
const PAPER: Record<string, string> = {
  'temporal-order': '5/5',
  'temporal-order-3bit': '5/5',
  addition: '5/5; under 1% error at L = 500',
  multiplication: '5/5; under 1% error at L = 500',
  'random-permutation': '2/5',
  memorization: '5/5',
};

const SETTINGS: Record<Profile, { minLength: number; maxLength: number; seeds: number; maxUpdates: number }> =
  {
    quick: { minLength: 10, maxLength: 20, seeds: 1, maxUpdates: 1500 },
    paper: { minLength: 50, maxLength: 200, seeds: 5, maxUpdates: 5_000_000 },
  };

function plan(options: PlanOptions): Plan {
  const s = SETTINGS[options.profile];
  const { alpha, omega } = omegaFlags(options.flags);
  const maxUpdates = updatesFlag(options.flags, s.maxUpdates);
  const tasks = listFlag(options.flags.tasks, SYNTHETIC_TASKS, 'tasks') ?? [...SYNTHETIC_TASKS];
  const [init] = listFlag(options.flags.inits, INITS, 'inits') ?? ['smart-tanh'];
  const evalSize = evalSizeFlag(options.flags);
  const checkEvery = checkEveryFlag(options.flags);
  const seeds = options.seeds ?? s.seeds;
  const runs = [];
  for (const task of tasks) {
    const regression = task === 'addition' || task === 'multiplication';
    const config: SyntheticRunConfig = {
      ...sgdCrRunConfig({
        task,
        init,
        alpha,
        omega,
        minLength: s.minLength,
        maxLength: s.maxLength,
        maxUpdates,
        evalSize,
        paperProfile: options.profile === 'paper',
        checkEvery,
      }),
      ...(regression
        ? { testLengths: [options.profile === 'paper' ? 500 : 50], testSize: Math.min(evalSize, 10_000) }
        : {}),
    };
    for (let seed = 0; seed < seeds; seed++) runs.push({ key: `${task}/SGD-CR/${init}`, seed, config });
  }
  return {
    protocol: {
      tasks,
      init,
      alpha,
      omega,
      maxUpdates,
      evalSize,
      checkEvery,
      seeds,
      lengths: [s.minLength, s.maxLength],
    },
    runs,
  };
}

const cfg = (l: ResultLine) => l.config as SyntheticRunConfig;
const res = (l: ResultLine) => l.result as SyntheticRunResult;

function protocolOf(lines: ResultLine[], profile: string): string {
  const c = lines[0] ? cfg(lines[0]) : undefined;
  return c
    ? `${profile} profile: SGD-CR, ${c.init}, ${c.hidden} hidden, lengths ${c.minLength}..${c.maxLength}, lr ${c.lr}, clip ${c.clip}, ` +
        `α ${c.alpha}, ${omegaText(c.omega)}, at most ${c.maxUpdates.toLocaleString('en-US')} updates; ${checkProtocolText(c)}`
    : '';
}

function paperTable(lines: ResultLine[], profile: string): Block[] {
  const protocol = protocolOf(lines, profile);
  const tasks = SYNTHETIC_TASKS.filter((t) => lines.some((l) => cfg(l).task === t));
  return [
    {
      kind: 'table',
      header: [
        'task',
        'paper (SGD-CR, 5 seeds, lengths 50..200)',
        'ours: successes',
        'ours: final error per seed',
        'ours: longer test',
      ],
      rows: tasks.map((t) => {
        const runs = lines.filter((l) => cfg(l).task === t);
        return [
          t,
          PAPER[t],
          `${runs.filter((l) => res(l).success).length}/${runs.length}`,
          runs.map((l) => `${(100 * res(l).finalError).toFixed(1)}%`).join(', '),
          runs
            .flatMap((l) =>
              (res(l).testErrors ?? []).map((e) => `L=${e.length}: ${(100 * e.error).toFixed(1)}%`),
            )
            .join(', ') || '–',
        ];
      }),
      caption: `Ours: ${protocol}. Errors: classification = argmax mismatch (memorisation: any step), regression = squared error > 0.04.`,
    },
  ];
}

function headline(lines: ResultLine[]): string {
  return SYNTHETIC_TASKS.filter((t) => lines.some((l) => cfg(l).task === t))
    .map((t) => {
      const runs = lines.filter((l) => cfg(l).task === t);
      return `${t} ${runs.filter((l) => res(l).success).length}/${runs.length}`;
    })
    .join(', ');
}

function report(input: ReportInput): ReportDoc {
  const lines = input.lines;
  const c = lines[0] ? cfg(lines[0]) : undefined;
  const protocol = c
    ? `${input.profile} profile: SGD-CR, ${c.init}, ${c.hidden} hidden, lengths ${c.minLength}..${c.maxLength}, lr ${c.lr}, clip ${c.clip}, ` +
      `α ${c.alpha}, ${omegaText(c.omega)}, at most ${c.maxUpdates.toLocaleString('en-US')} updates; ${checkProtocolText(c)}`
    : '';
  const tasks = SYNTHETIC_TASKS.filter((t) => lines.some((l) => cfg(l).task === t));
  const blocks: Block[] = [
    {
      kind: 'text',
      markdown: `The six pathological tasks of Hochreiter & Schmidhuber (1997) with SGD-CR.\n\nProtocol: ${protocol}.`,
    },
    ...paperTable(lines, input.profile),
  ];
  for (const t of tasks) {
    const first = lines.find((l) => cfg(l).task === t && l.seed === 0);
    if (!first) continue;
    blocks.push({ kind: 'heading', text: `${t}: training trace (seed 0)` });
    blocks.push(...trainingFigures(`trace-${t}`, t, [tracedRun(first, 'SGD-CR')]));
  }
  return { title: 'synthetic: the six pathological tasks with SGD-CR', blocks };
}

export const synthetic: ExperimentDef = {
  name: 'synthetic',
  title: 'The six synthetic tasks with SGD-CR',
  summary:
    'paper section 6: temporal order (2 and 3 bit), addition, multiplication, random permutation, memorisation with SGD-CR',
  paperRef: 'section 6 (other tasks)',
  budgets: {
    quick: '6 tasks × 1 seed, lengths 10..20, ≤ 1,500 updates: several minutes on 2 cores',
    paper: '6 tasks × 5 seeds, lengths 50..200, ≤ 5M updates: days on 2 cores; shard it',
  },
  options: [
    ...TEMPORAL_ORDER_OPTIONS.filter((o) =>
      ['alpha', 'omega', 'updates', 'eval-size', 'check-every'].includes(o.name),
    ),
    { name: 'tasks', value: '<list>', description: `comma-separated tasks: ${SYNTHETIC_TASKS.join(', ')}` },
    { name: 'inits', value: '<list>', description: 'initialisation (first of the list; default smart-tanh)' },
  ],
  plan,
  execute: (run, ctx) => runSynthetic(run.config as SyntheticRunConfig, run.seed, ctx),
  report,
  headline,
  paperTable,
  summarizeResult: (r) => {
    const s = r as SyntheticRunResult;
    return `${s.success ? 'success' : 'no success'} after ${s.updates} updates, error ${(100 * s.finalError).toFixed(1)}%`;
  },
};
