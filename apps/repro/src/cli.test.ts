import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliff } from './experiments/cliff.js';
import { planRuns } from './runner/plan.js';
import { cli, comparable, freshDir, rawLines, results } from './test-helpers.js';

const quick = planRuns(cliff, { profile: 'quick', flags: {} })
  .runs.map((r) => r.id)
  .sort();

describe('repro cliff through the CLI', () => {
  it('writes one well-formed line per planned run and renders the report', () => {
    const out = freshDir();
    const run = cli(['cliff', '--out', out, '--workers', '2', '--backend', 'cpu']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/quick profile is a shortened protocol/);
    const file = join(out, 'cliff', 'quick', 'results.jsonl');
    const lines = rawLines(file).map((l) => JSON.parse(l));
    expect(lines.map((l) => l.runId).sort()).toEqual(quick);
    for (const l of lines) {
      expect(l).toMatchObject({ experiment: 'cliff', profile: 'quick' });
      expect(l.result.path.length).toBe(301);
      expect(typeof l.timing.seconds).toBe('number');
    }
    const md = readFileSync(join(out, 'cliff', 'quick', 'report', 'report.md'), 'utf8');
    expect(md).toMatch(/!\[.*\]\(cliff-surface\.svg\)/);
    const svg = readFileSync(join(out, 'cliff', 'quick', 'report', 'cliff-surface.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(readFileSync(join(out, 'cliff', 'quick', 'report', 'report.html'), 'utf8')).toMatch(
      /<figure id="cliff-surface"><svg/,
    );
    expect(md).toMatch(/\| SGD-C \| 4 \| 0 \|/); // clipped runs never jump
    // the same command again has nothing to do and changes nothing
    const before = readFileSync(file, 'utf8');
    const again = cli(['cliff', '--out', out, '--workers', '1', '--backend', 'cpu']);
    expect(again.stdout).toMatch(/8 already done, 0 to run/);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('resumes after a crash: no run repeated or lost', () => {
    const out = freshDir();
    const file = join(out, 'cliff', 'quick', 'results.jsonl');
    const crashed = cli(['cliff', '--out', out, '--workers', '0', '--backend', 'cpu'], {
      CLIFFGUARD_REPRO_KILL_AFTER_RUNS: '1',
    });
    expect(crashed.signal).toBe('SIGKILL');
    const first = rawLines(file);
    expect(first).toHaveLength(1);
    const resumed = cli(['cliff', '--out', out, '--workers', '2', '--backend', 'cpu']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/1 already done, 7 to run/);
    const after = rawLines(file);
    expect(after[0]).toBe(first[0]);
    expect(after.map((l) => JSON.parse(l).runId).sort()).toEqual(quick);
    // same results as an uninterrupted run
    const clean = freshDir();
    cli(['cliff', '--out', clean, '--workers', '2', '--backend', 'cpu']);
    expect(comparable(results(file))).toEqual(
      comparable(results(join(clean, 'cliff', 'quick', 'results.jsonl'))),
    );
  });

  it('runs N shards whose merge equals the unsharded result set, and refuses bad merges', () => {
    const out = freshDir();
    for (const k of [0, 1, 2]) {
      const r = cli(['cliff', '--out', out, '--shard', `${k}/3`, '--workers', '1', '--backend', 'cpu']);
      expect(r.status, r.stderr).toBe(0);
    }
    const merge = cli(['merge', '--experiment', 'cliff', '--out', out]);
    expect(merge.status, merge.stderr).toBe(0);
    const merged = results(join(out, 'cliff', 'quick', 'results.jsonl'));
    const whole = freshDir();
    cli(['cliff', '--out', whole, '--workers', '2', '--backend', 'cpu']);
    expect(comparable(merged)).toEqual(comparable(results(join(whole, 'cliff', 'quick', 'results.jsonl'))));
    expect(merged.map((l) => l.runId)).toEqual(quick);
    const report = cli(['report', 'cliff', '--out', out]);
    expect(report.status, report.stderr).toBe(0);
    expect(existsSync(join(out, 'cliff', 'quick', 'report', 'report.html'))).toBe(true);

    const shard0 = join(out, 'cliff', 'quick', 'results.shard-0-of-3.jsonl');
    const twice = cli([
      'merge',
      shard0,
      shard0.replace('0-of-3', '1-of-3'),
      shard0,
      '-o',
      join(out, 'x.jsonl'),
    ]);
    expect(twice.status).toBe(1);
    expect(twice.stderr).toMatch(/appears in both/);
    const clash = cli(['cliff', '--out', out, '--seeds', '2', '--shard', '1/3', '--workers', '0']);
    expect(clash.status).toBe(1);
    expect(clash.stderr).toMatch(/holds results of another protocol/);
    // a different --seeds is a different protocol: its results may not join the others
    const other = freshDir();
    cli(['cliff', '--out', other, '--seeds', '2', '--shard', '1/3', '--workers', '0']);
    const mixed = cli([
      'merge',
      shard0,
      join(other, 'cliff', 'quick', 'results.shard-1-of-3.jsonl'),
      '-o',
      join(out, 'y.jsonl'),
    ]);
    expect(mixed.status).toBe(1);
    expect(mixed.stderr).toMatch(/protocol/);
  });

  it('explains bad arguments', () => {
    expect(cli(['cliff', '--shard', '3/3']).stderr).toMatch(/K must be in 0..N-1/);
    expect(cli(['nope']).stderr).toMatch(/unknown command 'nope'/);
    const help = cli(['--help']);
    expect(help.stdout).toMatch(/cliff\s+paper Fig. 6/);
    expect(help.stdout).toMatch(/quick: /);
  });
});
