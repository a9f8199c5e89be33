/**
 * Polyphonic music (Boulanger-Lewandowski et al., ICML 2012): JSB Chorales, Nottingham, MuseData,
 * Piano-midi.de. Each set is a pickled dict {train, valid, test}; each piece a list of time steps;
 * each step the ascending MIDI note numbers (21..108, the 88 piano keys) sounding then.
 * Parsed sets are cached in a compact binary file keyed by the source's sha256.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type DownloadOptions,
  defaultCacheDir,
  downloadVerified,
  sha256Hex,
  writeFileAtomic,
} from './download.js';
import { MAX_MESSAGE_LENGTH, type PickleParse, printable, readPickle, readPickleTracked } from './pickle.js';
import { readDataFile } from './read-file.js';
import { MUSIC_SET_NAMES, MUSIC_SOURCES, type MusicSetName } from './sources.js';

export { MUSIC_SET_NAMES, type MusicSetName } from './sources.js';

/** Lowest and highest MIDI note of the 88 piano keys. */
export const LOWEST_NOTE = 21;
export const HIGHEST_NOTE = 108;

/** A piece: time steps, each the MIDI notes sounding (empty = a rest). */
export type Piece = number[][];

export type MusicSplit = 'train' | 'valid' | 'test';
const SPLITS: MusicSplit[] = ['train', 'valid', 'test'];

export interface PolyphonicSet {
  train: Piece[];
  valid: Piece[];
  test: Piece[];
  /** sha256 of the source pickle */
  sha256: string;
  /** the pickle read */
  path: string;
  /** true when the parsed cache answered (the pickle was not parsed) */
  fromCache: boolean;
  /** true when the pickle's sha256 is not the canonical one (loaded only with `allowModified`) */
  modified: boolean;
  /** set when `modified`: says the file is not the canonical one, with both sha256 sums */
  warning?: string;
}

export interface PolyphonicOptions {
  /** folder holding the pickle (or a `music/` folder holding it) */
  dir?: string;
  /** the pickle itself (overrides dir) */
  file?: string;
  /** fetch the pickle from the canonical source into `cacheDir` when it is missing */
  download?: boolean | DownloadOptions;
  /** downloads go to `<cacheDir>/music`, parsed caches to `<cacheDir>/parsed` (default {@link defaultCacheDir}) */
  cacheDir?: string;
  /** read and write the parsed cache (default true); a cache that cannot be written is skipped */
  cache?: boolean;
  /**
   * load a pickle whose sha256 is not the canonical one (default false: that is an error). The
   * file is still parsed and validated in full; the result has `modified: true` and a `warning`.
   */
  allowModified?: boolean;
}

function musicSource(name: MusicSetName) {
  const source = MUSIC_SOURCES[name];
  if (!source) throw new Error(`unknown music set '${name}'; expected one of ${MUSIC_SET_NAMES.join(', ')}`);
  return source;
}

async function resolvePickle(name: MusicSetName, options: PolyphonicOptions): Promise<string> {
  const source = musicSource(name);
  if (options.file) {
    if (!existsSync(options.file)) throw new Error(`music file ${options.file} does not exist`);
    return options.file;
  }
  const names = [source.fileName, ...source.aliases];
  const dirs = options.dir ? [options.dir, join(options.dir, 'music')] : [];
  const cacheTarget = join(options.cacheDir ?? defaultCacheDir(), 'music');
  if (options.download) dirs.push(cacheTarget);
  for (const d of dirs) {
    for (const n of names) if (existsSync(join(d, n))) return join(d, n);
  }
  if (!options.download) {
    throw new Error(
      `${source.fileName} (${name}) not found in ${dirs.join(' or ') || '(no dir given)'}; pass { dir }, { file } or { download: true }`,
    );
  }
  const download = typeof options.download === 'object' ? options.download : {};
  const target = join(cacheTarget, source.fileName);
  await downloadVerified(download.url ?? source.url, target, source.sha256, download);
  return target;
}

/** Where a container of the parse was made (see {@link PickleParse.origin}). */
export type MusicOrigin = PickleParse['origin'];

