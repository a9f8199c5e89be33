import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFloat32, encodeFloat32, loadCheckpoint, saveCheckpoint } from '../core/checkpoint.js';
import type { ResultLine } from '../core/types.js';
import { appendResultLine, mergeResults, readResultFile } from './results.js';

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

  it('merges disjoint shards and refuses duplicates or mismatched protocols', () => {
    const merged = mergeResults([
      { name: 'x', lines: [line('c'), line('a')] },
      { name: 'y', lines: [line('b')] },
    ]);
    expect(merged.map((l) => l.runId)).toEqual(['a', 'b', 'c']);
    expect(() =>
      mergeResults([
        { name: 'x', lines: [line('a')] },
        { name: 'y', lines: [line('a')] },
      ]),
    ).toThrow(/run a appears in both x and y/);
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
