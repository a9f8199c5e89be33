/** Report of the natural tasks: Table 1 of the paper beside ours, per-epoch losses, traces. */
import { lineChart, PALETTE } from '../report/charts.js';
import type { Block } from '../report/doc.js';
import { tracedRun, trainingFigures } from '../report/training.js';
import { METHOD_INDEX, TABLE1 } from './paper-table.js';
import type { NaturalRunConfig, NaturalRunResult } from './train-natural.js';
import type { ResultLine } from './types.js';

const cfg = (l: ResultLine) => l.config as NaturalRunConfig;
const res = (l: ResultLine) => l.result as NaturalRunResult;
const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(2));

export function ourProtocol(c: NaturalRunConfig, profile: string): string {
  return (
    `${profile} profile: ${c.hidden} sigmoid hidden, ${c.steps}-step ${c.data === 'ptb' ? 'segments (state carried)' : 'windows'}, batch ${c.batch}, ` +
    `lr ${c.data === 'music' ? '1 (0.5 MuseData)' : c.lr}${c.halveOnRise ? ' (halved when an epoch loss rises)' : ''}, clip ${c.clip} (mean loss), α ${c.alpha}${c.alphaDecay ? '/(1+epoch)' : ''}, ` +
    `${c.epochs} epoch(s) over ${c.trainLimit ? `the first ${c.trainLimit.toLocaleString('en-US')} ${c.data === 'ptb' ? 'symbols' : 'pieces'}` : 'the whole train split'}, ` +
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

export function epochFigure(
  id: string,
  title: string,
  lines: ResultLine[],
  label: (l: ResultLine) => string,
): Block {
  return {
    kind: 'figure',
    figure: {
      id,
      title,
      svg: lineChart({
        title,
        x: { label: 'epoch' },
        y: { label: 'training loss (epoch mean)' },
        series: lines.map((l, i) => ({
          name: label(l),
          color: PALETTE[i % PALETTE.length],
          dots: true,
          points: res(l).perEpoch.map((e) => [e.epoch, e.trainLoss] as [number, number]),
        })),
      }),
    },
  };
}

export function naturalTraces(id: string, title: string, lines: ResultLine[]): Block[] {
  return trainingFigures(
    id,
    title,
    lines.map((l) => tracedRun(l, cfg(l).method)),
  );
}
