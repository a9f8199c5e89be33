// The scoreboard as pure functions over hand-made result lines; expected numbers are worked out here.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Block } from '../core/report-types.js';
import type { Profile, ResultLine } from '../core/types.js';
import { writeIndex } from '../results-index.js';
import {
  allClaims,
  type ClaimVerdict,
  claimsBlock,
  fig7Block,
  fig7Points,
  generalizeBlock,
  generalizeClaim,
  generalizeSummary,
  median,
  PAPER_TEST_LENGTHS,
  percent,
  scoreboardBlocks,
  signedPercent,
  table1Block,
  table1Cells,
} from './scoreboard.js';

let counter = 0;
function line(
  experiment: string,
  config: Record<string, unknown>,
  result: Record<string, unknown>,
  seed = 0,
  profile: Profile = 'paper',
): ResultLine {
  counter += 1;
  return {
    runId: `${experiment}:${counter}:s${seed}`,
    experiment,
    profile,
    protocol: 'p',
    configHash: `h${counter}`,
    config,
    seed,
    result,
    timing: { seconds: 1, backend: 'cpu', resumedFromStep: 0, finishedAt: '', host: '' },
  };
}

const music = (set: string, method: string, test: number, extra: Record<string, unknown> = {}, seed = 0) =>
  line(
    'music',
    { data: 'music', set, method },
    { test, train: test - 0.5, updates: 1000, epochs: 10, ...extra },
    seed,
  );
const ptb = (ahead: number, method: string, test: number, seed = 0) =>
  line('ptb', { data: 'ptb', ahead, method }, { test, train: test - 0.1, updates: 500, epochs: 4 }, seed);

/** `k` successes out of `n` runs at (init, method, L). */
function fig7(init: string, method: string, L: number, k: number, n: number, updates: number[] = []) {
  return Array.from({ length: n }, (_, seed) =>
    line(
      'temporal-order',
      { init, method, minLength: L, maxLength: L, maxUpdates: 100_000 },
      {
        success: seed < k,
        updates: seed < k ? (updates[seed] ?? 1000) : 100_000,
        clippedFraction: method === 'SGD' ? 0 : 0.1 * (seed + 1),
        diverged: false,
      },
      seed,
    ),
  );
}

const tableOf = (b: Block) => {
  if (b.kind !== 'table') throw new Error(`expected a table, got ${b.kind}`);
  return b;
};

describe('helpers', () => {
  it('median: the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(Number.isNaN(median([]))).toBe(true);
  });

  it('signed percentages and fractions', () => {
    expect(signedPercent(0.031746)).toBe('+3.2%');
    expect(signedPercent(-0.004)).toBe('−0.4%');
    expect(signedPercent(-0.0001)).toBe('+0.0%');
    expect(percent(0.7)).toBe('70%');
    expect(percent(0.9985)).toBe('99.8%');
    expect(percent(0.99999)).toBe('99.9%');
    expect(percent(0.00001)).toBe('0.1%');
    expect(percent(0)).toBe('0%');
  });
});

