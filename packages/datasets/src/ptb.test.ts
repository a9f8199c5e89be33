import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testData } from '@cliffguard/testing/data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir } from './download.js';
import { loadPolyphonic } from './polyphonic.js';
import { bitsPerChar, loadPtbChars, type PtbChars, parsePtbCharFile, UNKNOWN_SYMBOL } from './ptb.js';

// $CLIFFGUARD_DATA, ../shared/data or the download cache; else these suites skip (see @cliffguard/testing/data)
const data = await testData(['ptb'], { defaultCacheDir, loadPtbChars, loadPolyphonic });

data.describe('loadPtbChars on the real files (facts of the data README)', () => {
  let ptb: PtbChars;
  beforeAll(async () => {
    ptb = await loadPtbChars({ dir: data.dir });
  });

  it('lines and symbols per split, one newline symbol per line', () => {
    expect(ptb.lines).toEqual({ train: 42_068, valid: 3_370, test: 3_761 });
    expect([ptb.train.length, ptb.valid.length, ptb.test.length]).toEqual([5_017_482, 393_042, 442_423]);
    const nl = ptb.vocab.indexOf('\n');
    const without = (s: Int32Array) => s.filter((k) => k !== nl).length;
    expect([without(ptb.train), without(ptb.valid), without(ptb.test)]).toEqual([
      4_975_414, 389_672, 438_662,
    ]);
  });

  it('50 symbols from train (49 printable + newline), sorted; test uses 48 of them', () => {
    expect(ptb.vocab.length).toBe(50);
    expect(ptb.vocab[0]).toBe('\n');
    expect(ptb.vocab.filter((s) => s.length === 1 && s > ' ' && s < '\x7f').length).toBe(49);
    expect([...ptb.vocab].sort()).toEqual(ptb.vocab);
    expect(new Set(ptb.test).size).toBe(48);
    expect(ptb.unknownIndex).toBe(-1);
  });

  it('decodes back to the file: each line its words joined by "_", spaces removed', () => {
    // independent: straight from the raw text of valid
    const raw = readFileSync(join(data.dir, 'ptb', 'ptb.char.valid.txt'), 'latin1');
    const expected = raw
      .split('\n')
      .slice(0, -1)
      .map((line) => `${line.replaceAll(' ', '')}\n`)
      .join('');
    expect(Array.from(ptb.valid, (k) => ptb.vocab[k]).join('')).toBe(expected);
  });

  it('also accepts a folder with the files in a ptb/ subfolder (as the shared data dir has them)', () => {
    expect(ptb.dir).toBe(join(data.dir, 'ptb'));
  });
});

describe('bad text input and the unseen-symbol policy', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ptb-bad-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const enc = (s: string) => new TextEncoder().encode(s);

  it('parses the format: symbol, space, ..., newline, space', () => {
    expect(Array.from(parsePtbCharFile(enc('a _ b \n c \n '), 'x'))).toEqual(
      [...'a_b\nc\n'].map((c) => c.charCodeAt(0)),
    );
  });

  it.each([
    ['empty', '', /x is empty/],
    ['odd length', 'a b \n', /odd length \(5 bytes\)/],
    ['missing space', 'ab \n  ', /byte 1 is 0x62; expected a space/],
    ['no final newline', 'a b ', /does not end with a newline symbol/],
    ['control byte', 'a \x01 \n ', /byte 2 is 0x01; expected a printable ASCII symbol/],
  ])('%s is a clear error', (_, text, error) => {
    expect(() => parsePtbCharFile(enc(text), 'x')).toThrow(error);
  });

  it('a binary file is a clear error', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(() => parsePtbCharFile(png, 'img.png')).toThrow(
      /img.png: byte 0 is 0x89; expected a printable ASCII symbol/,
    );
  });

  it("unseen: 'error' names the symbol; 'unk' maps it to <unk>", async () => {
    await writeFile(join(dir, 'ptb.char.train.txt'), 'a b _ a \n ');
    await writeFile(join(dir, 'ptb.char.valid.txt'), 'b a \n ');
    await writeFile(join(dir, 'ptb.char.test.txt'), 'a z _ q \n ');
    await expect(loadPtbChars({ dir })).rejects.toThrow(/test symbol 1 is "z", which train never shows/);
    const unk = await loadPtbChars({ dir, unseen: 'unk' });
    expect(unk.vocab).toEqual(['\n', '_', 'a', 'b', UNKNOWN_SYMBOL]);
    expect(unk.unknownIndex).toBe(4);
    expect(Array.from(unk.test)).toEqual([2, 4, 1, 4, 0]);
    expect(unk.unseenCount).toEqual({ train: 0, valid: 0, test: 2 });
  });

  it('an empty split file fails the load', async () => {
    await writeFile(join(dir, 'ptb.char.test.txt'), '');
    await expect(loadPtbChars({ dir })).rejects.toThrow(/ptb.char.test.txt is empty/);
  });

  it('reads the files from the folder itself', async () => {
    await writeFile(join(dir, 'ptb.char.test.txt'), 'b \n ');
    expect((await loadPtbChars({ dir })).dir).toBe(dir);
  });

  it('missing files say where they were looked for', async () => {
    await expect(loadPtbChars({ dir: join(dir, 'nowhere') })).rejects.toThrow(
      /not found in .*nowhere.*pass \{ dir \} or \{ download: true \}/,
    );
  });
});

describe('bitsPerChar', () => {
  it('equals the mean −log2 p of the symbols', () => {
    const p = [0.5, 0.25, 0.9, 0.01];
    const nats = p.reduce((a, q) => a - Math.log(q), 0);
    const bits = p.reduce((a, q) => a - Math.log2(q), 0) / p.length;
    expect(bitsPerChar(nats, p.length)).toBeCloseTo(bits, 12);
    expect(bitsPerChar(Math.LN2 * 7, 7)).toBeCloseTo(1, 12);
  });

  it('rejects a zero count and a non-finite loss', () => {
    expect(() => bitsPerChar(1, 0)).toThrow(/positive symbol count, got 0/);
    expect(() => bitsPerChar(Number.NaN, 3)).toThrow(/non-finite loss sum: NaN/);
  });
});
