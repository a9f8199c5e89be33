/**
 * Each experiment's quick path on a tiny budget, end to end through the CLI: the results file,
 * resuming after a crash (killed after one finished run: no run repeated or lost), the report.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ResultLine } from './core/types.js';
import { getExperiment } from './experiments/registry.js';
import { planRuns } from './runner/plan.js';
import { cli, cliKilledWhen, comparable, freshDir, rawLines, results } from './test-helpers.js';
import type { TracePoint } from './training/trace.js';

interface Tiny {
  name: string;
  args: string[];
  flags: Record<string, string>;
  seeds?: number;
  /** checks on one result line's `result` */
  check(result: Record<string, unknown>): void;
  /** checks on the rendered report.md */
  report?(md: string): void;
}

const TINY: Tiny[] = [
  {
    name: 'temporal-order',
    args: [],
    flags: { lengths: '10', updates: '30', inits: 'smart-tanh', 'eval-size': '500' },
    check: (r) => {
      expect(r.updates).toBe(30);
      // the default schedule: 5% with floor 25 (quick) checks at 25 and at the last update
      expect([r.checkEvery, r.checkFloor, r.checks]).toEqual(['5%', 25, 2]);
      expect(r.clippedFraction as number).toBeGreaterThanOrEqual(0);
      expect(r.clippedFraction as number).toBeLessThanOrEqual(1);
      if ('omegaRatio' in r) expect(r.omegaRatio as number).toBeGreaterThan(0); // SGD-CR
      expect(typeof r.success).toBe('boolean');
      expect(r.finalError as number).toBeGreaterThanOrEqual(0);
      expect(r.finalError as number).toBeLessThanOrEqual(1);
      const trace = r.trace as { step: number; contributions: number[]; rho: number; normMax: number }[];
      expect(trace.length).toBeGreaterThan(3);
      expect(trace[trace.length - 1].step).toBe(30);
      for (const p of trace) {
        expect(p.contributions).toHaveLength(10); // one per time step at L = 10
        expect(p.rho).toBeGreaterThan(0);
        expect(Number.isFinite(p.normMax)).toBe(true);
      }
    },
    report: (md) => {
      expect(md).toContain("α 4, Ω as in the authors' code (mean over time and batch)");
      expect(md).toContain(
        'checks each after max(25, ⌈5% of the updates so far⌉) more updates, each drawing 500 new sequences',
      );
      // clipped fraction per method, then SGD-CR's first-update Ω ratio, all numbers
      expect(md).toContain(
        '| init | L | SGD: clipped | SGD-C: clipped | SGD-CR: clipped | SGD-CR: ‖α∇Ω‖ / ‖∇E‖ at update 1 |',
      );
      expect(md).toMatch(/\| smart-tanh \| 10 \| 0\.00 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|/);
    },
  },
  {
    name: 'generalize',
    args: ['--seeds', '2'],
    seeds: 2,
    flags: { updates: '20', 'eval-size': '200' },
    check: (r) => {
      expect([r.checkEvery, r.checks]).toEqual(['5%', 1]); // only the last update: 20 < the floor 25
      expect(r.omegaRatio as number).toBeGreaterThan(0);
      const tests = r.testErrors as { length: number; error: number; total: number }[];
      expect(tests.map((t) => t.length)).toEqual([10, 20, 50, 100, 200]);
      for (const t of tests) {
        expect(t.total).toBe(200);
        expect(t.error).toBeGreaterThanOrEqual(0);
      }
    },
  },
  {
    name: 'synthetic',
    args: [],
    flags: { updates: '10', 'eval-size': '100' },
    check: (r) => {
      expect(r.updates).toBe(10);
      expect([r.checkEvery, r.checks]).toEqual(['5%', 1]);
      expect(r.finalError as number).toBeGreaterThanOrEqual(0);
      expect(r.finalError as number).toBeLessThanOrEqual(1);
    },
  },
  {
    name: 'ptb',
    args: [],
    flags: { epochs: '1', 'train-limit': '20000', 'eval-limit': '4000' },
    check: (r) => {
      expect(r.metric).toBe('bits/char');
      // a barely trained model: between a perfect predictor and far worse than uniform over 50 symbols
      for (const k of ['train', 'valid', 'test']) {
        expect(r[k] as number).toBeGreaterThan(0);
        expect(r[k] as number).toBeLessThan(12);
      }
      expect(r.updates).toBe(12); // 20,000 symbols / (32 lanes × 50 steps)
    },
  },
  {
    name: 'music',
    args: [],
    flags: { sets: 'jsb', epochs: '1', 'train-limit': '8', 'eval-limit': '4' },
    check: (r) => {
      expect(r.metric).toBe('NLL/step');
      for (const k of ['train', 'valid', 'test']) expect(r[k] as number).toBeGreaterThan(0);
      expect((r.perEpoch as unknown[]).length).toBe(1);
    },
  },
];