describe('Table 1 rows', () => {
  const lines = [
    music('piano-midi', 'SGD', 7.7, { updates: 1000, epochs: 12, bestEpoch: 9 }, 0),
    music('piano-midi', 'SGD', 7.9, { updates: 3000, epochs: 10, bestEpoch: 10 }, 1),
    music('piano-midi', 'SGD-C', 8.0),
    // quick profile: never in the scoreboard
    line('music', { set: 'piano-midi', method: 'SGD-CR' }, { test: 1, train: 1, updates: 1 }, 0, 'quick'),
    music('jsb', 'SGD', 8.5),
    ptb(1, 'SGD', 1.62),
    ptb(1, 'SGD-C', 1.45),
    ptb(1, 'SGD-CR', 1.48),
  ];
  const cells = table1Cells(lines);
  const cell = (key: string, fold: string, method: string) =>
    cells.find((c) => c.key === key && c.fold === fold && c.method === method);

  it('mean over seeds, median updates, relative difference and the target', () => {
    const c = cell('piano-midi', 'test', 'SGD')!;
    const mean = (7.7 + 7.9) / 2; // 7.8
    expect(c.ours).toBeCloseTo(mean, 12);
    expect(c.values).toHaveLength(2);
    expect(c.updates).toBe(2000); // median of 1000, 3000
    expect(c.rel).toBeCloseTo((mean - 7.56) / 7.56, 12); // +3.17%
    expect(c.meets).toBe(true); // within 5%
    const sgdC = cell('piano-midi', 'test', 'SGD-C')!;
    expect(sgdC.rel).toBeCloseTo((8.0 - 7.53) / 7.53, 12); // +6.24%
    expect(sgdC.meets).toBe(false);
    // PTB: 0.1 bits absolute, not 5%
    expect(cell('ptb-1', 'test', 'SGD-CR')!.meets).toBe(true); // 1.48 vs 1.41: +0.07
    expect(cell('ptb-1', 'test', 'SGD')!.meets).toBe(false); // 1.62 vs 1.50: +0.12
  });

  it('renders pending, – and the rows in the paper order', () => {
    const rows = tableOf(table1Block(cells)).rows;
    const find = (label: string, fold: string, method: string) => {
      let current = '';
      return rows.find((r) => {
        if (r[0]) current = r[0];
        return current === label && r[1] === fold && r[2] === method;
      })!;
    };
    expect(find('Piano-midi.de', 'test', 'SGD')).toEqual([
      '',
      'test',
      'SGD',
      '7.56',
      '7.80',
      '2',
      '2,000',
      '12 (best 9), 10 (best 10)',
      signedPercent((7.8 - 7.56) / 7.56),
      'yes',
    ]);
    expect(signedPercent((7.8 - 7.56) / 7.56)).toBe('+3.2%');
    expect(find('Piano-midi.de', 'test', 'SGD-C').slice(8)).toEqual(['+6.2%', 'no']);
    // the quick-profile SGD-CR run stays out: pending
    expect(find('Piano-midi.de', 'test', 'SGD-CR')).toEqual([
      '',
      'test',
      'SGD-CR',
      '7.46',
      'pending',
      '0',
      'pending',
      'pending',
      'pending',
      'pending',
    ]);
    // JSB: no paper numbers
    expect(find('JSB Chorales (bonus)', 'test', 'SGD').slice(3)).toEqual([
      '–',
      '8.50',
      '1',
      '1,000',
      '10',
      '–',
      '–',
    ]);
    // PTB: the absolute difference too; (1.62 − 1.50) / 1.50 = +8.0%
    expect(find('PTB, next char', 'test', 'SGD')[8]).toBe('+8.0% (+0.120 bits)');
    // no SGD for the 5th character ahead (neither the paper nor our plan has it), no JSB SGD-C
    expect(cells.some((c) => c.key === 'ptb-5' && c.method === 'SGD')).toBe(false);
    expect(cells.some((c) => c.key === 'jsb' && c.method === 'SGD-C')).toBe(false);
    // 3 paper sets × 6 + PTB next 6 + PTB 5th 4 + JSB (SGD train, test) 2
    expect(rows).toHaveLength(30);
    expect(rows[0].slice(0, 4)).toEqual(['Piano-midi.de', 'train', 'SGD', '6.87']);
  });
});

describe('Fig. 7 points', () => {
  const lines = [
    ...fig7('smart-tanh', 'SGD', 50, 1, 3),
    ...fig7('smart-tanh', 'SGD-C', 50, 2, 3),
    ...fig7('smart-tanh', 'SGD-CR', 50, 3, 3, [1000, 5000, 2000]),
    // a quick-profile run is left out
    line(
      'temporal-order',
      { init: 'smart-tanh', method: 'SGD', minLength: 50, maxUpdates: 10 },
      { success: true, updates: 5 },
      7,
      'quick',
    ),
  ];

  it('k/n, median updates to success, median clipped fraction, censoring, pending', () => {
    const points = fig7Points(lines, { lengths: [50, 100] });
    const cr = points.find((p) => p.init === 'smart-tanh' && p.method === 'SGD-CR' && p.length === 50)!;
    expect([cr.successes, cr.n]).toEqual([3, 3]);
    expect(cr.updatesToSuccess).toBe(2000); // median of 1000, 5000, 2000
    expect(cr.clipped).toBeCloseTo(0.2, 12); // median of 0.1, 0.2, 0.3
    expect(cr.maxUpdates).toEqual([100_000]);
    const sgd = points.find((p) => p.method === 'SGD' && p.length === 50)!;
    expect([sgd.successes, sgd.n, sgd.updatesToSuccess]).toEqual([1, 3, 1000]);
    const rows = tableOf(fig7Block(points)).rows;
    expect(rows).toEqual([
      [
        'smart-tanh',
        '50',
        '1/3 solved\nmedian 1,000 updates\nclipped 0%',
        '2/3 solved\nmedian 1,000 updates\nclipped 20%',
        '3/3 solved\nmedian 2,000 updates\nclipped 20%',
        '100,000',
      ],
      ['', '100', 'pending', 'pending', 'pending', 'pending'],
    ]);
  });
});

