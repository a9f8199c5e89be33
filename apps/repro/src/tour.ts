/**
 * The quick tour (`pnpm start`): the cliff of Fig. 6, a short temporal-order comparison of
 * SGD / SGD-C / SGD-CR, and one line of backend timing; ends with the report's path.
 */
import { join } from 'node:path';
import { canonicalCommand, relativePath, runExperiment } from './commands.js';
import { resolveDataDir } from './core/paths.js';
import type { Block } from './core/report-types.js';
import type { ResultLine } from './core/types.js';
import { cliff } from './experiments/cliff.js';
import { successCell, temporalOrder } from './experiments/temporal-order.js';
import { writeReport } from './report/doc.js';
import type { BackendName } from './runner/backend.js';
import { type StepTiming, timeBackends, timingLine } from './timing.js';
import { loadFused } from './training/implementations.js';

export const TOUR_TEMPORAL_ORDER: Record<string, string> = {
  lengths: '20',
  inits: 'smart-tanh',
  updates: '3000',
};

export async function tour(options: {
  backend: BackendName;
  out: string;
  workers?: number;
}): Promise<string> {
  const out = join(options.out, 'tour');
  const common = {
    profile: 'quick' as const,
    backend: options.backend,
    out,
    dataDir: resolveDataDir(),
    workers: options.workers,
    checkpointEverySeconds: 30,
  };
  console.log('cliffguard tour: Pascanu, Mikolov & Bengio (2013) in three steps\n');
  console.log('1/3 the cliff (Fig. 6): one neuron, SGD vs clipped SGD from the same start');
  const c = await runExperiment('cliff', { ...common, flags: {}, log: () => {} });
  const fig = (m: string) =>
    c.lines.find((l) => l.config.method === m && l.seed === 0)?.result as
      | { maxStep: number; final: { error: number } }
      | undefined;
  const sgd = fig('SGD');
  const sgdc = fig('SGD-C');
  if (sgd && sgdc) {
    console.log(
      `    SGD: largest step ${sgd.maxStep.toFixed(2)} (off the wall), final error ${sgd.final.error.toExponential(1)}\n` +
        `    SGD-C: largest step ${sgdc.maxStep.toFixed(2)} (≤ lr × threshold), final error ${sgdc.final.error.toExponential(1)}`,
    );
  }
  console.log(
    '\n2/3 temporal order (Fig. 7), shortened: L = 20, smart-tanh init, ≤ 3,000 updates, one seed, SGD / SGD-C / SGD-CR',
  );
  // CLIFFGUARD_TOUR_UPDATES shortens the tour further (the test suite runs it on a tiny budget)
  const flags = process.env.CLIFFGUARD_TOUR_UPDATES
    ? { ...TOUR_TEMPORAL_ORDER, updates: process.env.CLIFFGUARD_TOUR_UPDATES, 'eval-size': '200' }
    : TOUR_TEMPORAL_ORDER;
  const t = await runExperiment('temporal-order', { ...common, flags, log: () => {} });
  for (const m of ['SGD', 'SGD-C', 'SGD-CR']) {
    console.log(`    ${m.padEnd(7)} ${successCell(t.lines.filter((l) => l.config.method === m))}`);
  }
  console.log('\n3/3 backend timing');
  const fused = await loadFused();
  const pairs: { backend: BackendName; implementation: string }[] = [
    { backend: 'cpu', implementation: 'reference' },
    { backend: 'wasm', implementation: 'reference' },
    ...(fused ? [{ backend: 'wasm' as BackendName, implementation: 'fused' }] : []),
  ];
  const timings = timeBackends(pairs, 50, Number(process.env.CLIFFGUARD_TOUR_REPS ?? 20));
  const line = timingLine(timings);
  console.log(`    ${line}`);

  const report = writeReport(
    {
      title: 'cliffguard tour: the cliff, clipping and Ω in a few minutes',
      blocks: tourBlocks(c.lines, t.lines, line, flags),
    },
    join(out, 'report'),
  );
  console.log(`\nreport: ${relativePath(report.html)} (and report.md beside it)`);
  return report.html;
}

function tourBlocks(
  cliffLines: ResultLine[],
  toLines: ResultLine[],
  timing: string,
  flags: Record<string, string>,
): Block[] {
  const cliffDoc = cliff.report({
    profile: 'quick',
    lines: cliffLines,
    missing: [],
    command: 'pnpm repro cliff',
  });
  const toDoc = temporalOrder.report({
    profile: 'quick',
    lines: toLines,
    missing: [],
    command: canonicalCommand('temporal-order', { profile: 'quick', flags }),
  });
  return [
    {
      kind: 'text',
      markdown:
        "Made by `pnpm start` (`pnpm repro tour`). Every number here is the quick profile's, a shortened protocol, not the paper's: " +
        'see `pnpm repro --help` for the full experiments.',
    },
    { kind: 'heading', text: '1. The cliff (paper Fig. 6)' },
    ...cliffDoc.blocks,
    { kind: 'heading', text: '2. Temporal order, shortened (paper Fig. 7)' },
    {
      kind: 'text',
      markdown: `Made by: \`${canonicalCommand('temporal-order', { profile: 'quick', flags })}\``,
    },
    ...toDoc.blocks.filter((b) => !(b.kind === 'figure' && b.figure.id.startsWith('success-'))),
    { kind: 'heading', text: '3. Backend timing' },
    { kind: 'text', markdown: timing },
  ];
}

export type { StepTiming };
