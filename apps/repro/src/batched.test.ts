/**
 * `--ensemble R` end to end through the built CLI: a temporal-order sweep trained R runs at a time
 * in batched trainers (slots refilled as runs end) records the same runs as the per-run tasks,
 * and checkpoints move between the two ways: a batched sweep stopped by SIGINT resumes batched or
 * per run, a per-run sweep killed mid-run resumes batched, each to the same results.
 */
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ResultLine } from './core/types.js';
import { withoutTiming } from './runner/results.js';
import { cli, cliKilledWhen, freshDir, results } from './test-helpers.js';

/** 2 methods × smart-tanh × 2 seeds at L = 10: they succeed after 475 to 949 updates, so runs end at different times. */
const FLAGS = [
  ...['--lengths', '10', '--updates', '1500', '--inits', 'smart-tanh', '--methods', 'SGD,SGD-CR'],
  ...['--seeds', '2', '--eval-size', '1000', '--backend', 'wasm'],
];
const args = (out: string, ...more: string[]) => ['temporal-order', ...FLAGS, '--out', out, ...more];
const resultsOf = (out: string) => results(join(out, 'temporal-order', 'quick', 'results.jsonl'));
const checkpointsOf = (out: string) => join(out, 'temporal-order', 'quick', 'checkpoints');

/** Each run's line without timing, and without what tells the two ways apart (result.trainer, result.batched). */
function sameRuns(lines: ResultLine[]): Record<string, unknown> {
  return Object.fromEntries(
    lines.map((l) => {
      const { trainer: _trainer, batched: _batched, ...result } = l.result;
      return [l.runId, { ...withoutTiming(l), result }];
    }),
  );
}

/** The per-run sweep, run once for every comparison below. */
let alone: ResultLine[] | undefined;
function perRunResults(): ResultLine[] {
  if (!alone) {
    const out = freshDir();
    const r = cli(args(out, '--workers', '1'));
    expect(r.status, r.stderr).toBe(0);
    alone = resultsOf(out);
  }
  return alone;
}