describe('claims', () => {
  // smart-tanh supports (a) and (b); basic-tanh contradicts both; sigmoid leaves both open
  const fig7Lines = [
    ...fig7('smart-tanh', 'SGD', 50, 1, 3),
    ...fig7('smart-tanh', 'SGD-C', 50, 2, 3),
    ...fig7('smart-tanh', 'SGD-CR', 50, 3, 3),
    ...fig7('smart-tanh', 'SGD', 100, 0, 3),
    ...fig7('smart-tanh', 'SGD-C', 100, 2, 3),
    ...fig7('smart-tanh', 'SGD-CR', 100, 3, 3),
    ...fig7('basic-tanh', 'SGD', 50, 0, 3),
    ...fig7('basic-tanh', 'SGD-C', 50, 2, 3),
    ...fig7('basic-tanh', 'SGD-CR', 50, 1, 3),
    ...fig7('basic-tanh', 'SGD', 100, 0, 3),
    ...fig7('basic-tanh', 'SGD-C', 100, 1, 3),
    ...fig7('basic-tanh', 'SGD-CR', 100, 3, 3),
    ...fig7('sigmoid', 'SGD', 50, 0, 3),
    ...fig7('sigmoid', 'SGD-C', 50, 0, 3),
    ...fig7('sigmoid', 'SGD-CR', 50, 1, 3),
    ...fig7('sigmoid', 'SGD', 100, 0, 2),
    ...fig7('sigmoid', 'SGD-C', 100, 1, 2),
    ...fig7('sigmoid', 'SGD-CR', 100, 2, 2),
  ];
  const tableLines = [
    music('piano-midi', 'SGD', 7.8),
    music('piano-midi', 'SGD-C', 8.0), // SGD-C worse than SGD: contradicts
    music('nottingham', 'SGD', 3.9),
    music('nottingham', 'SGD-C', 3.5),
    music('nottingham', 'SGD-CR', 3.4), // supports
    music('musedata', 'SGD', 7.2), // SGD-C and SGD-CR pending: open
    ptb(1, 'SGD', 1.62),
    ptb(1, 'SGD-C', 1.45),
    ptb(1, 'SGD-CR', 1.48), // SGD-CR worse than SGD-C: contradicts
  ];
  const claims = allClaims([...fig7Lines, ...tableLines], { lengths: [50, 100] });
  const verdict = (claim: string, scope: string) =>
    claims.find((c) => c.claim === claim && c.scope === scope)?.verdict;

  it('(a) the ordering per init: supported, contradicted, open', () => {
    expect(verdict('a', 'smart-tanh')).toBe('supported'); // 3/3 ≥ 2/3 ≥ 1/3 and 3/3 ≥ 2/3 ≥ 0/3
    expect(verdict('a', 'basic-tanh')).toBe('contradicted'); // L=50: SGD-CR 1/3 < SGD-C 2/3
    expect(claims.find((c) => c.claim === 'a' && c.scope === 'basic-tanh')!.detail).toContain(
      'L=50: SGD-CR 1/3 < SGD-C 2/3',
    );
    expect(verdict('a', 'sigmoid')).toBe('open'); // L=100 has 2 runs per method
  });

  it('(b) the clipping gap grows with L: supported, contradicted, open', () => {
    // smart-tanh: gap 2/3 − 1/3 = 0.33 at L=50, 2/3 − 0 = 0.67 at L=100
    expect(verdict('b', 'smart-tanh')).toBe('supported');
    // basic-tanh: 0.67 at L=50, 0.33 at L=100
    expect(verdict('b', 'basic-tanh')).toBe('contradicted');
    expect(claims.find((c) => c.claim === 'b' && c.scope === 'basic-tanh')!.detail).toContain(
      'L=50 +0.67 > L=100 +0.33',
    );
    expect(verdict('b', 'sigmoid')).toBe('open');
  });

  it('(a) is open, not supported, while a point of the grid is pending', () => {
    const withPending = allClaims(fig7Lines, { lengths: [50, 100, 150] });
    expect(withPending.find((c) => c.claim === 'a' && c.scope === 'smart-tanh')!.verdict).toBe('open');
    // a contradiction stands whatever is pending
    expect(withPending.find((c) => c.claim === 'a' && c.scope === 'basic-tanh')!.verdict).toBe(
      'contradicted',
    );
  });

  it('(c) Table 1 ordering per data set', () => {
    expect(verdict('c', 'Nottingham')).toBe('supported');
    expect(verdict('c', 'Piano-midi.de')).toBe('contradicted');
    expect(verdict('c', 'PTB, next char')).toBe('contradicted');
    expect(verdict('c', 'MuseData')).toBe('open');
    expect(verdict('c', 'PTB, 5th char ahead')).toBe('open'); // no run at all
  });

  it('the verdict line groups the claims', () => {
    const block = claimsBlock(claims, [100_000]);
    if (block.kind !== 'text') throw new Error('expected text');
    const first = block.markdown.split('\n')[0];
    expect(first).toContain('Supported: (a) smart-tanh; (b) smart-tanh; (c) Nottingham.');
    expect(first).toContain(
      'Contradicted: (a) basic-tanh; (b) basic-tanh; (c) Piano-midi.de, PTB, next char.',
    );
    expect(first).toContain('Open: (a) sigmoid; (b) sigmoid; (c) MuseData, PTB, 5th char ahead; (d).');
    expect(first).toContain('stop at 100,000 updates');
  });
});

