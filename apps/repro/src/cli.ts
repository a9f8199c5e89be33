#!/usr/bin/env node
/** Command-line parsing only: each command calls into commands.ts / tour.ts. */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  describeExperiments,
  mergeCommand,
  relativePath,
  reportCommand,
  runExperiment,
  shardFiles,
} from './commands.js';
import { parseCheckpointEvery } from './core/durations.js';
import { parseShard } from './core/ids.js';
import { defaultOutDir, experimentPaths, resolveDataDir } from './core/paths.js';
import { PROFILES, type Profile } from './core/types.js';
import { EXPERIMENTS } from './experiments/registry.js';
import { BACKENDS, parseBackend } from './runner/backend.js';

/** pnpm runs scripts in the package folder; paths the user typed are relative to where they typed them. */
const userCwd = process.env.INIT_CWD ?? process.cwd();
const userPath = (p: string) => resolve(userCwd, p);

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`${name} expects a whole number >= 0, got '${v}'`);
  return n;
};

/** --ensemble: a whole number of slots >= 1, or 0 / off. */
function parseEnsemble(v: string): number {
  if (v.trim().toLowerCase() === 'off') return 0;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(
      `--ensemble expects the runs per batched trainer (a whole number >= 1), or 0 / off; got '${v}'`,
    );
  return n;
}

interface CommonFlags {
  profile: Profile;
  backend: string;
  out: string;
  seeds?: number;
  workers?: number;
  ensemble?: number;
  shard?: string;
  data?: string;
  checkpointEvery: number;
  [flag: string]: unknown;
}

function addCommon(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--profile <profile>', 'quick (minutes, shortened) or paper (the full protocol)')
        .choices(PROFILES)
        .default('quick'),
    )
    .addOption(
      new Option('--backend <backend>', 'tfjs backend of every worker').choices(BACKENDS).default('wasm'),
    )
    .option('--out <dir>', 'results folder', defaultOutDir)
    .option('--seeds <n>', "seeds per configuration (default: the profile's)", positiveInt('--seeds'))
    .option(
      '--workers <n>',
      'worker threads (default: one per core; 0 = run in this thread)',
      positiveInt('--workers'),
    )
    .option(
      '--ensemble <R>',
      'train the runs that can share one (temporal-order: the same units and length) R at a time in batched trainers, in one thread; 0 or off: each run alone (default: 256 on webgpu, else off)',
      parseEnsemble,
    )
    .option('--shard <K/N>', 'run only the K-th (0-based) of N deterministic slices of the runs')
    .option(
      '--data <dir>',
      'data folder holding ptb/ and music/ (default $CLIFFGUARD_DATA or ../shared/data)',
    )
    .option(
      '--checkpoint-every <seconds>',
      'seconds between checkpoints of a run (a number, or with a unit: 30s, 5m, 1h)',
      (v: string) => {
        try {
          return parseCheckpointEvery(v);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      },
      30,
    );
}

function flagsOf(name: string, opts: CommonFlags): Record<string, string | number | boolean | undefined> {
  const def = EXPERIMENTS.find((e) => e.name === name);
  const flags: Record<string, string | number | boolean | undefined> = {};
  for (const o of def?.options ?? []) {
    const key = o.name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (opts[key] !== undefined) flags[o.name] = opts[key] as string;
  }
  return flags;
}

async function runNamed(name: string, opts: CommonFlags): Promise<boolean> {
  const outcome = await runExperiment(name, {
    profile: opts.profile,
    backend: parseBackend(opts.backend),
    out: userPath(opts.out),
    dataDir: resolveDataDir(opts.data ? userPath(opts.data) : undefined),
    seeds: opts.seeds,
    workers: opts.workers,
    ensemble: opts.ensemble,
    shard: opts.shard ? parseShard(opts.shard) : undefined,
    flags: flagsOf(name, opts),
    checkpointEverySeconds: opts.checkpointEvery,
  });
  if (outcome.report) console.log(`report: ${relativePath(outcome.report.html)} (and report.md beside it)`);
  const { failed, interrupted } = outcome.summary;
  if (interrupted > 0) {
    console.log(`stopped: ${interrupted} run(s) checkpointed; run the same command again to resume`);
    process.exitCode = 130;
    return false;
  }
  if (failed.length > 0) {
    console.error(`${failed.length} run(s) failed: ${failed.map((f) => f.runId).join(', ')}`);
    process.exitCode = 1;
    return false;
  }
  return true;
}

