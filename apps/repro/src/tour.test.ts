import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, freshDir } from './test-helpers.js';

describe('the tour (pnpm start)', () => {
  it('runs its three steps and ends with the report path', () => {
    const out = freshDir();
    // a tiny tour: the same code path with few updates (CLIFFGUARD_TOUR_UPDATES) and 2 timed steps
    const run = cli(['tour', '--out', out, '--workers', '2'], {
      CLIFFGUARD_TOUR_UPDATES: '20',
      CLIFFGUARD_TOUR_REPS: '2',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/1\/3 the cliff/);
    expect(run.stdout).toMatch(/SGD: largest step \d/);
    expect(run.stdout).toMatch(/SGD-CR\s+\d\/1/);
    expect(run.stdout).toMatch(
      /backend timing \(one SGD-C step.*cpu\/reference [\d.]+ ms.*wasm\/reference [\d.]+ ms/,
    );
    const last = run.stdout.trim().split('\n').pop()!;
    expect(last).toMatch(/^report: .*tour\/report\/report\.html/);
    const html = join(out, 'tour', 'report', 'report.html');
    expect(existsSync(html)).toBe(true);
    expect(readFileSync(html, 'utf8')).toMatch(/backend timing/);
  });
});