function flagArgs(flags: Record<string, string>): string[] {
  return Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]);
}

for (const tiny of TINY) {
  describe(`${tiny.name}, quick path on a tiny budget`, () => {
    it('writes its results, resumes after a crash without repeating or losing a run, renders the report', async () => {
      const def = await getExperiment(tiny.name);
      const planned = planRuns(def, { profile: 'quick', seeds: tiny.seeds, flags: tiny.flags })
        .runs.map((r) => r.id)
        .sort();
      const out = freshDir();
      const file = join(out, tiny.name, 'quick', 'results.jsonl');
      const args = [tiny.name, ...flagArgs(tiny.flags), ...tiny.args, '--out', out, '--backend', 'wasm'];
      const crashed = cli([...args, '--workers', '1'], { CLIFFGUARD_REPRO_KILL_AFTER_RUNS: '1' });
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      const first = rawLines(file);
      expect(first).toHaveLength(1);
      const resumed = cli([...args, '--workers', '2']);
      expect(resumed.status, resumed.stderr + resumed.stdout).toBe(0);
      expect(resumed.stdout).toMatch(new RegExp(`1 already done, ${planned.length - 1} to run`));
      const lines = rawLines(file);
      expect(lines[0]).toBe(first[0]);
      const ids = lines.map((l) => JSON.parse(l).runId).sort();
      expect(ids).toEqual(planned);
      for (const l of results(file)) tiny.check(l.result);
      const reportDir = join(out, tiny.name, 'quick', 'report');
      const md = readFileSync(join(reportDir, 'report.md'), 'utf8');
      const html = readFileSync(join(reportDir, 'report.html'), 'utf8');
      const figures = [...md.matchAll(/\]\(([^)]+\.svg)\)/g)].map((m) => m[1]);
      expect(figures.length).toBeGreaterThan(0);
      for (const f of figures) {
        const svg = readFileSync(join(reportDir, f), 'utf8');
        expect(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>')).toBe(true);
        expect(svg).not.toMatch(/NaN/);
      }
      expect((html.match(/<svg/g) ?? []).length).toBe(figures.length);
      expect(md).toContain(`pnpm repro ${tiny.name} --profile quick`);
      tiny.report?.(md);
      const index = readFileSync(join(out, 'index.md'), 'utf8');
      expect(index).toContain(`| ${tiny.name} |`);
      expect(index).toContain(`(${tiny.name}/quick/report/report.md)`);
    });
  });
}

describe('temporal-order with the fused implementation', () => {
  it('trains each run as a one-run fused ensemble, which equals trainStep with the clip wrapper', () => {
    const args = (out: string) => [
      'temporal-order',
      ...['--lengths', '10', '--updates', '60', '--inits', 'smart-tanh', '--methods', 'SGD-C,SGD-CR'],
      ...['--eval-size', '200', '--out', out, '--backend', 'wasm', '--workers', '1'],
    ];
    const file = (out: string) => join(out, 'temporal-order', 'quick', 'results.jsonl');
    const [fast, plain] = [freshDir(), freshDir()];
    const a = cli(args(fast));
    expect(a.status, a.stderr).toBe(0);
    const b = cli(args(plain), { CLIFFGUARD_REPRO_TRAINER: 'trainStep' });
    expect(b.status, b.stderr).toBe(0);
    const byRun = (lines: ResultLine[]) =>
      Object.fromEntries(lines.map((l) => [l.runId, l.result as Record<string, unknown>]));
    const ensemble = byRun(results(file(fast)));
    const separate = byRun(results(file(plain)));
    expect(Object.keys(ensemble).sort()).toEqual(Object.keys(separate).sort());
    expect(Object.keys(ensemble)).toHaveLength(2);
    for (const [id, got] of Object.entries(ensemble)) {
      const want = separate[id];
      expect([got.implementation, got.trainer, want.trainer]).toEqual(['fused', 'ensemble', 'trainStep']);
      expect(got.updates).toBe(want.updates);
      const gt = got.trace as TracePoint[];
      const wt = want.trace as TracePoint[];
      expect(gt.map((p) => [p.step, p.n, p.clipped, p.skipped])).toEqual(
        wt.map((p) => [p.step, p.n, p.clipped, p.skipped]),
      );
      gt.forEach((p, i) => {
        expect(
          Math.abs(p.lossMean - wt[i].lossMean) / wt[i].lossMean,
          `${id} loss at ${p.step}`,
        ).toBeLessThan(1e-4);
        expect(
          Math.abs(p.normMean - wt[i].normMean) / wt[i].normMean,
          `${id} norm at ${p.step}`,
        ).toBeLessThan(1e-4);
        expect(Math.abs(p.rho - wt[i].rho), `${id} rho at ${p.step}`).toBeLessThan(1e-4);
      });
      expect(Math.abs((got.finalError as number) - (want.finalError as number))).toBeLessThanOrEqual(0.01);
    }
  });
});