/** An error of the loader: printable ASCII, at most {@link MAX_MESSAGE_LENGTH} characters. */
function musicError(source: string, problem: string, container?: object, origin?: MusicOrigin): Error {
  const made = container && origin ? origin(container) : undefined;
  const where = made ? `; made at offset ${made.offset} (opcode ${made.opcode})` : '';
  const head = `${printable(source, 96)}: `;
  return new Error(head + printable(problem, MAX_MESSAGE_LENGTH - head.length - where.length) + where);
}

/**
 * Checks the unpickled object is exactly {train, valid, test}, each a dense list of pieces, each
 * piece a dense list of steps, each step a list (or tuple) of ascending MIDI notes in 21..108,
 * and returns it in plain arrays. Errors name the place of the first bad value and, given
 * `origin` (from a tracked parse), the byte offset and opcode that made the container holding it.
 * Time is linear in the number of elements present (it stops at the first hole).
 */
export function validateMusic(
  data: unknown,
  source: string,
  origin?: MusicOrigin,
): Record<MusicSplit, Piece[]> {
  if (!(data instanceof Map)) {
    throw musicError(
      source,
      `expected a dict with train/valid/test, got ${describe(data)}`,
      asObject(data),
      origin,
    );
  }
  for (const key of data.keys()) {
    if (!SPLITS.includes(key)) {
      throw musicError(
        source,
        `the dict has the key ${describe(key)}; expected exactly train, valid, test`,
        data,
        origin,
      );
    }
  }
  const out = {} as Record<MusicSplit, Piece[]>;
  for (const split of SPLITS) {
    if (!data.has(split)) {
      throw musicError(
        source,
        `'${split}' should be a list of pieces, got nothing: the dict has no '${split}'`,
        data,
        origin,
      );
    }
    const pieces = data.get(split);
    if (!Array.isArray(pieces)) {
      throw musicError(
        source,
        `'${split}' should be a list of pieces, got ${describe(pieces)}`,
        asObject(pieces) ?? data,
        origin,
      );
    }
    const checked: Piece[] = new Array(pieces.length);
    for (let i = 0; i < pieces.length; i++) {
      const piece: unknown = pieces[i];
      if (!Array.isArray(piece)) {
        const what = piece === undefined ? 'nothing (a hole)' : describe(piece);
        throw musicError(
          source,
          `${split}[${i}] should be a list of steps, got ${what}`,
          asObject(piece) ?? pieces,
          origin,
        );
      }
      const steps: number[][] = new Array(piece.length);
      for (let t = 0; t < piece.length; t++)
        steps[t] = validateStep(piece[t], piece, source, split, i, t, origin);
      checked[i] = steps;
    }
    out[split] = checked;
  }
  return out;
}

function validateStep(
  step: unknown,
  piece: unknown[],
  source: string,
  split: MusicSplit,
  i: number,
  t: number,
  origin?: MusicOrigin,
): number[] {
  if (!Array.isArray(step)) {
    const what = step === undefined ? 'nothing (a hole)' : describe(step);
    throw musicError(
      source,
      `${split}[${i}][${t}] should be a list of notes, got ${what}`,
      asObject(step) ?? piece,
      origin,
    );
  }
  let previous = -1;
  for (let k = 0; k < step.length; k++) {
    const note: unknown = step[k];
    if (typeof note !== 'number' || !Number.isInteger(note) || note < LOWEST_NOTE || note > HIGHEST_NOTE) {
      throw musicError(
        source,
        `${split}[${i}][${t}] has note ${note === undefined ? 'nothing (a hole)' : describe(note)}; expected MIDI notes ${LOWEST_NOTE}..${HIGHEST_NOTE} (88 piano keys)`,
        step,
        origin,
      );
    }
    if (note <= previous) {
      const shown = step.length > 16 ? `${step.slice(0, 16).join(', ')}, ...` : step.join(', ');
      throw musicError(
        source,
        `${split}[${i}][${t}] has notes [${shown}]; expected them ascending, each once`,
        step,
        origin,
      );
    }
    previous = note;
  }
  return step as number[];
}

function asObject(value: unknown): object | undefined {
  return typeof value === 'object' && value !== null ? value : undefined;
}

