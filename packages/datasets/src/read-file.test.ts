import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPtbChars } from './ptb.js';
import { readDataFile } from './read-file.js';

describe('a data file that cannot be read names its path', () => {
  it('a directory in place of a PTB file: the path, and what was expected', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptb-eisdir-'));
    try {
      writeFileSync(join(dir, 'ptb.char.valid.txt'), 'a b\n');
      writeFileSync(join(dir, 'ptb.char.test.txt'), 'a b\n');
      mkdirSync(join(dir, 'ptb.char.train.txt'));
      await expect(loadPtbChars({ dir })).rejects.toThrow(
        `the PTB train file: ${join(dir, 'ptb.char.train.txt')} is a directory, not a file; expected the PTB train file there`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing file and an unreadable one say so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'read-file-'));
    try {
      await expect(readDataFile(join(dir, 'nope.pkl'), 'the jsb pickle')).rejects.toThrow(
        `the jsb pickle: ${join(dir, 'nope.pkl')} does not exist`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
