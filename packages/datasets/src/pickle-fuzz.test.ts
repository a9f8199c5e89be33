/**
 * Fuzzing the music pickle reader (tracker issue 18, "Pickles"): hostile hand-made pickles (in
 * this process, and in a child process with a 256 MB heap so a memory bomb ends the child, not
 * the run), truncations and seeded single-byte mutations of the real JSB pickle and of a sample
 * written in its exact format. Every outcome must be a clear error (the file, `offset N`,
 * `(opcode X)`, under 300 printable ASCII characters) or the real notes; a mutation may change a
 * note only where it hit a note's payload bytes, and then the loader refuses the file (sha256)
 * unless told `allowModified`, when it says so. Every case has a time bound and a memory bound.
 * The counts are printed at the end (`pickle fuzz: {...}`).
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testData } from '@cliffguard/testing/data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir } from './download.js';
import { PICKLE_LIMITS, readPickle } from './pickle.js';
import { musicPickle } from './pickleBuilder.test-helper.js';
import {
  byteMutations,
  hostileCases,
  longLegalPickle,
  type MusicEntries,
  mutated,
  pythonMusicPickle,
  runCasesInChildren,
  samplePieces,
  truncationLengths,
  unclearBecause,
} from './pickleFuzz.test-helper.js';
import {
  encodeMusicCache,
  loadPolyphonic,
  type MusicSplit,
  type Piece,
  parseMusicPickle,
} from './polyphonic.js';
import { loadPtbChars } from './ptb.js';

/** per case: a hostile or small pickle, and one parse of the 2 MB real pickle (0.1-0.6 s here) */
const CASE_MS = 2_000;
const REAL_CASE_MS = 10_000;
/** heap a case may leave behind (garbage included: no GC is forced) */
const CASE_HEAP_MB = 64;
const REAL_CASE_HEAP_MB = 400;

const tally = {
  inputs: 0,
  clearErrors: 0,
  unclearErrors: 0,
  crashes: 0,
  hangs: 0,
  sameNotes: 0,
  /** a payload byte changed one note: legal bytes, refused by the loader's sha256 check */
  oneNoteChanged: 0,
  wrongLoads: 0,
};
afterAll(() => {
  console.log(`pickle fuzz: ${JSON.stringify(tally)}`);
});

/** Runs one case with its time and heap bounds; returns what it threw, or its value. */
function bounded<T>(fn: () => T, ms: number, heapMb: number): { error?: unknown; value?: T } {
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let out: { error?: unknown; value?: T };
  try {
    out = { value: fn() };
  } catch (error) {
    out = { error };
  }
  expect(performance.now() - t0).toBeLessThan(ms);
  expect((process.memoryUsage().heapUsed - heap0) / 2 ** 20).toBeLessThan(heapMb);
  return out;
}

/** Counts an error outcome; it must be clear. */
function expectClear(error: unknown, file: string): void {
  tally.inputs++;
  const why = unclearBecause(error, file);
  if (why) tally.unclearErrors++;
  else tally.clearErrors++;
  expect(why, (error as Error)?.message).toBe('');
}

/** The parsed cache encoding without its trailer: equal bytes = the same pieces, steps and notes. */
const notesOf = (sets: Record<MusicSplit, Piece[]>) => {
  const bytes = encodeMusicCache(sets);
  return bytes.subarray(0, bytes.length - 32);
};