const program = new Command('repro')
  .description(
    "Reproduces Pascanu, Mikolov & Bengio (2013), 'On the difficulty of training recurrent neural networks'.",
  )
  .addHelpText(
    'after',
    `\n${describeExperiments()}\n\nResults: <out>/<experiment>/<profile>/results.jsonl, report in report/ beside it. Re-run the same command to resume.`,
  )
  .showHelpAfterError();

for (const def of EXPERIMENTS) {
  const cmd = addCommon(
    program
      .command(def.name)
      .description(`${def.summary}\n  quick: ${def.budgets.quick}\n  paper: ${def.budgets.paper}`),
  );
  for (const o of def.options ?? []) cmd.option(`--${o.name} ${o.value}`, o.description);
  cmd.action(async (opts: CommonFlags) => {
    await runNamed(def.name, opts);
  });
}

addCommon(program.command('all').description('every experiment in order (the same flags for all)')).action(
  async (opts: CommonFlags) => {
    for (const def of EXPERIMENTS) {
      if (!(await runNamed(def.name, opts))) return;
    }
  },
);

program
  .command('tour')
  .description(
    'the quick tour (pnpm start): cliff, a short SGD / SGD-C / SGD-CR comparison, one line of backend timing',
  )
  .addOption(new Option('--backend <backend>', 'tfjs backend').choices(BACKENDS).default('wasm'))
  .option('--out <dir>', 'results folder', defaultOutDir)
  .option('--workers <n>', 'worker threads', positiveInt('--workers'))
  .action(async (opts: { backend: string; out: string; workers?: number }) => {
    const { tour } = await import('./tour.js');
    await tour({ backend: parseBackend(opts.backend), out: userPath(opts.out), workers: opts.workers });
  });

program
  .command('time-step', { hidden: true })
  .description('time one training step (used by the tour, one process per backend)')
  .addOption(new Option('--backend <backend>').choices(BACKENDS).default('wasm'))
  .option('--implementation <name>', 'reference or fused', 'reference')
  .option('--length <n>', 'sequence length', positiveInt('--length'), 50)
  .option('--reps <n>', 'timed steps', positiveInt('--reps'), 20)
  .action(async (opts: { backend: string; implementation: string; length: number; reps: number }) => {
    const { measureStep } = await import('./timing.js');
    console.log(
      JSON.stringify(
        await measureStep(parseBackend(opts.backend), opts.implementation, opts.length, opts.reps),
      ),
    );
  });

program
  .command('merge')
  .description('combine shard result files into one (refuses duplicate runs and mismatched protocols)')
  .argument('[files...]', 'results*.jsonl files to merge')
  .option('-o, --output <file>', 'the merged file (default: results.jsonl beside the shards of --experiment)')
  .option('--experiment <name>', 'merge every results.shard-*.jsonl of this experiment under --out')
  .addOption(new Option('--profile <profile>').choices(PROFILES).default('quick'))
  .option('--out <dir>', 'results folder', defaultOutDir)
  .action(
    (files: string[], opts: { output?: string; experiment?: string; profile: Profile; out: string }) => {
      let inputs = files.map(userPath);
      let output = opts.output ? userPath(opts.output) : undefined;
      if (opts.experiment) {
        inputs = [...inputs, ...shardFiles(userPath(opts.out), opts.experiment, opts.profile)];
        output ??= experimentPaths(userPath(opts.out), opts.experiment, opts.profile).results;
      }
      if (!output) throw new Error('repro merge: give -o FILE or --experiment NAME');
      const { lines } = mergeCommand(inputs, output);
      console.log(`merged ${inputs.length} file(s), ${lines} runs -> ${relativePath(output)}`);
    },
  );

{
  const cmd = program
    .command('report')
    .description("re-render an experiment's report from its results file")
    .argument('<experiment>')
    .addOption(new Option('--profile <profile>').choices(PROFILES).default('quick'))
    .option('--out <dir>', 'results folder', defaultOutDir)
    .option('--seeds <n>', 'seeds per configuration, as used for the runs', positiveInt('--seeds'));
  const seen = new Set<string>();
  for (const def of EXPERIMENTS) {
    for (const o of def.options ?? []) {
      if (seen.has(o.name)) continue;
      seen.add(o.name);
      cmd.option(`--${o.name} ${o.value}`, `${o.description} (${def.name})`);
    }
  }
  cmd.action(async (name: string, opts: CommonFlags) => {
    const paths = await reportCommand(name, {
      profile: opts.profile,
      out: userPath(opts.out),
      seeds: opts.seeds,
      flags: flagsOf(name, opts),
    });
    console.log(`report: ${relativePath(paths.html)} (and report.md beside it)`);
  });
}

program.parseAsync(process.argv).catch((err: Error) => {
  console.error(`repro: ${err.message}`);
  process.exit(1);
});
