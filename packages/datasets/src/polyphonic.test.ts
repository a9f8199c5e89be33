import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testData } from '@cliffguard/testing/data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir, sha256Hex } from './download.js';
import { musicPickle, op } from './pickleBuilder.test-helper.js';
import {
  CANONICAL_PARSE_SHA256,
  decodeMusicCache,
  encodeMusicCache,
  loadPolyphonic,
  type MusicSetName,
  type Piece,
  type PolyphonicSet,
  validateMusic,
} from './polyphonic.js';
import { loadPtbChars } from './ptb.js';

// the data README's table
const FACTS: Record<
  MusicSetName,
  { pieces: number[]; steps: number[]; notes: [number, number]; maxChord: number }
> = {
  jsb: { pieces: [229, 76, 77], steps: [13_807, 4_602, 4_725], notes: [43, 96], maxChord: 4 },
  nottingham: { pieces: [694, 173, 170], steps: [176_561, 45_513, 44_463], notes: [31, 93], maxChord: 9 },
  musedata: { pieces: [524, 135, 124], steps: [245_202, 82_755, 64_339], notes: [21, 105], maxChord: 15 },
  'piano-midi': { pieces: [87, 12, 25], steps: [75_911, 8_540, 19_036], notes: [21, 108], maxChord: 12 },
};
const NAMES = Object.keys(FACTS) as MusicSetName[];

// $CLIFFGUARD_DATA, ../shared/data or the download cache; else this suite skips (see @cliffguard/testing/data)
const data = await testData(NAMES, { defaultCacheDir, loadPtbChars, loadPolyphonic });

/** An exact fingerprint of every piece, step and note (two independent rolling hashes). */
function fingerprint(set: PolyphonicSet): string {
  let a = 0x811c9dc5;
  let b = 7;
  const mix = (v: number) => {
    a = Math.imul(a ^ (v & 0xffff), 0x01000193) >>> 0;
    b = (b * 31 + v + 1) % 2_147_483_647;
  };
  for (const split of [set.train, set.valid, set.test]) {
    mix(-1);
    mix(split.length);
    for (const piece of split) {
      mix(-2);
      mix(piece.length);
      for (const step of piece) {
        mix(-3);
        for (const n of step) mix(n);
      }
    }
  }
  return `${a}:${b}`;
}

