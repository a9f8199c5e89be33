/**
 * Character-level Penn Treebank (Mikolov's simple-examples release, ptb.char.{train,valid,test}.txt).
 * File format: every symbol is followed by one space, `_` marks a word boundary, and each line ends
 * with a newline symbol (itself followed by a space). The newline is one symbol of the vocabulary.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type DownloadOptions, defaultCacheDir, downloadArchiveMembers } from './download.js';
import { readDataFile } from './read-file.js';
import { PTB_SOURCE } from './sources.js';

export type PtbSplit = 'train' | 'valid' | 'test';
const SPLITS: PtbSplit[] = ['train', 'valid', 'test'];

/** The symbol that stands for every symbol unseen in train under `unseen: 'unk'`. */
export const UNKNOWN_SYMBOL = '<unk>';

export interface PtbOptions {
  /** folder holding ptb.char.*.txt (or a `ptb/` folder holding them) */
  dir?: string;
  /** fetch simple-examples.tgz from the canonical source into `cacheDir` when the files are missing */
  download?: boolean | DownloadOptions;
  /** where downloads go (default {@link defaultCacheDir}); the files land in `<cacheDir>/ptb` */
  cacheDir?: string;
  /**
   * a symbol of valid/test that train never shows: 'error' (default) throws, naming it;
   * 'unk' appends {@link UNKNOWN_SYMBOL} to the vocabulary and maps every such symbol to it
   */
  unseen?: 'error' | 'unk';
}

export interface PtbChars {
  /** the symbols, sorted by code point ('\n' first); index = the symbol's integer code */
  vocab: string[];
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
  /** lines (= newline symbols) per split */
  lines: Record<PtbSplit, number>;
  /** index of {@link UNKNOWN_SYMBOL}, or -1 when `unseen` is 'error' */
  unknownIndex: number;
  /** symbols mapped to unknownIndex per split (always 0 under 'error') */
  unseenCount: Record<PtbSplit, number>;
  /** the folder the files were read from */
  dir: string;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;

/**
 * Reads one char file into its symbol codes (bytes), checking the format strictly so that an
 * empty, binary or foreign file fails with the offset of the first bad byte.
 */
export function parsePtbCharFile(bytes: Uint8Array, name: string): Uint8Array {
  if (bytes.length === 0) throw new Error(`${name} is empty; expected PTB char text ("a _ b \\n " ...)`);
  if (bytes.length % 2 !== 0) {
    throw new Error(
      `${name} has an odd length (${bytes.length} bytes); expected every symbol followed by a space`,
    );
  }
  const symbols = new Uint8Array(bytes.length / 2);
  for (let i = 0; i < bytes.length; i += 2) {
    const s = bytes[i];
    if (!(s === NEWLINE || (s > SPACE && s < 0x7f))) {
      throw new Error(
        `${name}: byte ${i} is 0x${s.toString(16).padStart(2, '0')}; expected a printable ASCII symbol or a newline (is this a PTB char file?)`,
      );
    }
    if (bytes[i + 1] !== SPACE) {
      throw new Error(
        `${name}: byte ${i + 1} is 0x${bytes[i + 1].toString(16).padStart(2, '0')}; expected a space after every symbol`,
      );
    }
    symbols[i / 2] = s;
  }
  if (symbols[symbols.length - 1] !== NEWLINE) {
    throw new Error(`${name} does not end with a newline symbol ("\\n "); the file looks truncated`);
  }
  return symbols;
}

/** Finds the folder holding the three char files, downloading them when asked. */
async function resolvePtbDir(options: PtbOptions): Promise<string> {
  const names = Object.values(PTB_SOURCE.files).map((f) => f.fileName);
  const candidates = options.dir ? [options.dir, join(options.dir, 'ptb')] : [];
  const cacheTarget = join(options.cacheDir ?? defaultCacheDir(), 'ptb');
  if (options.download) candidates.push(cacheTarget);
  const found = candidates.find((d) => names.every((n) => existsSync(join(d, n))));
  if (found) return found;
  if (!options.download) {
    throw new Error(
      `PTB char files (${names.join(', ')}) not found in ${candidates.join(' or ') || '(no dir given)'}; pass { dir } or { download: true }`,
    );
  }
  const download = typeof options.download === 'object' ? options.download : {};
  await downloadArchiveMembers(
    download.url ?? PTB_SOURCE.url,
    Object.values(PTB_SOURCE.files).map((f) => ({
      member: `${PTB_SOURCE.memberDir}/${f.fileName}`,
      path: join(cacheTarget, f.fileName),
      sha256: f.sha256,
    })),
    download,
  );
  return cacheTarget;
}

/**
 * Loads character-level PTB: the vocabulary from train, each split an Int32Array of symbol
 * indices in file order (one newline symbol per line).
 */
export async function loadPtbChars(options: PtbOptions = {}): Promise<PtbChars> {
  const unseen = options.unseen ?? 'error';
  if (unseen !== 'error' && unseen !== 'unk')
    throw new Error(`unseen must be 'error' or 'unk', got '${unseen}'`);
  const dir = await resolvePtbDir(options);
  const raw = {} as Record<PtbSplit, Uint8Array>;
  for (const split of SPLITS) {
    const path = join(dir, PTB_SOURCE.files[split].fileName);
    raw[split] = parsePtbCharFile(await readDataFile(path, `the PTB ${split} file`), path);
  }
  const codes = new Set(raw.train);
  const vocab = [...codes].sort((a, b) => a - b).map((c) => String.fromCharCode(c));
  const index = new Int32Array(128).fill(-1);
  vocab.forEach((s, i) => {
    index[s.charCodeAt(0)] = i;
  });
  const unknownIndex = unseen === 'unk' ? vocab.push(UNKNOWN_SYMBOL) - 1 : -1;
  const out = { vocab, unknownIndex, dir, lines: {}, unseenCount: {} } as PtbChars;
  for (const split of SPLITS) {
    const symbols = raw[split];
    const encoded = new Int32Array(symbols.length);
    let lines = 0;
    let unseenCount = 0;
    for (let i = 0; i < symbols.length; i++) {
      let k = index[symbols[i]];
      if (k < 0) {
        if (unseen === 'error') {
          throw new Error(
            `${split} symbol ${i} is ${JSON.stringify(String.fromCharCode(symbols[i]))}, which train never shows; pass { unseen: 'unk' } to map such symbols to ${UNKNOWN_SYMBOL}`,
          );
        }
        k = unknownIndex;
        unseenCount++;
      }
      encoded[i] = k;
      if (symbols[i] === NEWLINE) lines++;
    }
    out[split] = encoded;
    out.lines[split] = lines;
    out.unseenCount[split] = unseenCount;
  }
  return out;
}

/** Bits per character from a summed natural-log loss: sum / count / ln 2 (the paper's PTB metric). */
export function bitsPerChar(sumNatLogLoss: number, count: number): number {
  if (!(count > 0)) throw new Error(`bitsPerChar needs a positive symbol count, got ${count}`);
  if (!Number.isFinite(sumNatLogLoss))
    throw new Error(`bitsPerChar got a non-finite loss sum: ${sumNatLogLoss}`);
  return sumNatLogLoss / count / Math.LN2;
}
