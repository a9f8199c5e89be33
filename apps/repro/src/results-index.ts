/**
 * The results index: one page over every experiment and profile found under an output folder. It
 * opens with the scoreboard (paper-profile runs against every number of Table 1 and every point of
 * Fig. 7, and the paper's claims judged), then a headline per experiment, the paper's tables
 * beside ours, and links to each report.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Block } from './core/report-types.js';
import { PROFILES, type ResultLine } from './core/types.js';
import { EXPERIMENTS } from './experiments/registry.js';
import { writeReport } from './report/doc.js';
import { type Fig7Grid, scoreboardBlocks } from './report/scoreboard.js';
import { readResultFile } from './runner/results.js';

/**
 * The paper profile's Fig. 7 grid (inits × methods), from the temporal-order plan; the lengths are
 * those the sweep ran (`--lengths`), so a shorter grid than the paper's five is not "pending" forever.
 */
function paperFig7Grid(): Partial<Fig7Grid> | undefined {
  const def = EXPERIMENTS.find((d) => d.name === 'temporal-order');
  try {
    const runs = def?.plan({ profile: 'paper', flags: {} }).runs ?? [];
    const of = <T>(key: string) => [...new Set(runs.map((r) => r.config[key] as T))];
    return { inits: of<string>('init'), methods: of<string>('method') };
  } catch {
    return undefined;
  }
}

export function writeIndex(outDir: string): { markdown: string; html: string } | undefined {
  const rows: string[][] = [];
  const extra: Block[] = [];
  const paperLines: ResultLine[] = [];
  for (const def of EXPERIMENTS) {
    for (const profile of PROFILES) {
      const dir = join(outDir, def.name, profile);
      if (!existsSync(dir)) continue;
      const files = readdirSync(dir).filter((f) => /^results(\.shard-\d+-of-\d+)?\.jsonl$/.test(f));
      if (!files.includes('results.jsonl')) continue;
      const { lines } = readResultFile(join(dir, 'results.jsonl'));
      if (lines.length === 0) continue;
      if (profile === 'paper') paperLines.push(...lines);
      const report = join(dir, 'report', 'report.md');
      const link = existsSync(report) ? `[report](${relative(outDir, report)})` : '–';
      rows.push([def.name, def.paperRef, profile, String(lines.length), def.headline?.(lines) ?? '', link]);
      const blocks = def.paperTable?.(lines, profile);
      if (blocks?.length)
        extra.push({ kind: 'heading', text: `${def.name} (${profile}): the paper beside ours` }, ...blocks);
    }
  }
  if (rows.length === 0) return undefined;
  return writeReport(
    {
      title: 'cliffguard: reproduction results',
      blocks: [
        ...scoreboardBlocks(paperLines, { fig7Grid: paperFig7Grid() }),
        { kind: 'heading', text: 'All experiments' },
        {
          kind: 'text',
          markdown:
            'Every experiment and profile under this folder. `quick` profiles are shortened protocols that run in minutes; ' +
            "their numbers show the pipeline and the trends, not the paper's values. Each report says which command made it.",
        },
        { kind: 'table', header: ['experiment', 'paper', 'profile', 'runs', 'headline', 'report'], rows },
        ...extra,
      ],
    },
    outDir,
    'index',
  );
}
