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
import { readPickle } from './pickle.js';
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

/**
 * Checks the unpickled object is {train, valid, test} of pieces of steps of ascending notes in
 * 21..108, and returns it in plain arrays. Errors name the place of the first bad value.
 */
export function validateMusic(data: unknown, source: string): Record<MusicSplit, Piece[]> {
  if (!(data instanceof Map))
    throw new Error(`${source}: expected a dict with train/valid/test, got ${describe(data)}`);
  const out = {} as Record<MusicSplit, Piece[]>;
  for (const split of SPLITS) {
    const pieces = data.get(split);
    if (!Array.isArray(pieces))
      throw new Error(`${source}: '${split}' should be a list of pieces, got ${describe(pieces)}`);
    out[split] = pieces.map((piece, i) => {
      if (!Array.isArray(piece))
        throw new Error(`${source}: ${split}[${i}] should be a list of steps, got ${describe(piece)}`);
      return piece.map((step, t) => validateStep(step, `${source}: ${split}[${i}][${t}]`));
    });
  }
  return out;
}

function validateStep(step: unknown, where: string): number[] {
  if (!Array.isArray(step)) throw new Error(`${where} should be a list of notes, got ${describe(step)}`);
  let previous = -1;
  for (const note of step) {
    if (typeof note !== 'number' || !Number.isInteger(note) || note < LOWEST_NOTE || note > HIGHEST_NOTE) {
      throw new Error(
        `${where} has note ${describe(note)}; expected MIDI notes ${LOWEST_NOTE}..${HIGHEST_NOTE} (88 piano keys)`,
      );
    }
    if (note <= previous)
      throw new Error(`${where} has notes [${step.join(', ')}]; expected them ascending, each once`);
    previous = note;
  }
  return step as number[];
}

function describe(value: unknown): string {
  if (value instanceof Map) return 'a dict';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}...` : value);
  return String(value);
}

// ---- the parsed cache: 'CGPR' v1, then per split: u32 pieces, u32 steps per piece,
// u8 notes per step, u8 notes; then the sha256 of everything before it.
const MAGIC = 0x43475052; // 'CGPR'

export function encodeMusicCache(sets: Record<MusicSplit, Piece[]>): Uint8Array {
  let size = 8;
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
  view.setUint32(4, 1, true);
  let at = 8;
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

/** Decodes a cache file, or returns null when it is damaged in any way (then the pickle is parsed). */
export function decodeMusicCache(bytes: Uint8Array): Record<MusicSplit, Piece[]> | null {
  if (bytes.length < 40) return null;
  const size = bytes.length - 32;
  if (Buffer.from(bytes.subarray(size)).toString('hex') !== sha256Hex(bytes.subarray(0, size))) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  if (view.getUint32(0) !== MAGIC || view.getUint32(4, true) !== 1) return null;
  let at = 8;
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
 * Loads one of the four polyphonic music sets as {train, valid, test}: pieces of time steps of
 * MIDI note numbers. The first load parses the pickle and caches the result; later loads of the
 * same bytes (same sha256) read the cache.
 */
export async function loadPolyphonic(
  name: MusicSetName,
  options: PolyphonicOptions = {},
): Promise<PolyphonicSet> {
  const path = await resolvePickle(name, options);
  const bytes = await readDataFile(path, `the ${name} pickle`);
  const sha256 = sha256Hex(bytes);
  const useCache = options.cache ?? true;
  const cachePath = join(options.cacheDir ?? defaultCacheDir(), 'parsed', `${sha256}.cgpr`);
  if (useCache && existsSync(cachePath)) {
    const cached = decodeMusicCache(await readFile(cachePath));
    if (cached) return { ...cached, sha256, path, fromCache: true };
  }
  const sets = validateMusic(readPickle(bytes, path), path);
  if (useCache) {
    try {
      await writeFileAtomic(cachePath, encodeMusicCache(sets));
    } catch {
      // the cache only saves time: a read-only or full disk must not fail the load
    }
  }
  return { ...sets, sha256, path, fromCache: false };
}
