// The README's profile table states each profile's real settings: the same words as `--help`,
// which the experiments make from their settings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appRoot } from './core/paths.js';
import { EXPERIMENTS } from './experiments/registry.js';

/** The README's table rows as trimmed cells (the formatter pads them). */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

describe('README: profiles and budgets', () => {
  const rows = tableRows(readFileSync(join(appRoot, 'README.md'), 'utf8'));
  for (const def of EXPERIMENTS) {
    it(`${def.name}: its row is the experiment's own budgets`, () => {
      expect(rows).toContainEqual([def.name, def.budgets.quick, def.budgets.paper]);
    });
  }
});