describe('temporal-order --ensemble through the CLI (wasm, fused)', () => {
  it('trains two lengths in groups interleaved, or in ONE trainer (units and lengths mixed), to the per-run results', () => {
    const two = [...FLAGS.slice(0, 1), '10,12', ...FLAGS.slice(2)];
    const run = (out: string, more: string[], env: Record<string, string> = {}) => {
      const r = cli(['temporal-order', ...two, '--out', out, ...more], env);
      expect(r.status, r.stderr).toBe(0);
      return resultsOf(out);
    };
    const together = run(freshDir(), ['--ensemble', '3'], { CLIFFGUARD_REPRO_GROUPS: 'together' });
    const oneOut = freshDir();
    const r = cli(['temporal-order', ...two, '--out', oneOut, '--ensemble', '5'], {
      CLIFFGUARD_REPRO_GROUPS: 'one',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /8 run\(s\) batched in 1 trainer\(s\) of up to 5 runs \(in one thread; units and lengths mixed/,
    );
    const one = resultsOf(oneOut);
    const want = run(freshDir(), ['--workers', '1']);
    expect(together).toHaveLength(8);
    expect(sameRuns(together)).toEqual(sameRuns(want));
    expect(sameRuns(one)).toEqual(sameRuns(want));
  });

  it('trains the same runs as the per-run tasks, refilling the slots of runs that end', () => {
    const out = freshDir();
    const r = cli(args(out, '--ensemble', '3'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /4 runs: 0 already done, 4 to run; backend wasm, 4 run\(s\) batched in 1 trainer\(s\) of up to 3 runs/,
    );
    const batched = resultsOf(out);
    const want = perRunResults();
    expect(batched.map((l) => l.runId).sort()).toEqual(want.map((l) => l.runId).sort());
    // runs end at different updates: the fourth run took a slot freed by another
    expect(new Set(want.map((l) => l.result.updates)).size).toBeGreaterThan(1);
    for (const l of batched) expect([l.result.trainer, l.result.batched]).toEqual(['batched', 3]);
    for (const l of want) expect([l.result.trainer, l.result.batched]).toEqual(['ensemble', undefined]);
    // each run's compiled step is independent of its neighbours: success, updates, errors,
    // clipped fractions, Ω ratios, checks and traces are equal to the bit
    expect(sameRuns(batched)).toEqual(sameRuns(want));
  });

  it('--ensemble 0 or off trains each run alone; a bad value is refused', () => {
    const tiny = [
      'temporal-order',
      '--lengths',
      '10',
      '--updates',
      '30',
      '--inits',
      'sigmoid',
      '--methods',
      'SGD',
    ];
    for (const off of ['0', 'off']) {
      const out = freshDir();
      const r = cli([
        ...tiny,
        '--eval-size',
        '200',
        '--backend',
        'cpu',
        '--workers',
        '0',
        '--out',
        out,
        '--ensemble',
        off,
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/backend cpu, 0 worker\(s\)\n/);
      expect(resultsOf(out)[0].result.trainer).toBe('ensemble');
    }
    const bad = cli([...tiny, '--ensemble', '-2']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(
      "--ensemble expects the runs per batched trainer (a whole number >= 1), or 0 / off; got '-2'",
    );
  });

  it('a batched sweep stopped by SIGINT resumes, batched or per run, to the same results', async () => {
    const out = freshDir();
    const ck = checkpointsOf(out);
    const hasCheckpoint = () => existsSync(ck) && readdirSync(ck).some((f) => f.endsWith('.json'));
    const stopped = await cliKilledWhen(
      args(out, '--ensemble', '2', '--checkpoint-every', '200ms'),
      hasCheckpoint,
      'SIGINT',
    );
    expect(stopped.code, stopped.stdout).toBe(130);
    // both runs in slots checkpoint and stop; the other two never started
    const steps = [...stopped.stdout.matchAll(/: stopped at step (\d+), checkpoint kept/g)].map((m) =>
      Number(m[1]),
    );
    expect(steps).toHaveLength(2);
    for (const step of steps) expect(step).toBeGreaterThan(0);
    expect(readdirSync(ck).filter((f) => f.endsWith('.json'))).toHaveLength(2);
    expect(
      existsSync(join(out, 'temporal-order', 'quick', 'results.jsonl')) ? resultsOf(out) : [],
    ).toHaveLength(0);
    const copy = freshDir();
    cpSync(out, copy, { recursive: true });

    const batched = cli(args(out, '--ensemble', '2'));
    expect(batched.status, batched.stderr).toBe(0);
    expect(batched.stdout).toMatch(/2 resume from a checkpoint/);
    const resumed = resultsOf(out);
    expect(resumed.map((l) => l.timing.resumedFromStep).sort((a, b) => a - b)).toEqual([
      0,
      0,
      ...steps.sort((a, b) => a - b),
    ]);
    expect(sameRuns(resumed)).toEqual(sameRuns(perRunResults()));

    // a batched run's checkpoint is a run's checkpoint: the per-run tasks resume it too
    const perRun = cli(args(copy, '--workers', '1'));
    expect(perRun.status, perRun.stderr).toBe(0);
    expect(perRun.stdout).toMatch(/2 resume from a checkpoint/);
    expect(sameRuns(resultsOf(copy))).toEqual(sameRuns(perRunResults()));
  });

  it('a per-run sweep killed mid-run resumes batched to the same results', async () => {
    const out = freshDir();
    const ck = checkpointsOf(out);
    const hasCheckpoint = () => existsSync(ck) && readdirSync(ck).some((f) => f.endsWith('.json'));
    const killed = await cliKilledWhen(
      args(out, '--workers', '1', '--checkpoint-every', '200ms'),
      hasCheckpoint,
    );
    expect(killed.signal).toBe('SIGKILL');
    const resumed = cli(args(out, '--ensemble', '2'));
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/\(1 resume from a checkpoint\)/);
    const lines = resultsOf(out);
    expect(lines.some((l) => l.timing.resumedFromStep > 0 && l.result.trainer === 'batched')).toBe(true);
    expect(sameRuns(lines)).toEqual(sameRuns(perRunResults()));
  });
});
