/**
 * The results index: one page over every experiment and profile found under an output folder,
 * with a headline per experiment, the paper's Table 1 and synthetic results beside ours, and
 * links to each report.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { EXPERIMENTS } from '../experiments/registry.js';
import { PROFILES } from '../experiments/types.js';
import { readResultFile } from '../runner/results.js';
import { type Block, writeReport } from './doc.js';

export function writeIndex(outDir: string): { markdown: string; html: string } | undefined {
  const rows: string[][] = [];
  const extra: Block[] = [];
  for (const def of EXPERIMENTS) {
    for (const profile of PROFILES) {
      const dir = join(outDir, def.name, profile);
      if (!existsSync(dir)) continue;
      const files = readdirSync(dir).filter((f) => /^results(\.shard-\d+-of-\d+)?\.jsonl$/.test(f));
      if (!files.includes('results.jsonl')) continue;
      const { lines } = readResultFile(join(dir, 'results.jsonl'));
      if (lines.length === 0) continue;
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