data.describe('loadPolyphonic on the four real pickles (facts of the data README)', () => {
  let cacheDir: string;
  const first = {} as Record<MusicSetName, PolyphonicSet>;
  beforeAll(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'music-cache-'));
    for (const name of NAMES) first[name] = await loadPolyphonic(name, { dir: data.dir, cacheDir });
  });
  afterAll(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it.each(NAMES)('%s: pieces and time steps per split, notes used, largest chord', (name) => {
    const set = first[name];
    const facts = FACTS[name];
    expect(set.fromCache).toBe(false);
    expect([set.modified, set.warning]).toEqual([false, undefined]);
    const splits: Piece[][] = [set.train, set.valid, set.test];
    expect(splits.map((s) => s.length)).toEqual(facts.pieces);
    expect(splits.map((s) => s.reduce((a, p) => a + p.length, 0))).toEqual(facts.steps);
    let lo = 999;
    let hi = -1;
    let chord = 0;
    let unordered = 0;
    for (const split of splits) {
      for (const piece of split) {
        for (const step of piece) {
          chord = Math.max(chord, step.length);
          for (let i = 0; i < step.length; i++) {
            lo = Math.min(lo, step[i]);
            hi = Math.max(hi, step[i]);
            if (i > 0 && step[i] <= step[i - 1]) unordered++;
          }
        }
      }
    }
    expect([lo, hi]).toEqual(facts.notes);
    expect(chord).toBe(facts.maxChord);
    expect(unordered).toBe(0);
  });

  it.each(NAMES)(
    '%s: the second load comes from the cache keyed by sha256 and is identical',
    async (name) => {
      const second = await loadPolyphonic(name, { dir: data.dir, cacheDir });
      expect(second.fromCache).toBe(true);
      expect(second.modified).toBe(false);
      expect(second.sha256).toBe(first[name].sha256);
      // the entry is the canonical parse (Python's pickle + numpy give the same encoding)
      const entry = readFileSync(join(cacheDir, 'parsed', `${first[name].sha256}.cgpr`));
      expect(Buffer.from(entry.subarray(entry.length - 32)).toString('hex')).toBe(
        CANONICAL_PARSE_SHA256[name],
      );
      expect(existsSync(join(cacheDir, 'parsed', `${first[name].sha256}.cgpr`))).toBe(true);
      expect(fingerprint(second)).toBe(fingerprint(first[name]));
    },
  );

  it('a damaged cache file is ignored and the pickle parsed again', async () => {
    const path = join(cacheDir, 'parsed', `${first.jsb.sha256}.cgpr`);
    const damaged = readFileSync(path);
    damaged[100] ^= 0xff;
    await writeFile(path, damaged);
    const again = await loadPolyphonic('jsb', { dir: data.dir, cacheDir });
    expect(again.fromCache).toBe(false);
    expect(fingerprint(again)).toBe(fingerprint(first.jsb));
    expect((await loadPolyphonic('jsb', { dir: data.dir, cacheDir })).fromCache).toBe(true);
  });

  it('a rewritten cache entry of a canonical pickle (valid format, other notes) is ignored and the pickle parsed', async () => {
    const path = join(cacheDir, 'parsed', `${first.jsb.sha256}.cgpr`);
    const forged = { train: first.jsb.train.slice(1), valid: first.jsb.valid, test: first.jsb.test };
    await writeFile(path, encodeMusicCache(forged, first.jsb.sha256));
    expect(decodeMusicCache(readFileSync(path), first.jsb.sha256)).not.toBeNull(); // a well-formed entry
    const again = await loadPolyphonic('jsb', { dir: data.dir, cacheDir });
    expect(again.fromCache).toBe(false);
    expect(fingerprint(again)).toBe(fingerprint(first.jsb));
    expect((await loadPolyphonic('jsb', { dir: data.dir, cacheDir })).fromCache).toBe(true);
  });

  it('a truncated real pickle: refused by its sha256 by default; with allowModified a clear parse error; nothing cached', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'music-cut-'));
    try {
      const file = join(dir, 'cut.pickle');
      await writeFile(
        file,
        readFileSync(join(data.dir, 'music', 'JSB_Chorales.pickle')).subarray(0, 1_000_000),
      );
      await expect(loadPolyphonic('jsb', { file, cacheDir: join(dir, 'cache') })).rejects.toThrow(
        /cut.pickle: not the canonical JSB_Chorales.pickle: sha256 [0-9a-f]{16}\.\.\., 1000000 bytes; expected 69dc4c3e52800959\.\.\., 2051809 bytes \(modified, damaged or another file; pass \{ allowModified: true \} to load it anyway\)/,
      );
      await expect(
        loadPolyphonic('jsb', { file, cacheDir: join(dir, 'cache'), allowModified: true }),
      ).rejects.toThrow(
        /^cannot read pickle .*cut.pickle: .*\(truncated\) at offset \d+ \(opcode [A-Z_]+\)$/,
      );
      expect(existsSync(join(dir, 'cache'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('bad music input: a clear error and nothing cached', () => {
  let dir: string;
  let cacheDir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'music-bad-'));
    cacheDir = join(dir, 'cache');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // hand-made pickles are not the canonical JSB file: allowModified lets them reach validation
  const load = async (name: string, pickle: Uint8Array) => {
    const file = join(dir, name);
    await writeFile(file, pickle);
    return loadPolyphonic('jsb', { file, cacheDir, allowModified: true });
  };
  const nothingCached = () =>
    expect(existsSync(join(cacheDir, 'parsed')) ? readdirSync(join(cacheDir, 'parsed')) : []).toEqual([]);

  it('a small well-formed pickle: refused by default (not the canonical file), loaded and flagged with allowModified', async () => {
    const file = join(dir, 'ok.pickle');
    const pickle = musicPickle({ train: [[[60, 64], []]], valid: [[[21]]], test: [[[108]]] });
    await writeFile(file, pickle);
    await expect(loadPolyphonic('jsb', { file, cache: false })).rejects.toThrow(
      `ok.pickle: not the canonical JSB_Chorales.pickle: sha256 ${sha256Hex(pickle).slice(0, 16)}..., ${pickle.length} bytes; expected 69dc4c3e52800959..., 2051809 bytes`,
    );
    const set = await loadPolyphonic('jsb', { file, cache: false, allowModified: true });
    expect([set.train, set.valid, set.test]).toEqual([[[[60, 64], []]], [[[21]]], [[[108]]]]);
    expect(set.modified).toBe(true);
    expect(set.warning).toBe(
      `${file} is not the canonical JSB_Chorales.pickle (sha256 ${sha256Hex(pickle)}, expected 69dc4c3e52800959ac0ab3b82aa3e5f55285ce64f1705acb3e3a8ef77a5c051c); loaded because allowModified is set`,
    );
    nothingCached();
  });

  it('a cache entry made with allowModified never lets the modified file load without it', async () => {
    const file = join(dir, 'cached.pickle');
    await writeFile(file, musicPickle({ train: [[[60]]], valid: [], test: [] }));
    const first = await loadPolyphonic('jsb', { file, cacheDir, allowModified: true });
    const again = await loadPolyphonic('jsb', { file, cacheDir, allowModified: true });
    expect([first.fromCache, again.fromCache, again.modified]).toEqual([false, true, true]);
    expect(again.warning).toMatch(/cached.pickle is not the canonical JSB_Chorales.pickle/);
    await expect(loadPolyphonic('jsb', { file, cacheDir })).rejects.toThrow(
      /not the canonical JSB_Chorales.pickle/,
    );
    // an entry only answers for the pickle it was made from (its sha256 is inside)
    const entry = readFileSync(join(cacheDir, 'parsed', `${first.sha256}.cgpr`));
    expect(decodeMusicCache(entry, first.sha256)).toEqual({ train: [[[60]]], valid: [], test: [] });
    expect(decodeMusicCache(entry, '0'.repeat(64))).toBeNull();
    await rm(join(cacheDir, 'parsed'), { recursive: true, force: true });
  });

  it.each([20, 109, 0, -5])('note %i outside 21..108', async (note) => {
    await expect(
      load('range.pickle', musicPickle({ train: [[[60], [note]]], valid: [], test: [] })),
    ).rejects.toThrow(
      new RegExp(
        `range.pickle: train\\[0\\]\\[1\\] has note ${note}; expected MIDI notes 21..108 \\(88 piano keys\\); made at offset \\d+ \\(opcode TUPLE\\)$`,
      ),
    );
    nothingCached();
  });

  it('notes not ascending', async () => {
    await expect(
      load('order.pickle', musicPickle({ train: [], valid: [[[64, 60]]], test: [] })),
    ).rejects.toThrow(
      /valid\[0\]\[0\] has notes \[64, 60\]; expected them ascending, each once; made at offset \d+ \(opcode TUPLE\)/,
    );
    nothingCached();
  });

  it('a dict without the test split', async () => {
    const noTest = Uint8Array.from([...op.proto2(), ...op.emptyDict(), ...op.stop()]);
    await expect(load('empty.pickle', noTest)).rejects.toThrow(
      /empty.pickle: 'train' should be a list of pieces, got nothing: the dict has no 'train'; made at offset 2 \(opcode EMPTY_DICT\)/,
    );
    nothingCached();
  });

  it('a pickle calling os.system', async () => {
    const evil = Uint8Array.from([
      ...op.proto2(),
      ...op.global('os', 'system'),
      ...op.shortBinString('echo pwned'),
      0x85,
      ...op.reduce(),
      ...op.stop(),
    ]);
    await expect(load('evil.pickle', evil)).rejects.toThrow(
      /asks for the Python global 'os.system'.* at offset 2 \(opcode GLOBAL\)/,
    );
    nothingCached();
  });

  it('unknown set names and missing files', async () => {
    await expect(loadPolyphonic('bach' as MusicSetName, { dir })).rejects.toThrow(
      /unknown music set 'bach'; expected one of jsb, nottingham/,
    );
    await expect(loadPolyphonic('nottingham', { dir })).rejects.toThrow(
      /Nottingham.pickle \(nottingham\) not found in/,
    );
    await expect(loadPolyphonic('jsb', { file: join(dir, 'nope.pickle') })).rejects.toThrow(
      /nope.pickle does not exist/,
    );
  });
});

describe('validateMusic: dense lists, notes in range, bounded messages', () => {
  const ok = () => ({ train: [[[60]]], valid: [], test: [] });
  const asDict = (sets: Record<string, unknown>) => new Map(Object.entries(sets));

  it('accepts exactly train, valid and test', () => {
    expect(validateMusic(asDict(ok()), 'x')).toEqual(ok());
    expect(() => validateMusic(asDict({ ...ok(), extra: [] }), 'x')).toThrow(
      /x: the dict has the key 'extra'; expected exactly train, valid, test/,
    );
  });

  it('a list with holes is refused at its first hole, even when its length is 2^32-1', () => {
    const holes: number[][][] = [];
    holes.length = 2 ** 32 - 1; // what BUILD could set on a list through the old reader
    const t0 = performance.now();
    expect(() => validateMusic(asDict({ ...ok(), train: holes }), 'x')).toThrow(
      'x: train[0] should be a list of steps, got nothing (a hole)',
    );
    const piece: number[][] = [[60]];
    piece[3] = [62];
    expect(() => validateMusic(asDict({ ...ok(), valid: [piece] }), 'x')).toThrow(
      'x: valid[0][1] should be a list of notes, got nothing (a hole)',
    );
    const gap: number[] = [60];
    gap[2] = 64;
    expect(() => validateMusic(asDict({ ...ok(), test: [[gap]] }), 'x')).toThrow(
      'x: test[0][0] has note nothing (a hole); expected MIDI notes 21..108',
    );
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it('messages stay printable and under 300 characters, whatever the data and the file name', () => {
    const chord = Array.from({ length: 100_000 }, (_, i) => 108 - (i % 88));
    const name = `${'\u001b[31m'.repeat(100)}.pickle`;
    for (const [sets, pattern] of [
      [{ ...ok(), train: [[chord]] }, /has notes \[108, 107, .*, \.\.\.\]; expected them ascending/],
      [{ ...ok(), train: [[['\u0000'.repeat(1_000_000)]]] }, /has note '\\x00.*'; expected MIDI notes/],
      [{ ...ok(), test: 'x'.repeat(1_000_000) }, /'test' should be a list of pieces, got 'xxx.*'/],
    ] as const) {
      const err = (() => {
        try {
          validateMusic(asDict(sets), name);
        } catch (e) {
          return e as Error;
        }
        throw new Error('accepted');
      })();
      expect(err.message).toMatch(pattern);
      expect(err.message.length).toBeLessThan(300);
      expect(err.message).toMatch(/^[\x20-\x7e]+$/);
    }
  });
});