/** A short, printable description of a value for a message. */
function describe(value: unknown): string {
  if (value instanceof Map) return 'a dict';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'string') return `'${printable(value, 20)}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value == null) {
    return printable(String(value), 24);
  }
  return `a ${typeof value}`;
}

// ---- the parsed cache: 'CGPR', u32 version 2, the pickle's sha256 (32 bytes), then per split:
// u32 pieces, u32 steps per piece, u8 notes per step, u8 notes; then the sha256 of everything
// before it. The pickle's sha256 inside means an entry answers only for the pickle it was made from.
const MAGIC = 0x43475052; // 'CGPR'
const CACHE_VERSION = 2;
const HEADER = 8 + 32;

/**
 * sha256 of the cache encoding of each canonical pickle's parse (for the file of the data README's
 * sha256). The loader checks every parse and every cache entry of a canonical pickle against it, so
 * neither a reader bug nor a rewritten cache file can change the notes of a canonical set. Computed
 * by Python's own pickle + numpy and by this reader, which agree (see polyphonic.test.ts).
 */
export const CANONICAL_PARSE_SHA256: Readonly<Record<MusicSetName, string>> = Object.freeze({
  jsb: 'a369099844790c6256641b2620687d932ee92f8c9a8f13cb1606a109e43e5771',
  nottingham: '92eb04701dbcf4986652b91edf7d8f97cd297280629068e375b18e352753aafe',
  musedata: 'e25e08a408b9ebfa91572dceb076607f4960f2f43d8589131af1b405e3db782c',
  'piano-midi': '7ebaabef2c1c82f6d548ad64edca751506aaa845eaa4f326262146627a3ffb3e',
});

const ZERO_SHA256 = '0'.repeat(64);

/** The cache bytes of `sets`, made from the pickle whose sha256 is `sourceSha256`. */
export function encodeMusicCache(sets: Record<MusicSplit, Piece[]>, sourceSha256 = ZERO_SHA256): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(sourceSha256))
    throw new Error('encodeMusicCache: sourceSha256 must be 64 hex digits');
  let size = HEADER;
  for (const split of SPLITS) {
    size += 4 + 4 * sets[split].length;
    for (const piece of sets[split]) {
      size += piece.length;
      for (const step of piece) size += step.length;
    }
  }
  const bytes = new Uint8Array(size + 32);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC);
  view.setUint32(4, CACHE_VERSION, true);
  bytes.set(Buffer.from(sourceSha256, 'hex'), 8);
  let at = HEADER;
  for (const split of SPLITS) {
    const pieces = sets[split];
    view.setUint32(at, pieces.length, true);
    at += 4;
    for (const piece of pieces) {
      view.setUint32(at, piece.length, true);
      at += 4;
    }
    for (const piece of pieces) for (const step of piece) bytes[at++] = step.length;
    for (const piece of pieces) for (const step of piece) for (const n of step) bytes[at++] = n;
  }
  bytes.set(new Uint8Array(Buffer.from(sha256Hex(bytes.subarray(0, size)), 'hex')), size);
  return bytes;
}

/** The sha256 a cache encoding ends with (of everything before it). */
function cacheDigest(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(bytes.length - 32)).toString('hex');
}

/**
 * Decodes a cache file, or returns null when it is damaged in any way, is of another version, or
 * (given `sourceSha256`) was made from another pickle: then the pickle is parsed. Every note is
 * checked again (21..108, ascending), so an entry cannot carry what validation would refuse.
 */
export function decodeMusicCache(
  bytes: Uint8Array,
  sourceSha256?: string,
): Record<MusicSplit, Piece[]> | null {
  if (bytes.length < HEADER + 32) return null;
  const size = bytes.length - 32;
  if (cacheDigest(bytes) !== sha256Hex(bytes.subarray(0, size))) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  if (view.getUint32(0) !== MAGIC || view.getUint32(4, true) !== CACHE_VERSION) return null;
  if (sourceSha256 !== undefined && Buffer.from(bytes.subarray(8, 40)).toString('hex') !== sourceSha256)
    return null;
  let at = HEADER;
  const out = {} as Record<MusicSplit, Piece[]>;
  for (const split of SPLITS) {
    if (at + 4 > size) return null;
    const count = view.getUint32(at, true);
    at += 4;
    if (at + 4 * count > size) return null;
    const lengths = Array.from({ length: count }, (_, i) => view.getUint32(at + 4 * i, true));
    at += 4 * count;
    let sizeAt = at;
    let stepCount = 0;
    for (const len of lengths) stepCount += len;
    let noteAt = at + stepCount;
    if (noteAt > size) return null;
    const pieces: Piece[] = new Array(count);
    for (let p = 0; p < count; p++) {
      const piece: number[][] = new Array(lengths[p]);
      for (let t = 0; t < lengths[p]; t++) {
        const n = bytes[sizeAt++];
        if (noteAt + n > size) return null;
        const step: number[] = new Array(n);
        let previous = 0;
        for (let k = 0; k < n; k++) {
          const note = bytes[noteAt++];
          if (note < LOWEST_NOTE || note > HIGHEST_NOTE || note <= previous) return null;
          step[k] = previous = note;
        }
        piece[t] = step;
      }
      pieces[p] = piece;
    }
    out[split] = pieces;
    at = noteAt;
  }
  return at === size ? out : null;
}

/**
 * Reads and validates a music pickle (what {@link loadPolyphonic} does after the sha256 check).
 * Recording where each container was made costs more than the parse itself, so it is done only to
 * locate an error: a failed validation parses again, tracked, and its error names the byte offset
 * and opcode that made the bad container.
 */
export function parseMusicPickle(bytes: Uint8Array, path: string): Record<MusicSplit, Piece[]> {
  const value = readPickle(bytes, path);
  try {
    return validateMusic(value, path);
  } catch (err) {
    const tracked = readPickleTracked(bytes, path);
    validateMusic(tracked.value, path, tracked.origin); // the same error, with offset and opcode
    throw err;
  }
}

/**
 * Loads one of the four polyphonic music sets as {train, valid, test}: pieces of time steps of
 * MIDI note numbers. The pickle's sha256 must be the canonical one (the data README's) unless
 * `allowModified` is set; then the result says so (`modified`, `warning`). The first load parses
 * and validates the pickle and caches the result; later loads of the same bytes (same sha256)
 * read the cache, which is checked again (and, for a canonical file, against the canonical parse).
 */
export async function loadPolyphonic(
  name: MusicSetName,
  options: PolyphonicOptions = {},
): Promise<PolyphonicSet> {
  const source = musicSource(name);
  const path = await resolvePickle(name, options);
  const bytes = await readDataFile(path, `the ${name} pickle`);
  const sha256 = sha256Hex(bytes);
  const modified = sha256 !== source.sha256;
  // before the cache: an entry must never stand in for this check
  if (modified && !options.allowModified) {
    throw musicError(
      path,
      `not the canonical ${source.fileName}: sha256 ${sha256.slice(0, 16)}..., ${bytes.length} bytes; expected ${source.sha256.slice(0, 16)}..., ${source.bytes} bytes (modified, damaged or another file; pass { allowModified: true } to load it anyway)`,
    );
  }
  const warning = modified
    ? printable(
        `${path} is not the canonical ${source.fileName} (sha256 ${sha256}, expected ${source.sha256}); loaded because allowModified is set`,
        MAX_MESSAGE_LENGTH,
      )
    : undefined;
  const result = (sets: Record<MusicSplit, Piece[]>, fromCache: boolean): PolyphonicSet => ({
    ...sets,
    sha256,
    path,
    fromCache,
    modified,
    ...(warning ? { warning } : {}),
  });
  const canonicalParse = modified ? undefined : CANONICAL_PARSE_SHA256[name];
  const useCache = options.cache ?? true;
  const cachePath = join(options.cacheDir ?? defaultCacheDir(), 'parsed', `${sha256}.cgpr`);
  if (useCache && existsSync(cachePath)) {
    const entry = await readFile(cachePath).catch(() => null);
    if (entry && (canonicalParse === undefined || cacheDigest(entry) === canonicalParse)) {
      const cached = decodeMusicCache(entry, sha256);
      if (cached) return result(cached, true);
    }
  }
  const sets = parseMusicPickle(bytes, path);
  const encoded = encodeMusicCache(sets, sha256);
  if (canonicalParse !== undefined && cacheDigest(encoded) !== canonicalParse) {
    // the bytes are canonical, so this is a reader bug: refuse rather than load other notes
    throw musicError(
      path,
      `parsed to notes other than the canonical parse of ${source.fileName} (a bug of the reader; please report it)`,
    );
  }
  if (useCache) {
    try {
      await writeFileAtomic(cachePath, encoded);
    } catch {
      // the cache only saves time: a read-only or full disk must not fail the load
    }
  }
  return result(sets, false);
}
