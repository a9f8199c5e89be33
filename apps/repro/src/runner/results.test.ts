import { appendFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFloat32, encodeFloat32, loadCheckpoint, saveCheckpoint } from '../core/checkpoint.js';
import type { ResultLine } from '../core/types.js';
import { appendResultLine, dropTornLines, mergeResults, readResultFile } from './results.js';

const line = (runId: string, extra: Partial<ResultLine> = {}): ResultLine => ({
  runId,
  experiment: 'e',
  profile: 'quick',
  protocol: 'p1',
  configHash: 'h',
  config: { a: 1 },
  seed: 0,
  result: { value: runId.length },
  timing: { seconds: 1, backend: 'cpu', resumedFromStep: 0, finishedAt: '', host: '' },
  ...extra,
});

describe('results file', () => {
  it('appends whole lines and reads them back', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'repro-')), 'results.jsonl');
    appendResultLine(file, line('a'));
    appendResultLine(file, line('b'));
    expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(3);
    expect(readResultFile(file).lines.map((l) => l.runId)).toEqual(['a', 'b']);
  });

  it('survives a torn last line: skips it and starts the next append on a fresh line', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'repro-')), 'results.jsonl');
    appendResultLine(file, line('a'));
    appendFileSync(file, '{"runId":"b","experi'); // a crash mid-write
    expect(readResultFile(file).skipped).toEqual([2]);
    appendResultLine(file, line('c'));
    const read = readResultFile(file);
    expect(read.lines.map((l) => l.runId)).toEqual(['a', 'c']);
    expect(read.skipped).toEqual([2]);
  });

  it('de-duplicates by run id, keeping the first', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'repro-')), 'results.jsonl');
    appendResultLine(file, line('a', { seed: 1 }));
    appendResultLine(file, line('a', { seed: 2 }));
    const read = readResultFile(file);
    expect(read.lines).toHaveLength(1);
    expect(read.lines[0].seed).toBe(1);
    expect(read.duplicates).toEqual(['a']);
  });

  it('merges disjoint shards and refuses differing duplicates or mismatched protocols', () => {
    const merged = mergeResults([
      { name: 'x', lines: [line('c'), line('a')] },
      { name: 'y', lines: [line('b')] },
    ]);
    expect(merged.map((l) => l.runId)).toEqual(['a', 'b', 'c']);
    expect(() =>
      mergeResults([
        { name: 'x', lines: [line('c'), line('a')], lineNumbers: [1, 2] },
        { name: 'y', lines: [line('a', { result: { value: 9 } })], lineNumbers: [7] },
      ]),
    ).toThrow(/run a is recorded twice with different results, at x line 2 and at y line 7/);
    expect(() =>
      mergeResults([
        { name: 'x', lines: [line('a')] },
        { name: 'y', lines: [line('b', { protocol: 'p2' })] },
      ]),
    ).toThrow(/protocol 'p2'/);
    expect(() =>
      mergeResults([
        { name: 'x', lines: [line('a')] },
        { name: 'y', lines: [line('b', { profile: 'paper' })] },
      ]),
    ).toThrow(/profile 'paper'/);
  });
});

describe('a run recorded twice (two processes ran it) and torn lines (issue 18)', () => {
  const timed = (runId: string, host: string) =>
    line(runId, { timing: { seconds: 3, backend: 'cpu', resumedFromStep: 0, finishedAt: host, host } });

  it('merge keeps one of two records that differ only in timing, with a warning naming both lines', () => {
    const warnings: string[] = [];
    const merged = mergeResults(
      [
        { name: 'x', lines: [timed('a', 'h1'), line('b'), timed('a', 'h2')], lineNumbers: [1, 2, 3] },
        { name: 'y', lines: [timed('a', 'h3')], lineNumbers: [4] },
      ],
      (m) => warnings.push(m),
    );
    expect(merged.map((l) => l.runId)).toEqual(['a', 'b']);
    expect(merged[0].timing.host).toBe('h1');
    expect(warnings).toEqual([
      'run a is recorded twice (x line 1 and x line 3), the same run apart from timing: keeping x line 1',
      'run a is recorded twice (x line 1 and y line 4), the same run apart from timing: keeping x line 1',
    ]);
  });

  it('the reader reports each repeat with its line, the kept line, and whether they agree', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'repro-')), 'results.jsonl');
    appendResultLine(file, timed('a', 'h1'));
    appendResultLine(file, line('b'));
    appendResultLine(file, timed('a', 'h2'));
    appendResultLine(file, line('a', { result: { other: true } }));
    const read = readResultFile(file);
    expect(read.lineNumbers).toEqual([1, 2]);
    expect(read.duplicateLines.map(({ record: _r, ...d }) => d)).toEqual([
      { runId: 'a', line: 3, first: 1, identical: true },
      { runId: 'a', line: 4, first: 1, identical: false },
    ]);
  });

  it('dropTornLines rewrites the file without torn lines, keeping them aside, and the rest byte for byte', () => {
    const d = mkdtempSync(join(tmpdir(), 'repro-'));
    const file = join(d, 'results.shard-1-of-3.jsonl');
    appendResultLine(file, line('a'));
    appendFileSync(file, '{"runId":"b","experi'); // a crash mid-write
    appendResultLine(file, line('c')); // the next append starts a fresh line
    appendFileSync(file, '{"runId":"d"'); // and a torn last line
    const whole = readFileSync(file, 'utf8').split('\n');
    const { dropped, savedTo } = dropTornLines(file, new Date('2026-01-02T03:04:05.678Z'));
    expect(dropped).toEqual([2, 4]);
    expect(savedTo).toBe(`${file}.torn-2026-01-02T03-04-05-678Z`);
    expect(readFileSync(file, 'utf8')).toBe(`${whole[0]}\n${whole[2]}\n`);
    expect(readFileSync(savedTo!, 'utf8')).toBe('line 2: {"runId":"b","experi\nline 4: {"runId":"d"\n');
    const read = readResultFile(file);
    expect([read.lines.map((l) => l.runId), read.skipped]).toEqual([['a', 'c'], []]);
    expect(dropTornLines(file)).toEqual({ dropped: [] });
    expect(readdirSync(d).sort()).toEqual([basename(file), basename(savedTo!)].sort()); // no temp files
  });
});

describe('checkpoints', () => {
  it('round-trips float32 weights exactly', () => {
    const values = new Float32Array([0.1, -3.5e-8, 1e30, Math.PI, -0]);
    const back = decodeFloat32(encodeFloat32(values));
    expect(Array.from(back)).toEqual(Array.from(values));
    const view = new Float32Array(new Float32Array([9, 1, 2, 3]).buffer, 4, 2);
    expect(Array.from(decodeFloat32(encodeFloat32(view)))).toEqual([1, 2]);
  });

  it('saves atomically and ignores a checkpoint of another run or config', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'repro-')), 'run.json');
    saveCheckpoint(file, { runId: 'r', configHash: 'h', step: 5, savedAt: '', state: { x: [1, 2] } });
    saveCheckpoint(file, { runId: 'r', configHash: 'h', step: 9, savedAt: '', state: { x: [3] } });
    expect(loadCheckpoint(file, 'r', 'h')).toMatchObject({ step: 9, state: { x: [3] } });
    expect(loadCheckpoint(file, 'r', 'other')).toBeUndefined();
    expect(loadCheckpoint(file, 'q', 'h')).toBeUndefined();
  });
});
