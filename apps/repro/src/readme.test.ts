// The README's profile table states each profile's real settings: the same words as `--help`,
// which the experiments make from their settings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXPERIMENTS } from './experiments/registry.js';
import { appRoot } from './runner/paths.js';

describe('README: profiles and budgets', () => {
  const readme = readFileSync(join(appRoot, 'README.md'), 'utf8');
  for (const def of EXPERIMENTS) {
    it(`${def.name}: its row is the experiment's own budgets`, () => {
      expect(readme).toContain(`| ${def.name} | ${def.budgets.quick} | ${def.budgets.paper} |`);
    });
  }
});