describe('generalisation', () => {
  const gen = (seed: number, wrongAt: Record<number, number> = {}, success = true) =>
    line(
      'generalize',
      { init: 'basic-tanh', method: 'SGD-CR', testLengths: PAPER_TEST_LENGTHS },
      {
        success,
        testErrors: PAPER_TEST_LENGTHS.map((length) => ({
          length,
          wrong: wrongAt[length] ?? 0,
          total: 10_000,
          error: (wrongAt[length] ?? 0) / 10_000,
        })),
      },
      seed,
    );

  it('supported by 3 clean runs, contradicted by one error, open with one clean run', () => {
    const clean = [gen(0), gen(1), gen(2)];
    expect(generalizeClaim(generalizeSummary(clean)).verdict).toBe('supported');
    const dirty = [gen(0), gen(1, { 5000: 2, 3000: 1 })];
    const summary = generalizeSummary(dirty);
    expect(summary.worst).toEqual({ length: 5000, wrong: 2, total: 10_000, seed: 1 });
    expect(generalizeClaim(summary).verdict).toBe('contradicted');
    expect(generalizeClaim(generalizeSummary([gen(0)])).verdict).toBe('open');
    expect(generalizeClaim(generalizeSummary([])).verdict).toBe('open');
  });

  it('a run that did not succeed within the cap is censored: the claim stays open, whatever its test errors', () => {
    const censored = { ...gen(1, { 5000: 7499 }, false), config: { ...gen(1).config, maxUpdates: 200_000 } };
    const g = generalizeSummary([gen(0), censored]);
    expect([g.worstSolved, g.censoredAt]).toEqual([
      { length: 5000, wrong: 0, total: 10_000, seed: 0 },
      200_000,
    ]);
    const claim = generalizeClaim(g);
    expect(claim.verdict).toBe('open');
    expect(claim.detail).toBe(
      '1 of 2 runs did not succeed within 200,000 updates (censored; the paper trained up to 5M)',
    );
    // an error in a successful run still contradicts it
    expect(generalizeClaim(generalizeSummary([gen(0, { 250: 1 }), censored])).verdict).toBe('contradicted');
  });

  it('k/n and the worst test error', () => {
    const rows = tableOf(generalizeBlock(generalizeSummary([gen(0), gen(1, { 5000: 2 }, false)]))).rows;
    expect(rows[0].slice(2)).toEqual(['1/2', 'no']);
    expect(rows[1].slice(2)).toEqual(['2/10,000 at L=5000 (seed 1)', 'no']);
    expect(rows[2].slice(2)).toEqual(['9 of 10 (50, 100, 150, 200, 250, 500, 1000, 2000, 3000)', 'no']);
    const empty = tableOf(generalizeBlock(generalizeSummary([]))).rows;
    expect(empty.map((r) => r[2])).toEqual(['pending', 'pending', 'pending']);
  });
});