describe('temporal-order checkpoints', () => {
  it('stops on Ctrl-C (SIGINT) after checkpointing, and the same command finishes the run', async () => {
    const out = freshDir();
    const ckDir = join(out, 'temporal-order', 'quick', 'checkpoints');
    const hasCheckpoint = () => existsSync(ckDir) && readdirSync(ckDir).some((f) => f.endsWith('.json'));
    const args = [
      'temporal-order',
      ...[
        '--lengths',
        '10',
        '--updates',
        '800',
        '--inits',
        'sigmoid',
        '--methods',
        'SGD-C',
        '--eval-size',
        '200',
      ],
      ...['--out', out, '--backend', 'cpu', '--workers', '1', '--checkpoint-every', '0'],
    ];
    const stopped = await cliKilledWhen(args, hasCheckpoint, 'SIGINT');
    expect(stopped.code, stopped.stdout).toBe(130);
    expect(stopped.stdout).toMatch(/SIGINT: checkpointing/);
    expect(stopped.stdout).toMatch(/stopped at step \d+, checkpoint kept/);
    const step = Number(/stopped at step (\d+)/.exec(stopped.stdout)![1]);
    expect(step).toBeGreaterThan(0);
    const file = join(out, 'temporal-order', 'quick', 'results.jsonl');
    expect(existsSync(file) ? rawLines(file) : []).toHaveLength(0);
    const finished = cli(args);
    expect(finished.status, `${finished.stdout}\n${finished.stderr}`).toBe(0);
    const [line] = results(file);
    expect(line.timing.resumedFromStep).toBe(step);
  });

  it('continues a killed run from its checkpoint and ends exactly where an uninterrupted run ends', async () => {
    const flags = [
      '--lengths',
      '10',
      '--updates',
      '40',
      '--inits',
      'smart-tanh',
      '--methods',
      'SGD-CR',
      '--eval-size',
      '500',
    ];
    const out = freshDir();
    const ckDir = join(out, 'temporal-order', 'quick', 'checkpoints');
    const checkpointStep = () => {
      if (!existsSync(ckDir)) return 0;
      const files = readdirSync(ckDir).filter((f) => f.endsWith('.json'));
      if (files.length === 0) return 0;
      try {
        return JSON.parse(readFileSync(join(ckDir, files[0]), 'utf8')).step as number;
      } catch {
        return 0; // mid-rename
      }
    };
    const args = [
      'temporal-order',
      ...flags,
      '--out',
      out,
      '--backend',
      'cpu',
      '--workers',
      '1',
      '--checkpoint-every',
      '0',
    ];
    const killed = await cliKilledWhen(args, () => checkpointStep() >= 15);
    expect(killed.signal).toBe('SIGKILL');
    const file = join(out, 'temporal-order', 'quick', 'results.jsonl');
    expect(existsSync(file) ? rawLines(file) : []).toHaveLength(0);
    const at = checkpointStep();
    expect(at).toBeGreaterThanOrEqual(15);
    expect(at).toBeLessThan(40);
    const resumed = cli(args);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/1 resume from a checkpoint/);
    const [line] = results(file);
    expect(line.timing.resumedFromStep).toBe(at);
    expect(readdirSync(ckDir).filter((f) => f.endsWith('.json'))).toHaveLength(0); // dropped once the line is written

    const clean = freshDir();
    const straight = cli(['temporal-order', ...flags, '--out', clean, '--backend', 'cpu', '--workers', '1']);
    expect(straight.status, straight.stderr).toBe(0);
    expect(comparable(results(file))).toEqual(
      comparable(results(join(clean, 'temporal-order', 'quick', 'results.jsonl'))),
    );
  });
});
