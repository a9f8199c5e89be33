/**
 * Hostile and damaged input never hangs, crashes or loads wrong; a sweep never loses work
 * (issue 18, "Sweeps"), end to end through the built CLI:
 * 1. a bad --checkpoint-every is refused (it used to turn checkpointing off silently);
 * 2. an output that cannot be written stops the command before any run (it used to be found
 *    after every run had trained to its end);
 * 3. damaged checkpoints are named, set aside, and their runs start again (they used to fail the
 *    run on every resume);
 * 4. a torn line in a shard: merge says which file, which line and what to do, and doing it
 *    (running the shard again) repairs the file (merge used to refuse forever);
 * 5. a run recorded twice: merge keeps one of identical records and names both lines of
 *    differing ones; a live lock is refused naming host and pid, a stale one taken over.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeFloat32, saveCheckpoint } from './core/checkpoint.js';
import { fileNameFor, hashOf } from './core/ids.js';
import { getExperiment } from './experiments/registry.js';
import { planRuns } from './runner/plan.js';
import { cli, freshDir, rawLines, results } from './test-helpers.js';

const cliffRuns = async () =>
  planRuns(await getExperiment('cliff'), { profile: 'quick', flags: {} })
    .runs.map((r) => r.id)
    .sort();
const cliffArgs = (out: string, ...more: string[]) => [
  'cliff',
  '--out',
  out,
  '--workers',
  '0',
  '--backend',
  'cpu',
  ...more,
];

describe('1. --checkpoint-every', () => {
  it('refuses abc, -5, Infinity and an empty value, naming it, before doing anything', () => {
    for (const bad of ['abc', '-5', 'Infinity', '']) {
      const out = freshDir();
      const r = cli(cliffArgs(out, '--checkpoint-every', bad));
      expect(r.status, bad).toBe(1);
      expect(r.stderr).toContain(`argument '${bad}' is invalid`);
      expect(r.stderr).toContain(`--checkpoint-every expects the seconds between checkpoints: a number >= 0`);
      expect(r.stderr).toContain(`got '${bad}'`);
      expect(readdirSync(out)).toEqual([]);
    }
  });

  it('accepts 30s as 30 seconds (and plain numbers as before)', () => {
    const out = freshDir();
    const r = cli(cliffArgs(out, '--checkpoint-every', '30s'));
    expect(r.status, r.stderr).toBe(0);
    expect(results(join(out, 'cliff', 'quick', 'results.jsonl'))).toHaveLength(8);
  });
});

describe('2. outputs that cannot be written', () => {
  it('a results file that cannot be written stops the command before any run, naming it', () => {
    const out = freshDir();
    const dir = join(out, 'cliff', 'quick');
    mkdirSync(dir, { recursive: true });
    // a link into a folder that is gone: fails for root too (permissions would not)
    symlinkSync(join(out, 'unmounted', 'results.jsonl'), join(dir, 'results.jsonl'));
    const r = cli(cliffArgs(out));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`repro: cannot write the results file ${join(dir, 'results.jsonl')}: ENOENT`);
    expect(r.stderr).toContain('Nothing has run yet');
    expect(r.stdout).not.toMatch(/\[1\/8\]/); // no run trained (it used to train all 8, then fail each)
    expect(r.stdout).not.toMatch(/to run/);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('a report folder that cannot be written: the same, naming it', () => {
    const out = freshDir();
    const dir = join(out, 'cliff', 'quick');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'report'), 'a file where the report folder belongs');
    const r = cli(cliffArgs(out));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`cannot write the report folder ${join(dir, 'report')}: EEXIST`);
    expect(r.stdout).not.toMatch(/\[1\/8\]/);
    expect(existsSync(join(dir, 'results.jsonl'))).toBe(false);
  });

  it('a lock that cannot be taken is named too', () => {
    const out = freshDir();
    const dir = join(out, 'cliff', 'quick');
    mkdirSync(join(dir, '.lock'), { recursive: true });
    const r = cli(cliffArgs(out));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`cannot read the lock ${join(dir, '.lock')}: EISDIR`);
  });
});

describe('3. damaged checkpoints', () => {
  it('are named and set aside, and their runs start again from step 0 and finish', async () => {
    const flags = {
      lengths: '10',
      updates: '30',
      inits: 'sigmoid',
      methods: 'SGD,SGD-C,SGD-CR',
      'eval-size': '200',
    };
    const { runs } = planRuns(await getExperiment('temporal-order'), { profile: 'quick', flags });
    expect(runs).toHaveLength(3);
    const out = freshDir();
    const ck = join(out, 'temporal-order', 'quick', 'checkpoints');
    mkdirSync(ck, { recursive: true });
    const file = (i: number) => join(ck, `${fileNameFor(runs[i].id)}.json`);
    const tensor = (shape: number[], n = shape[0] * (shape[1] ?? 1)) => ({
      shape,
      data: encodeFloat32(new Float32Array(n)),
    });
    // every parameter of the model (6 inputs, 50 hidden, 4 outputs), W_rec with `n` values
    const state = (i: number, n: number) => ({
      runId: runs[i].id,
      configHash: hashOf(runs[i].config),
      step: 12,
      savedAt: '',
      state: {
        weights: {
          W_in: tensor([6, 50]),
          W_rec: tensor([50, 50], n),
          b: tensor([50]),
          W_out: tensor([50, 4]),
          b_out: tensor([4]),
        },
      },
    });
    // 0: a legacy checkpoint cut short ("Unterminated string in JSON" on every resume, before)
    writeFileSync(file(0), JSON.stringify(state(0, 2500)).slice(0, 2000));
    // 1: a checkpoint of the new format, cut short
    saveCheckpoint(file(1), state(1, 2500));
    truncateSync(file(1), 5000);
    // 2: a legacy checkpoint, valid JSON, but W_rec short of its shape ("offset is out of bounds")
    writeFileSync(file(2), JSON.stringify(state(2, 7)));
    const r = cli([
      'temporal-order',
      ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]),
      ...['--out', out, '--workers', '0', '--backend', 'cpu'],
    ]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/3 runs: 0 already done, 3 to run; backend/); // none counted as resumable
    expect(r.stdout).toContain(`warning: checkpoint ${file(0)} is damaged: it is not valid JSON (`);
    expect(r.stdout).toContain(`warning: checkpoint ${file(1)} is damaged: it is truncated: the payload has`);
    expect(r.stdout).toContain(
      `warning: checkpoint ${file(2)} is damaged: state.weights.W_rec holds 28 bytes of float32 data for the shape [50,50], which needs 10000 (a legacy checkpoint)`,
    );
    for (let i = 0; i < 3; i++)
      expect(r.stdout).toMatch(
        new RegExp(
          `set aside as ${fileNameFor(runs[i].id)}\\.json\\.bad-\\S+, run \\S+ starts again from step 0`,
        ),
      );
    const lines = results(join(out, 'temporal-order', 'quick', 'results.jsonl'));
    expect(lines.map((l) => l.runId).sort()).toEqual(runs.map((x) => x.id).sort());
    for (const l of lines) expect(l.timing.resumedFromStep).toBe(0);
    const left = readdirSync(ck);
    expect(left.filter((f) => f.endsWith('.json'))).toEqual([]);
    expect(left.filter((f) => /\.json\.bad-/.test(f))).toHaveLength(3);
  });
});

describe('4 and 5. shards: torn lines, runs recorded twice, the lock', () => {
  it('a torn line: merge names file, line and the command; running it repairs the shard; merge then succeeds', async () => {
    const out = freshDir();
    for (const k of [0, 1]) {
      const r = cli(cliffArgs(out, '--shard', `${k}/2`));
      expect(r.status, r.stderr).toBe(0);
    }
    const dir = join(out, 'cliff', 'quick');
    const shard1 = join(dir, 'results.shard-1-of-2.jsonl');
    const whole = readFileSync(shard1, 'utf8');
    const rows = rawLines(shard1);
    expect(rows).toHaveLength(4);
    truncateSync(shard1, whole.length - Math.floor(rows[3].length / 2)); // a crash mid-write of the last line

    const refused = cli(['merge', '--experiment', 'cliff', '--out', out]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`repro: repro merge: ${shard1} line 4 is not a complete result (`);
    expect(refused.stderr).toContain(
      `Run that shard again: \`pnpm repro cliff --profile quick --shard 1/2 --out ${out}\``,
    );

    // doing what it says
    const again = cli([
      'cliff',
      '--profile',
      'quick',
      '--shard',
      '1/2',
      '--out',
      out,
      '--workers',
      '0',
      '--backend',
      'cpu',
    ]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain(
      `warning: ${shard1}: line(s) 4 held no complete result (a write cut short by a crash); rewrote the file without them`,
    );
    expect(again.stdout).toMatch(/4 runs, shard 1\/2: 3 already done, 1 to run/);
    const repaired = rawLines(shard1);
    expect(repaired.slice(0, 3)).toEqual(rows.slice(0, 3)); // the whole lines kept byte for byte
    expect(readdirSync(dir).filter((f) => f.startsWith('results.shard-1-of-2.jsonl.torn-'))).toHaveLength(1);

    const merged = cli(['merge', '--experiment', 'cliff', '--out', out]);
    expect(merged.status, merged.stderr).toBe(0);
    expect(results(join(dir, 'results.jsonl')).map((l) => l.runId)).toEqual(await cliffRuns());
  });

  it('a run recorded twice: merge keeps one of identical records and names both lines when they differ', () => {
    const out = freshDir();
    const r = cli(cliffArgs(out, '--shard', '0/2'));
    expect(r.status, r.stderr).toBe(0);
    const shard0 = join(out, 'cliff', 'quick', 'results.shard-0-of-2.jsonl');
    const first = JSON.parse(rawLines(shard0)[0]);
    // the same run written again by a second process: same result, its own timing
    appendFileSync(
      shard0,
      `${JSON.stringify({ ...first, timing: { ...first.timing, host: 'other', seconds: 9 } })}\n`,
    );
    const ok = cli(['merge', shard0, '-o', join(out, 'merged.jsonl')]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(
      `repro merge: warning: run ${first.runId} is recorded twice (${shard0} line 1 and ${shard0} line 5), the same run apart from timing: keeping ${shard0} line 1`,
    );
    expect(ok.stdout).toMatch(/4 runs ->/);
    // and with a different result
    appendFileSync(shard0, `${JSON.stringify({ ...first, result: { ...first.result, maxStep: -1 } })}\n`);
    const bad = cli(['merge', shard0, '-o', join(out, 'merged2.jsonl')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(
      `cannot merge: run ${first.runId} is recorded twice with different results, at ${shard0} line 1 and at ${shard0} line 6`,
    );
    expect(existsSync(join(out, 'merged2.jsonl'))).toBe(false);
  });

  it('a live lock is refused, naming host and pid; a stale one (pid gone) is taken over', () => {
    const out = freshDir();
    const dir = join(out, 'cliff', 'quick');
    mkdirSync(dir, { recursive: true });
    const lock = join(dir, '.lock.shard-0-of-2');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: 'x', token: 't' }));
    const refused = cli(cliffArgs(out, '--shard', '0/2'));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(
      `another repro process (pid ${process.pid} on host ${hostname()} since x)`,
    );
    // the format before issue 18, a pid that is gone
    writeFileSync(lock, '999999999');
    const taken = cli(cliffArgs(out, '--shard', '0/2'));
    expect(taken.status, taken.stderr).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });
});