describe('the section', () => {
  it('opens with the Scoreboard heading, has the claims, three tables and the figure', () => {
    const blocks = scoreboardBlocks([...fig7('smart-tanh', 'SGD-CR', 50, 1, 1)]);
    expect(blocks[0]).toEqual({ kind: 'heading', text: 'Scoreboard' });
    expect(blocks.filter((b) => b.kind === 'table')).toHaveLength(3);
    const figure = blocks.find((b) => b.kind === 'figure');
    expect(figure?.kind === 'figure' && figure.figure.svg.startsWith('<svg')).toBe(true);
    const claims = blocks.find((b) => b.kind === 'text' && b.markdown.includes('Supported:'));
    expect(claims).toBeDefined();
  });

  it('with no claims, the verdict line says none', () => {
    const none: ClaimVerdict[] = [];
    const block = claimsBlock(none);
    if (block.kind !== 'text') throw new Error('expected text');
    expect(block.markdown).toContain('Supported: none. Contradicted: none. Open: none.');
  });
});

describe('writeIndex', () => {
  it('puts ## Scoreboard first in index.md and an <svg> in index.html', () => {
    const out = mkdtempSync(join(tmpdir(), 'repro-scoreboard-'));
    const dir = join(out, 'temporal-order', 'paper');
    mkdirSync(dir, { recursive: true });
    const base = {
      task: 'temporal-order',
      hidden: 50,
      batch: 20,
      lr: 0.01,
      clip: 1,
      alpha: 4,
      omega: 'code',
      maxUpdates: 100_000,
      checkEvery: 1000,
      checkSize: 1000,
      evalSize: 10_000,
      traceEvery: 5000,
    };
    const lines = ['SGD', 'SGD-C', 'SGD-CR'].map((method, i) =>
      line(
        'temporal-order',
        { ...base, method, init: 'smart-tanh', minLength: 50, maxLength: 50 },
        {
          success: i === 2,
          updates: i === 2 ? 8000 : 100_000,
          finalError: 0.5,
          diverged: false,
          clippedFraction: 0.5,
          implementation: 'fused',
          trace: [],
        },
      ),
    );
    writeFileSync(join(dir, 'results.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const written = writeIndex(out)!;
    const md = readFileSync(written.markdown, 'utf8');
    const headings = md.split('\n').filter((l) => l.startsWith('#'));
    expect(headings[0]).toBe('# cliffguard: reproduction results');
    expect(headings[1]).toBe('## Scoreboard');
    // the first thing after the title is the Scoreboard, before the table of experiments
    expect(md.split('\n').filter(Boolean)[1]).toBe('## Scoreboard');
    expect(md.indexOf('## Scoreboard')).toBeLessThan(md.indexOf('| experiment |'));
    expect(md).toContain('| smart-tanh | 50 | 0/1 solved<br>clipped 50% |');
    expect(md).toContain('![Fig. 7 (ours): success rate against sequence length](scoreboard-fig7.svg)');
    expect(existsSync(join(out, 'scoreboard-fig7.svg'))).toBe(true);
    const html = readFileSync(written.html, 'utf8');
    expect(html).toContain('<h2>Scoreboard</h2>');
    expect(html).toContain('<svg');
    expect(html.indexOf('<h2>Scoreboard</h2>')).toBeLessThan(html.indexOf('<svg'));
  });
});
