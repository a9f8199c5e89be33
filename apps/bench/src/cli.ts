/** Argument parsing for `pnpm bench` (the work is in bench.ts). */
import { Command, InvalidArgumentError } from 'commander';
import { type BenchOptions, runBench } from './node/bench.js';

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

function nonNegativeInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be an integer >= 0, got "${v}"`);
    return n;
  };
}

export function benchCommand(): Command {
  return new Command('bench')
    .description(
      "Benchmark cliffguard's RNN training step across tfjs backends, against stock tfjs-layers and PyTorch.",
    )
    .option('--configs <names>', 'configs to run (P50,P100,P200,M,C,tiny or from --config-file)', list, [
      'P100',
    ])
    .option(
      '--config-file <path>',
      'JSON file adding configs (one object or an array)',
      (v, acc: string[]) => [...acc, v],
      [],
    )
    .option('--backends <names>', 'tfjs backends, each in its own process: cpu,wasm,webgpu', list, [
      'cpu',
      'wasm',
    ])
    .option('--impls <names>', 'implementations/stacks: reference,fused,tfjs-layers', list, [
      'reference',
      'fused',
      'tfjs-layers',
    ])
    .option('--methods <names>', 'training methods of the cliffguard stacks: SGD,SGD-C,SGD-CR', list, [
      'SGD',
      'SGD-C',
      'SGD-CR',
    ])
    .option(
      '--steps <n>',
      'timed steps per stack (default: adaptive, 5-50 within --budget)',
      positiveInt('--steps'),
    )
    .option('--warmup <n>', 'untimed steps after the first step', nonNegativeInt('--warmup'), 2)
    .option('--budget <seconds>', 'time budget for the timed steps of one config on one backend', Number, 3)
    .option('--seed <n>', 'seed of the weights and the batch', nonNegativeInt('--seed'), 1)
    .option('--out <path>', 'results JSON file (default: apps/bench/out/results.json)')
    .option('--markdown <path>', 'Markdown summary (default: --out with .md)')
    .option('--compare <previous.json>', 'print ratios against a previous results file')
    .option('--ensembles <R,...>', 'also run fused ensembles of R runs each (SGD-C), e.g. 1,4,16', list, [])
    .option(
      '--ensemble-paths <paths>',
      'how webgpu ensembles step: persistent (3 dispatches a step), multi-dispatch (the programs before it: fused-ensemble-multi rows), or both',
      list,
      ['persistent'],
    )
    .option('--peer <name>', 'also run the same shapes in a peer framework: pytorch')
    .option('--peer-threads <n,...>', 'thread counts for the peer', list, ['1'])
    .option('--no-progress', 'no progress bar')
    .option('--no-relaxed-simd', 'do not pass --experimental-wasm-relaxed-simd to the backend processes')
    .action(async (opts: BenchOptions) => {
      process.exitCode = await runBench(opts);
    });
}

export async function main(argv: string[]): Promise<void> {
  try {
    await benchCommand().parseAsync(argv);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    process.exitCode = 2;
  }
}
