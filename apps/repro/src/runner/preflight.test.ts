// Every output of a sweep is checked for a real write before any run starts (issue 18). The
// cases here fail even for root (a dangling link, a file where a folder belongs, a folder where
// a file belongs); where the tests do not run as root, permissions are checked as well.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertOutputsWritable, assertWritableDir, assertWritableFile, NotWritable } from './preflight.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'repro-pre-'));
const outputs = (d: string) => ({
  dir: join(d, 'exp', 'quick'),
  results: join(d, 'exp', 'quick', 'results.jsonl'),
  checkpoints: join(d, 'exp', 'quick', 'checkpoints'),
  report: join(d, 'exp', 'quick', 'report'),
  index: d,
});

describe('preflight: every output takes a write before any work', () => {
  it('passes on a fresh folder, creating the folders and leaving no probe behind', () => {
    const d = fresh();
    assertOutputsWritable(outputs(d));
    expect(readdirSync(join(d, 'exp', 'quick')).sort()).toEqual(['checkpoints', 'report']);
    expect(readdirSync(join(d, 'exp', 'quick', 'checkpoints'))).toEqual([]);
    expect(existsSync(join(d, 'exp', 'quick', 'results.jsonl'))).toBe(false); // nothing created
  });

  it('leaves an existing results file exactly as it was', () => {
    const d = fresh();
    const o = outputs(d);
    mkdirSync(o.dir, { recursive: true });
    writeFileSync(o.results, '{"runId":"a"}\n{"torn');
    assertOutputsWritable(o);
    expect(readFileSync(o.results, 'utf8')).toBe('{"runId":"a"}\n{"torn');
  });

  it('names the results file when it cannot be written (a link into a folder that is gone)', () => {
    const d = fresh();
    const o = outputs(d);
    mkdirSync(o.dir, { recursive: true });
    symlinkSync(join(d, 'gone', 'results.jsonl'), o.results);
    expect(() => assertOutputsWritable(o)).toThrow(`cannot write the results file ${o.results}: ENOENT`);
    expect(() => assertOutputsWritable(o)).toThrow(/choose another --out\. Nothing has run yet\./);
  });

  it('names the results file when it is a folder', () => {
    const d = fresh();
    const o = outputs(d);
    mkdirSync(o.results, { recursive: true });
    expect(() => assertOutputsWritable(o)).toThrow(
      `cannot write the results file ${o.results}: it is a folder`,
    );
  });

  it('names the checkpoint and report folders when a file stands in their place', () => {
    const d = fresh();
    const o = outputs(d);
    mkdirSync(o.dir, { recursive: true });
    writeFileSync(o.checkpoints, '');
    expect(() => assertOutputsWritable(o)).toThrow(
      `cannot write the checkpoint folder ${o.checkpoints}: EEXIST`,
    );
    const d2 = fresh();
    const o2 = outputs(d2);
    mkdirSync(o2.dir, { recursive: true });
    writeFileSync(o2.report, '');
    expect(() => assertOutputsWritable(o2)).toThrow(`cannot write the report folder ${o2.report}: EEXIST`);
    expect(() => assertOutputsWritable({ ...o2, report: undefined })).not.toThrow(); // a shard renders no report
  });

  it.skipIf(process.getuid?.() === 0)(
    'names a read-only folder or file (not as root, whom permissions do not stop)',
    () => {
      const d = fresh();
      const o = outputs(d);
      mkdirSync(o.checkpoints, { recursive: true });
      writeFileSync(o.results, '');
      chmodSync(o.results, 0o444);
      expect(() => assertWritableFile(o.results, 'the results file')).toThrow(
        /cannot write the results file .*: EACCES/,
      );
      chmodSync(o.checkpoints, 0o555);
      expect(() => assertWritableDir(o.checkpoints, 'the checkpoint folder')).toThrow(/EACCES/);
      chmodSync(o.checkpoints, 0o755);
    },
  );

  it('NotWritable carries the path', () => {
    const e = new NotWritable('/x/y', 'the results file', 'EROFS');
    expect([e.path, e.what, e.name]).toEqual(['/x/y', 'the results file', 'NotWritable']);
  });
});
