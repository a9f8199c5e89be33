/** Report of the natural tasks: Table 1 of the paper beside ours, per-epoch losses, traces. */

import { METHOD_INDEX, TABLE1 } from '../core/paper-table.js';
import type { Block } from '../core/report-types.js';
import type { ResultLine } from '../core/types.js';
import { lineChart, PALETTE } from '../report/charts.js';
import { tracedRun, trainingFigures } from '../report/training.js';
import type { NaturalRunConfig, NaturalRunResult } from '../training/train-natural.js';

const cfg = (l: ResultLine) => l.config as NaturalRunConfig;
const res = (l: ResultLine) => l.result as NaturalRunResult;
const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(2));

export function ourProtocol(c: NaturalRunConfig, profile: string): string {
  return (
    `${profile} profile: ${c.hidden} sigmoid hidden, ${c.steps}-step ${c.data === 'ptb' ? 'segments (state carried)' : 'windows'}, batch ${c.batch}, ` +
    `lr ${c.data === 'music' ? '1 (0.5 MuseData)' : c.lr}${c.halveOnRise ? ' (halved when the validation error rises)' : ''}, clip ${c.clip} (mean loss), ` +
    `α ${c.alpha}${c.alphaDecay ? '/(1+epoch)' : ''}${c.omega ? ` (Ω ${c.omega === 'code' ? "as in the authors' code" : 'as eq. 9'})` : ''}, ` +
    `at most ${c.epochs} epoch(s)${c.patience ? ` (stopping after ${c.patience} without a better validation error; the best-validation weights reported)` : ''} over ${c.trainLimit ? `the first ${c.trainLimit.toLocaleString('en-US')} ${c.data === 'ptb' ? 'symbols' : 'pieces'}` : 'the whole train split'}, ` +
    `evaluated on ${c.evalLimit ? `the first ${c.evalLimit.toLocaleString('en-US')} ${c.data === 'ptb' ? 'symbols' : 'pieces'} of each split` : 'whole splits'}`
  );
}

/** One table row per (data set, fold): the paper's three methods, ours, and the protocols. */
export function table1Blocks(
  lines: ResultLine[],
  keys: { key: string; label: string; match: (l: ResultLine) => boolean }[],
  profile: string,
): Block[] {
  const rows: string[][] = [];
  for (const k of keys) {
    const runs = lines.filter(k.match);
    if (runs.length === 0) continue;
    const paper = TABLE1[k.key];
    for (const fold of ['train', 'test'] as const) {
      const ours = (['SGD', 'SGD-C', 'SGD-CR'] as const).map((m) => {
        const r = runs.filter((l) => cfg(l).method === m).map((l) => res(l)[fold]);
        return r.length
          ? (r.reduce((s, v) => s + v, 0) / r.length).toFixed(2) +
              (r.length > 1 ? ` (mean of ${r.length})` : '')
          : '–';
      });
      rows.push([
        fold === 'train' ? k.label : '',
        fold,
        ...(['SGD', 'SGD-C', 'SGD-CR'] as const).map(
          (m, i) => `${fmt(paper?.[fold][METHOD_INDEX[m]])} / ${ours[i]}`,
        ),
        fmt(fold === 'train' ? paper?.bestRnn.train : paper?.bestRnn.test),
      ]);
    }
  }
  const c = lines[0] ? cfg(lines[0]) : undefined;
  return [
    {
      kind: 'table',
      header: [
        'data set',
        'fold',
        'SGD: paper / ours',
        'SGD+C: paper / ours',
        'SGD+CR: paper / ours',
        'best RNN then (paper)',
      ],
      rows,
      caption:
        `Paper: ICML 2013 Table 1 (${c?.paperSetup ?? ''}). Ours: ${c ? ourProtocol(c, profile) : ''}. ` +
        'The quick profile trains tiny models briefly: its numbers show the pipeline works, they do not reproduce the paper.',
    },
  ];
}

/** The learning curves: training loss and validation error per epoch, one line per run. */
export function epochFigures(
  id: string,
  title: string,
  lines: ResultLine[],
  label: (l: ResultLine) => string,
): Block[] {
  const curve = (key: 'trainLoss' | 'valid', suffix: string, y: string): Block => ({
    kind: 'figure',
    figure: {
      id: `${id}-${suffix}`,
      title: `${title}: ${y}`,
      svg: lineChart({
        title: `${title}: ${y}`,
        x: { label: 'epoch' },
        y: { label: y },
        series: lines.map((l, i) => ({
          name: label(l),
          color: PALETTE[i % PALETTE.length],
          dots: true,
          points: res(l)
            .perEpoch.filter((e) => Number.isFinite(e[key]))
            .map((e) => [e.epoch, e[key] as number] as [number, number]),
        })),
      }),
    },
  });
  const blocks = [curve('trainLoss', 'train', 'training loss (epoch mean)')];
  // older results have no validation error per epoch
  if (lines.some((l) => res(l).perEpoch.some((e) => e.valid !== undefined))) {
    blocks.push(
      curve('valid', 'valid', `validation ${lines[0] ? res(lines[0]).metric : ''} after each epoch`),
    );
  }
  return blocks;
}

export function naturalTraces(id: string, title: string, lines: ResultLine[]): Block[] {
  return trainingFigures(
    id,
    title,
    lines.map((l) => tracedRun(l, cfg(l).method)),
  );
}