describe('hostile pickles: refused quickly, in little memory, with a clear error', () => {
  it.each(hostileCases().map((c) => [c.name, c] as const))('%s', (_, c) => {
    const { error } = bounded(() => readPickle(c.bytes, 'hostile.pickle'), CASE_MS, CASE_HEAP_MB);
    expectClear(error, 'hostile.pickle');
    expect((error as Error).message).toMatch(c.expect);
  });

  it('every hostile case in a child process (256 MB heap, 4 GB address space): a clear error, no crash or hang', async () => {
    // pickle.ts imports nothing, so it runs alone once its types are stripped
    const source = readFileSync(new URL('./pickle.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^import /m);
    const ts = (await import('typescript')).default;
    const js = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const dir = await mkdtemp(join(tmpdir(), 'pickle-hostile-'));
    try {
      await writeFile(join(dir, 'pickle.mjs'), js);
      const cases = hostileCases();
      for (const [i, c] of cases.entries()) await writeFile(join(dir, `${i}.pickle`), c.bytes);
      const outcomes = await runCasesInChildren({
        reader: join(dir, 'pickle.mjs'),
        cases: cases.map((_, i) => ({ path: join(dir, `${i}.pickle`), name: 'hostile.pickle' })),
        caseTimeoutMs: 10_000,
        maxOldSpaceMb: 256,
        virtualMemoryKb: 4_000_000,
        workDir: dir,
      });
      for (const [i, c] of cases.entries()) {
        const o = outcomes[i];
        tally.inputs++;
        if (o.kind === 'crash') tally.crashes++;
        if (o.kind === 'hang') tally.hangs++;
        if (o.kind === 'error')
          tally[unclearBecause(new Error(o.message), 'hostile.pickle') ? 'unclearErrors' : 'clearErrors']++;
        expect(o.kind, `${c.name}: ${o.message}`).toBe('error');
        expect(o.isError).toBe(true);
        expect(unclearBecause(new Error(o.message), 'hostile.pickle'), o.message).toBe('');
        expect(o.message).toMatch(c.expect);
        expect(o.ms, c.name).toBeLessThan(CASE_MS);
        expect(o.heapMb, c.name).toBeLessThan(32);
        expect(o.rssMb, c.name).toBeLessThan(256);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('BUILD on numpy.dtype (or anything) leaves nothing behind: later parses read the same', () => {
    const sets = { train: [[[60, 64], []]], valid: [[[21]]], test: [[[108]]] };
    const little = musicPickle(sets);
    const big = musicPickle(sets, { byteOrder: '>' });
    const before = readPickle(little, 'a');
    for (const c of hostileCases().filter((h) => /BUILD|dtype/.test(h.name))) {
      expect(() => readPickle(c.bytes, 'hostile.pickle')).toThrow(/offset \d+/);
    }
    // a big-endian dtype in one parse does not make the next parse's dtype big-endian
    expect(readPickle(big, 'b')).toEqual(before);
    expect(readPickle(little, 'a')).toEqual(before);
    expect((readPickle(little, 'a') as Map<string, unknown>).get('train')).toEqual([[[60, 64], []]]);
  });

  it('a long legal pickle (4 MB, 2,000,000 items) parses in time linear in its size', () => {
    tally.inputs++;
    const { value } = bounded(() => readPickle(longLegalPickle(2_000_000), 'long'), 5_000, 400);
    expect((value as number[]).length).toBe(2_000_000);
    tally.sameNotes++;
  });

  it('the limits sit where the README says: depth 8, 16 MARKs, 65,536 stack items', () => {
    const nested = (depth: number) => Uint8Array.from([0x80, 2, 0x4e, ...new Array(depth).fill(0x85), 0x2e]); // None in `depth` tuples
    expect(() => readPickle(nested(PICKLE_LIMITS.maxDepth), 'ok')).not.toThrow();
    expect(() => readPickle(nested(PICKLE_LIMITS.maxDepth + 1), 'deep')).toThrow(
      /nested more than 8 deep at offset 11 \(opcode TUPLE1\)/,
    );
    // n MARKs open at once: 16 are allowed (the parse goes on to STOP), the 17th is refused
    const marks = (n: number) => Uint8Array.from([0x80, 2, 0x4e, ...new Array(n).fill(0x28), 0x2e]);
    expect(() => readPickle(marks(PICKLE_LIMITS.maxMarks), 'ok')).toThrow(/STOP with 16 MARKs still open/);
    expect(() => readPickle(marks(PICKLE_LIMITS.maxMarks + 1), 'marks')).toThrow(
      /more than 16 MARKs open at offset 19 \(opcode MARK\)/,
    );
    const items = (n: number) =>
      Uint8Array.from([0x80, 2, 0x5d, 0x28, ...new Array(n - 1).fill(0x4e), 0x65, 0x2e]);
    expect((readPickle(items(PICKLE_LIMITS.maxStack), 'ok') as unknown[]).length).toBe(65_535);
    expect(() => readPickle(items(PICKLE_LIMITS.maxStack + 1), 'stack')).toThrow(
      /more than 65536 items on the stack at offset 65539 \(opcode NONE\)/,
    );
  });
});

// $CLIFFGUARD_DATA, ../shared/data or the download cache; else this suite skips (see @cliffguard/testing/data)
const data = await testData(['jsb'], { defaultCacheDir, loadPtbChars, loadPolyphonic });

data.describe('fuzzing the real JSB pickle and a sample in its exact format', () => {
  let real: Uint8Array;
  let entries: MusicEntries;
  let sample: Uint8Array;
  let samplePayloads: Set<number>;
  let sampleNotes: Uint8Array;
  let realPayloads: Set<number>;
  let realNotes: Uint8Array;
  let dir: string;
  beforeAll(async () => {
    real = new Uint8Array(readFileSync(join(data.dir, 'music', 'JSB_Chorales.pickle')));
    entries = [...(readPickle(real, 'JSB_Chorales.pickle') as Map<string, number[][][]>)];
    const offsets: number[] = [];
    sample = pythonMusicPickle(samplePieces(entries, { test: 4, train: 8, valid: 4 }), 'tuple', offsets);
    samplePayloads = new Set(offsets.flatMap((o) => [0, 1, 2, 3, 4, 5, 6, 7].map((k) => o + k)));
    sampleNotes = notesOf(parseMusicPickle(sample, 'sample.pickle'));
    const realOffsets: number[] = [];
    pythonMusicPickle(entries, 'tuple', realOffsets);
    realPayloads = new Set(realOffsets.flatMap((o) => [0, 1, 2, 3, 4, 5, 6, 7].map((k) => o + k)));
    realNotes = notesOf(parseMusicPickle(real, 'JSB_Chorales.pickle'));
    dir = await mkdtemp(join(tmpdir(), 'pickle-fuzz-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the fixture writer reproduces the real JSB pickle byte for byte (so the sample is in its exact format)', () => {
    expect(Buffer.compare(Buffer.from(pythonMusicPickle(entries, 'tuple')), Buffer.from(real))).toBe(0);
    expect(sample.length).toBeGreaterThan(50_000);
  });

  it('the real JSB pickle cut at 64 offsets: each a clear error', () => {
    for (const n of truncationLengths(real.length, 64, 1)) {
      const { error } = bounded(
        () => parseMusicPickle(real.subarray(0, n), 'JSB_Chorales.pickle'),
        REAL_CASE_MS,
        REAL_CASE_HEAP_MB,
      );
      expectClear(error, 'JSB_Chorales.pickle');
    }
  });

  it('the sample cut at every offset of its first 3,000 bytes and 300 more: each a clear error', () => {
    const cuts = [...Array.from({ length: 3_000 }, (_, i) => i), ...truncationLengths(sample.length, 300, 2)];
    for (const n of cuts) {
      const { error } = bounded(
        () => parseMusicPickle(sample.subarray(0, n), 'sample.pickle'),
        CASE_MS,
        CASE_HEAP_MB,
      );
      expectClear(error, 'sample.pickle');
    }
  });

  it('1,000 seeded single-byte mutations of the sample: a clear error, the same notes, or one note changed by its payload', () => {
    let changed = 0;
    for (const mutation of byteMutations(sample, 1_000, 3)) {
      const { error, value } = bounded(
        () => parseMusicPickle(mutated(sample, mutation), 'sample.pickle'),
        CASE_MS,
        CASE_HEAP_MB,
      );
      if (error !== undefined) {
        expectClear(error, 'sample.pickle');
        continue;
      }
      tally.inputs++;
      const notes = notesOf(value as Record<MusicSplit, Piece[]>);
      const differing =
        notes.length === sampleNotes.length ? notes.filter((b, i) => b !== sampleNotes[i]).length : -1;
      if (differing === 0) tally.sameNotes++;
      else if (differing === 1 && samplePayloads.has(mutation[0])) {
        tally.oneNoteChanged++;
        changed++;
      } else tally.wrongLoads++;
      expect(
        differing === 0 || (differing === 1 && samplePayloads.has(mutation[0])),
        `mutation ${mutation}`,
      ).toBe(true);
    }
    expect(changed).toBeGreaterThan(0); // the payload case is exercised
  });

  it('200 seeded single-byte mutations of the real JSB: loadPolyphonic refuses each by its sha256, caching nothing', async () => {
    const file = join(dir, 'JSB_Chorales.pickle');
    const cacheDir = join(dir, 'cache');
    await writeFile(file, real);
    const fd = openSync(file, 'r+');
    try {
      for (const [offset, value] of byteMutations(real, 200, 4)) {
        writeSync(fd, Uint8Array.of(value), 0, 1, offset);
        const t0 = performance.now();
        const error = await loadPolyphonic('jsb', { file, cacheDir }).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(performance.now() - t0).toBeLessThan(REAL_CASE_MS);
        tally.inputs++;
        expect(error).toBeInstanceOf(Error);
        const message = (error as Error).message;
        expect(message).toMatch(
          /JSB_Chorales.pickle: not the canonical JSB_Chorales.pickle: sha256 [0-9a-f]{16}\.\.\., 2051809 bytes; expected 69dc4c3e52800959\.\.\./,
        );
        expect(message.length).toBeLessThan(300);
        tally.clearErrors++; // the loader's own clear error: which file, and why it is refused
        writeSync(fd, real, offset, 1, offset);
      }
    } finally {
      closeSync(fd);
    }
    expect(existsSync(cacheDir)).toBe(false);
  });

  it('16 seeded mutations of the real JSB loaded with allowModified: a clear error, or a load flagged modified with the same notes or one payload note changed', async () => {
    const file = join(dir, 'modified.pickle');
    let loads = 0;
    for (const mutation of byteMutations(real, 16, 5)) {
      await writeFile(file, mutated(real, mutation));
      const t0 = performance.now();
      const outcome = await loadPolyphonic('jsb', { file, cache: false, allowModified: true }).then(
        (set) => ({ set }),
        (error: unknown) => ({ error }),
      );
      expect(performance.now() - t0).toBeLessThan(REAL_CASE_MS);
      if ('error' in outcome) {
        expectClear(outcome.error, 'modified.pickle');
        continue;
      }
      tally.inputs++;
      loads++;
      expect(outcome.set.modified).toBe(true);
      expect(outcome.set.warning).toMatch(
        /modified.pickle is not the canonical JSB_Chorales.pickle \(sha256 [0-9a-f]{64}, expected 69dc4c3e[0-9a-f]{56}\); loaded because allowModified is set/,
      );
      const notes = notesOf(outcome.set);
      const differing =
        notes.length === realNotes.length ? notes.filter((b, i) => b !== realNotes[i]).length : -1;
      if (differing === 0) tally.sameNotes++;
      else if (differing === 1 && realPayloads.has(mutation[0])) tally.oneNoteChanged++;
      else tally.wrongLoads++;
      expect(
        differing === 0 || (differing === 1 && realPayloads.has(mutation[0])),
        `mutation ${mutation}`,
      ).toBe(true);
    }
    expect(loads).toBeGreaterThan(0); // the flagged-load path is exercised
  });
});
