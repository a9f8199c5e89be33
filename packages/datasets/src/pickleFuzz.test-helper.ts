/**
 * Fixtures for fuzzing the music pickle reader: a writer of Python 2's exact music pickle bytes,
 * a seeded PRNG, the hostile pickles of the tracker's issue 18, and the outcome classes the
 * tracker counts. Self-contained (nothing of the project imported, only Node's modules), so it can
 * also be transpiled and run on its own (the before/after measurement ran it against the old
 * reader in child processes).
 */

// ---- a seeded PRNG (mulberry32): the same seed gives the same mutations on every run ----------

export function seededRandom(seed: number): { int(n: number): number } {
  let s = seed >>> 0;
  return {
    /** uniform integer in [0, n) */
    int(n: number): number {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n);
    },
  };
}

// ---- Python 2 cPickle's exact bytes for a music set ------------------------------------------

export type MusicEntries = Array<[string, number[][][]]>;

/**
 * The bytes Python 2's cPickle (protocol 2) writes for a music dict, byte for byte: keys in the
 * given order, steps as tuples (JSB) or lists (the other three), every note a numpy int64 scalar;
 * memoised as cPickle memoises (dict, keys, lists, step tuples, the two globals, the dtype and
 * every scalar; not the reduce arguments nor the scalars' payloads), lists appended in batches of
 * 1,000. Checked by rewriting the canonical files from their parse (same bytes: pickle-fuzz.test.ts
 * for JSB; the same held for all four when the writer was made).
 */
export function pythonMusicPickle(
  entries: MusicEntries,
  steps: 'tuple' | 'list',
  /** when given, receives the offset of every note's 8 payload bytes */
  payloadOffsets?: number[],
): Uint8Array {
  const out = new Uint8Array(1 << 16);
  let buf = out;
  let n = 0;
  const byte = (b: number) => {
    if (n === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    buf[n++] = b;
  };
  const bytes = (bs: ArrayLike<number>) => {
    for (let i = 0; i < bs.length; i++) byte(bs[i]);
  };
  const ascii = (s: string) => bytes(Array.from(s, (c) => c.charCodeAt(0)));
  let memo = 0;
  const put = () => {
    memo++;
    if (memo < 256) bytes([0x71, memo]);
    else bytes([0x72, memo & 255, (memo >>> 8) & 255, (memo >>> 16) & 255, memo >>> 24]);
  };
  const shortString = (s: string) => {
    byte(0x55);
    byte(s.length);
    ascii(s);
  };
  let scalarMemo = 0;
  let dtypeMemo = 0;
  const scalar = (note: number) => {
    if (!scalarMemo) {
      ascii('cnumpy.core.multiarray\nscalar\n');
      put();
      scalarMemo = memo;
      ascii('cnumpy\ndtype\n');
      put();
      shortString('i8');
      bytes([0x4b, 0, 0x4b, 1, 0x87, 0x52]); // BININT1 0, BININT1 1, TUPLE3, REDUCE
      put();
      dtypeMemo = memo;
      bytes([0x28, 0x4b, 3]); // MARK, BININT1 3
      shortString('<');
      bytes([0x4e, 0x4e, 0x4e, 0x4a, 255, 255, 255, 255, 0x4a, 255, 255, 255, 255, 0x4b, 0, 0x74, 0x62]);
    } else {
      bytes([0x68, scalarMemo, 0x68, dtypeMemo]); // BINGET scalar, BINGET dtype
    }
    const payload = new Uint8Array(BigInt64Array.of(BigInt(note)).buffer);
    byte(0x55);
    byte(8);
    payloadOffsets?.push(n);
    bytes(payload);
    bytes([0x86, 0x52]); // TUPLE2, REDUCE
    put();
  };
  /** a list: EMPTY_LIST, memo, then batches of 1,000 (one item: APPEND; more: MARK ... APPENDS) */
  const list = <T>(items: T[], save: (item: T) => void) => {
    byte(0x5d);
    put();
    for (let start = 0; start < items.length; start += 1000) {
      const batch = items.slice(start, start + 1000);
      if (batch.length === 1) {
        save(batch[0]);
        byte(0x61);
      } else {
        byte(0x28);
        for (const item of batch) save(item);
        byte(0x65);
      }
    }
  };
  const step = (notes: number[]) => {
    if (steps === 'list') return list(notes, scalar);
    if (notes.length === 0) return byte(0x29); // EMPTY_TUPLE (not memoised)
    if (notes.length <= 3) {
      for (const note of notes) scalar(note);
      byte(0x84 + notes.length); // TUPLE1..3
    } else {
      byte(0x28);
      for (const note of notes) scalar(note);
      byte(0x74);
    }
    put();
  };
  bytes([0x80, 2, 0x7d]);
  put();
  byte(0x28);
  for (const [key, pieces] of entries) {
    shortString(key);
    put();
    list(pieces, (piece) => list(piece, step));
  }
  bytes([0x75, 0x2e]); // SETITEMS, STOP
  return buf.slice(0, n);
}

// ---- the fuzzed inputs -------------------------------------------------------------------------

/** The first `keep` pieces of each split (key order kept): a small sample of a real set. */
export function samplePieces(entries: MusicEntries, keep: Record<string, number>): MusicEntries {
  return entries.map(([key, pieces]) => [key, pieces.slice(0, keep[key] ?? 0)]);
}

/** `count` truncation lengths of a file of `length` bytes: the edges, then seeded ones. */
export function truncationLengths(length: number, count: number, seed: number): number[] {
  const random = seededRandom(seed);
  const out = new Set([0, 1, 2, 3, length >> 1, length - 2, length - 1]);
  while (out.size < Math.min(count, length)) out.add(random.int(length));
  return [...out].sort((a, b) => a - b);
}

/** `count` seeded single-byte mutations: each an offset and a new byte (never the old one). */
export function byteMutations(bytes: Uint8Array, count: number, seed: number): Array<[number, number]> {
  const random = seededRandom(seed);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const offset = random.int(bytes.length);
    out.push([offset, bytes[offset] ^ (1 + random.int(255))]);
  }
  return out;
}

/** A copy of `bytes` with one byte changed (a copy even of a Buffer, whose slice() is a view). */
export function mutated(bytes: Uint8Array, [offset, value]: [number, number]): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[offset] = value;
  return copy;
}

// ---- what counts as a clear error -----------------------------------------------------------

/** An opcode named: its name, or its byte when it is no opcode, or none (an empty file). */
export const OPCODE_NAMED = /\(opcode ([A-Z][A-Z0-9_]*|0x[0-9a-f]{2}|none)\)/;

/** Printable ASCII only (space to tilde). */
export const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * The tracker's bar for an error: an Error whose message names the file, a byte offset and an
 * opcode, under 300 characters of printable ASCII. Returns what is missing ('' when clear).
 */
export function unclearBecause(err: unknown, file: string): string {
  if (!(err instanceof Error)) return `not an Error: ${typeof err}`;
  const m = err.message;
  const missing: string[] = [];
  if (m.length >= 300) missing.push(`${m.length} characters`);
  if (!PRINTABLE.test(m)) missing.push('non-printable characters');
  if (!m.includes(file)) missing.push('no file name');
  if (!/offset \d+/.test(m)) missing.push('no offset');
  if (!OPCODE_NAMED.test(m)) missing.push('no opcode');
  return missing.join(', ');
}

// ---- the hostile pickles ---------------------------------------------------------------------

const u32 = (v: number) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];
const str = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const sbs = (s: string) => [0x55, s.length, ...str(s)];
const repeat = (times: number, part: number[]) => {
  const out = new Array<number>(times * part.length);
  for (let i = 0; i < times; i++) for (let j = 0; j < part.length; j++) out[i * part.length + j] = part[j];
  return out;
};
const P2 = [0x80, 2];
/** the first scalar of a music pickle: both globals, the dtype and its state (memo 1 and 2) */
const NUMPY_PRELUDE = [
  ...str('cnumpy.core.multiarray\nscalar\n'),
  0x71,
  1,
  ...str('cnumpy\ndtype\n'),
  ...sbs('i8'),
  0x4b,
  0,
  0x4b,
  1,
  0x87,
  0x52,
  0x71,
  2,
  0x28,
  0x4b,
  3,
  ...sbs('<'),
  0x4e,
  0x4e,
  0x4e,
  0x4a,
  ...u32(-1),
  0x4a,
  ...u32(-1),
  0x4b,
  0,
  0x74,
  0x62,
];

export interface HostileCase {
  name: string;
  bytes: Uint8Array;
  /** what the reader's error must say (the opcode or the problem it names) */
  expect: RegExp;
}

/**
 * The hand-made hostile pickles: the tracker's (negative BINBYTES length, BUILD on a list, huge
 * LONG4, deep nesting, BUILD on numpy.dtype) and more of the same families. Each must be refused
 * quickly, in little memory, with a clear error.
 */
export function hostileCases(): HostileCase[] {
  const c = (name: string, parts: number[], expect: RegExp): HostileCase => ({
    name,
    bytes: Uint8Array.from(parts),
    expect,
  });
  const long4 = (n: number) => [0x8b, ...u32(n), ...repeat(n, [0xff])];
  return [
    // length -5 sends a naive reader back to the BINBYTES itself: a loop that ends out of memory
    c(
      'BINBYTES with length -5 (8 bytes)',
      [...P2, 0x42, 0xfb, 0xff, 0xff, 0xff, 0x2e],
      /opcode BINBYTES is refused.*\(opcode BINBYTES\)/,
    ),
    c(
      'BINBYTES with length -1',
      [...P2, 0x42, 0xff, 0xff, 0xff, 0xff, 0x2e],
      /opcode BINBYTES is refused.*\(opcode BINBYTES\)/,
    ),
    c('SHORT_BINBYTES', [...P2, 0x43, 3, 1, 2, 3, 0x2e], /\(opcode SHORT_BINBYTES\)/),
    c('BINBYTES8 with length 2^63', [...P2, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x2e], /\(opcode BINBYTES8\)/),
    c('BINUNICODE8', [...P2, 0x8d, 255, 255, 255, 255, 255, 255, 255, 255, 0x2e], /\(opcode BINUNICODE8\)/),
    c(
      'BINSTRING with a negative length',
      [...P2, 0x54, 0xff, 0xff, 0xff, 0xff, 0x2e],
      /\(opcode BINSTRING\)/,
    ),
    c(
      'BUILD sets length 2^31-1 on a list',
      [...P2, 0x5d, 0x7d, 0x28, ...sbs('length'), 0x4a, ...u32(0x7fffffff), 0x75, 0x62, 0x2e],
      /BUILD on a list.*\(opcode BUILD\)/,
    ),
    // {train: a list BUILT to length 2^32-1, valid: [], test: []}: 4 billion holes
    c(
      'BUILD sets length 2^32-1 on the train list',
      [
        ...P2,
        0x7d,
        0x28,
        ...sbs('train'),
        0x5d,
        0x7d,
        0x28,
        ...sbs('length'),
        0x8a,
        5,
        255,
        255,
        255,
        255,
        0,
        0x75,
        0x62,
        ...sbs('valid'),
        0x5d,
        ...sbs('test'),
        0x5d,
        0x75,
        0x2e,
      ],
      /opcode LONG1 is refused.*\(opcode LONG1\)/,
    ),
    c('BUILD on a dict', [...P2, 0x7d, 0x7d, 0x62, 0x2e], /BUILD on a dict.*\(opcode BUILD\)/),
    c(
      'BUILD on the numpy.dtype global',
      [...P2, ...str('cnumpy\ndtype\n'), 0x7d, 0x28, ...sbs('x'), 0x4b, 1, 0x75, 0x62, 0x2e],
      /BUILD on the global numpy.dtype.*\(opcode BUILD\)/,
    ),
    c(
      'BUILD on the scalar global',
      [...P2, ...str('cnumpy.core.multiarray\nscalar\n'), 0x29, 0x62, 0x2e],
      /BUILD on the global numpy.core.multiarray.scalar/,
    ),
    c(
      'a second BUILD on a dtype',
      [
        ...P2,
        ...NUMPY_PRELUDE,
        0x68,
        2,
        0x28,
        0x4b,
        3,
        ...sbs('>'),
        0x4e,
        0x4e,
        0x4e,
        0x4a,
        ...u32(-1),
        0x4a,
        ...u32(-1),
        0x4b,
        0,
        0x74,
        0x62,
        0x2e,
      ],
      /a second BUILD on the same numpy dtype.*\(opcode BUILD\)/,
    ),
    c(
      'BUILD on a dtype with a dict state',
      [...P2, ...str('cnumpy\ndtype\n'), ...sbs('i8'), 0x4b, 0, 0x4b, 1, 0x87, 0x52, 0x7d, 0x62, 0x2e],
      /numpy dtype state is a dict.*\(opcode BUILD\)/,
    ),
    c(
      'a dtype with byte order "|"',
      [
        ...P2,
        ...str('cnumpy\ndtype\n'),
        ...sbs('i8'),
        0x4b,
        0,
        0x4b,
        1,
        0x87,
        0x52,
        0x28,
        0x4b,
        3,
        ...sbs('|'),
        0x4e,
        0x4e,
        0x4e,
        0x4a,
        ...u32(-1),
        0x4a,
        ...u32(-1),
        0x4b,
        0,
        0x74,
        0x62,
        0x2e,
      ],
      /byte order '\|'/,
    ),
    c('LONG4 of 192 KiB', [...P2, ...long4(192 * 1024), 0x2e], /opcode LONG4 is refused.*\(opcode LONG4\)/),
    c('LONG4 claiming 4 GiB', [...P2, 0x8b, 255, 255, 255, 255, 0x2e], /\(opcode LONG4\)/),
    c('LONG1', [...P2, 0x8a, 1, 5, 0x2e], /\(opcode LONG1\)/),
    c('100,000 MARKs', [...P2, ...repeat(100_000, [0x28]), 0x2e], /more than 16 MARKs open.*\(opcode MARK\)/),
    c(
      'TUPLE1 nested 100,000 deep',
      [...P2, 0x4e, ...repeat(100_000, [0x85]), 0x2e],
      /nested more than 8 deep.*\(opcode TUPLE1\)/,
    ),
    c(
      'lists nested 1,000 deep by APPEND',
      [...P2, ...repeat(1000, [0x5d]), ...repeat(999, [0x61]), 0x2e],
      /nested more than 8 deep.*\(opcode APPEND\)/,
    ),
    c('lists nested by MARK ... APPENDS', [...P2, ...repeat(1000, [0x5d, 0x28]), 0x2e], /more than 16 MARKs/),
    c(
      '1,000,000 NONEs (stack flood)',
      [...P2, ...repeat(1_000_000, [0x4e]), 0x2e],
      /more than 65536 items on the stack.*\(opcode NONE\)/,
    ),
    c(
      'a shared list fetched 100,000 times (BINGET)',
      [...P2, 0x5d, 0x71, 1, 0x28, ...repeat(100_000, [0x68, 1]), 0x6c, 0x2e],
      /memo index 1 holds a list; shared containers are not supported.*\(opcode BINGET\)/,
    ),
    c(
      'LONG_BINPUT at index 2^32-1',
      [...P2, 0x4e, 0x72, 255, 255, 255, 255, 0x2e],
      /memo index 4294967295 runs ahead.*\(opcode LONG_BINPUT\)/,
    ),
    c(
      'BINGET of an index never stored',
      [...P2, 0x68, 9, 0x2e],
      /memo index 9 was never stored.*\(opcode BINGET\)/,
    ),
    c('LONG_BINGET', [...P2, 0x4e, 0x71, 1, 0x6a, 1, 0, 0, 0, 0x2e], /\(opcode LONG_BINGET\)/),
    c(
      'SHORT_BINSTRING longer than the file',
      [...P2, 0x55, 200, ...str('abc')],
      /200-byte string with 3 bytes left.*\(opcode SHORT_BINSTRING\)/,
    ),
    c('BININT cut short', [...P2, 0x4a, 1, 2], /truncated.*\(opcode BININT\)/),
    c(
      'GLOBAL os.system + REDUCE',
      [...P2, ...str('cos\nsystem\n'), ...sbs('echo pwned'), 0x85, 0x52, 0x2e],
      /asks for the Python global 'os.system'.*\(opcode GLOBAL\)/,
    ),
    c(
      'GLOBAL numpy 2 name',
      [...P2, ...str('cnumpy._core.multiarray\nscalar\n'), 0x2e],
      /numpy._core.multiarray.scalar/,
    ),
    c(
      'GLOBAL with a 2 MB name',
      [...P2, 0x63, ...repeat(2_000_000, [0x41])],
      /name line longer than 64 bytes.*\(opcode GLOBAL\)/,
    ),
    c(
      'GLOBAL with control characters',
      [...P2, 0x63, 0x1b, ...str('[31mred'), 0x0a, 0x07, 0x00, 0x0a, 0x2e],
      /\\x1b\[31mred/,
    ),
    c(
      'STACK_GLOBAL',
      [...P2, 0x4e, 0x4e, 0x93, 0x2e],
      /opcode STACK_GLOBAL is refused.*\(opcode STACK_GLOBAL\)/,
    ),
    c(
      'SHORT_BINUNICODE (before STACK_GLOBAL)',
      [...P2, 0x8c, 2, ...str('os'), 0x8c, 6, ...str('system'), 0x93, 0x2e],
      /\(opcode SHORT_BINUNICODE\)/,
    ),
    c('INST', [...P2, 0x28, ...sbs('id'), 0x69, ...str('posix\nsystem\n'), 0x2e], /\(opcode INST\)/),
    c('OBJ', [...P2, 0x28, 0x6f, 0x2e], /\(opcode OBJ\)/),
    c('NEWOBJ', [...P2, 0x4e, 0x29, 0x81, 0x2e], /\(opcode NEWOBJ\)/),
    c('EXT1', [...P2, 0x82, 7, 0x2e], /\(opcode EXT1\)/),
    c('PERSID', [...P2, 0x50, ...str('x\n'), 0x2e], /\(opcode PERSID\)/),
    c('BINPERSID', [...P2, 0x4e, 0x51, 0x2e], /\(opcode BINPERSID\)/),
    c('FRAME (protocol 4)', [...P2, 0x95, 1, 0, 0, 0, 0, 0, 0, 0, 0x4e, 0x2e], /\(opcode FRAME\)/),
    c('protocol 5', [0x80, 5, 0x4e, 0x2e], /protocol 5.*\(opcode PROTO\)/),
    c('no PROTO (protocol 0)', [0x4e, 0x2e], /starts with PROTO 2, not with NONE/),
    c('PROTO in the middle', [...P2, 0x80, 2, 0x4e, 0x2e], /PROTO may only open the file/),
    c('an empty file', [], /empty/),
    c('a byte that is no opcode', [...P2, 0xff], /not a pickle opcode.*\(opcode 0xff\)/),
    c('REDUCE calling a list', [...P2, 0x5d, 0x29, 0x52, 0x2e], /REDUCE calls a list/),
    c(
      'the scalar with a 9-byte payload',
      [...P2, ...NUMPY_PRELUDE, 0x68, 1, 0x68, 2, 0x55, 9, ...repeat(9, [0]), 0x86, 0x52, 0x2e],
      /payload must be 8 bytes.*\(opcode REDUCE\)/,
    ),
    c(
      'the scalar with a dtype never built',
      [
        ...P2,
        ...str('cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\n'),
        ...sbs('i8'),
        0x4b,
        0,
        0x4b,
        1,
        0x87,
        0x52,
        0x55,
        8,
        ...repeat(8, [0]),
        0x86,
        0x52,
        0x2e,
      ],
      /never set/,
    ),
    c(
      'an int64 beyond 2^53',
      [...P2, ...NUMPY_PRELUDE, 0x68, 1, 0x68, 2, 0x55, 8, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x86, 0x52, 0x2e],
      /outside the safe integer range/,
    ),
    c(
      'numpy.dtype with a 12-byte spec',
      [...P2, ...str('cnumpy\ndtype\n'), ...sbs('O'.repeat(12)), 0x4b, 0, 0x4b, 1, 0x87, 0x52, 0x2e],
      /numpy dtype 'OOOOOOOOOOOO' \(12 bytes\) is not supported/,
    ),
    c(
      'a dtype stored in a list',
      [...P2, 0x5d, ...str('cnumpy\ndtype\n'), 0x61, 0x2e],
      /cannot be stored in a list/,
    ),
    c(
      'a global as the result',
      [...P2, ...str('cnumpy\ndtype\n'), 0x2e],
      /the pickle's value is a numpy global/,
    ),
    c(
      'SETITEMS with a list key',
      [...P2, 0x7d, 0x28, 0x5d, 0x4e, 0x75, 0x2e],
      /keys must be strings.*\(opcode SETITEMS\)/,
    ),
    c(
      'SETITEMS with a key twice',
      [...P2, 0x7d, 0x28, ...sbs('__proto__'), 0x4e, ...sbs('__proto__'), 0x4e, 0x75, 0x2e],
      /'__proto__' is set twice/,
    ),
    c('APPENDS onto a tuple', [...P2, 0x29, 0x28, 0x4e, 0x65, 0x2e], /APPENDS to a tuple/),
    c('SETITEMS onto a list', [...P2, 0x5d, 0x28, 0x4e, 0x4e, 0x75, 0x2e], /SETITEMS on a list/),
    c('APPENDS without a MARK', [...P2, 0x5d, 0x4e, 0x65, 0x2e], /APPENDS without a MARK/),
    c(
      'TUPLE2 reaching below a MARK',
      [...P2, 0x4e, 0x28, 0x4e, 0x86, 0x2e],
      /stack underflow.*\(opcode TUPLE2\)/,
    ),
    c('STOP with an open MARK', [...P2, 0x4e, 0x28, 0x2e], /MARKs still open.*\(opcode STOP\)/),
    c('STOP with two items', [...P2, 0x4e, 0x4e, 0x2e], /2 items on the stack.*\(opcode STOP\)/),
    c('bytes after STOP', [...P2, 0x4e, 0x2e, 0x2e, 0x2e], /followed by 2 more bytes/),
    c('no STOP', [...P2, 0x5d], /without STOP.*\(opcode EMPTY_LIST\)/),
  ];
}

/** A long but legal pickle (a list of n small ints in batches of 1,000): time must grow linearly. */
export function longLegalPickle(n: number): Uint8Array {
  const out: number[] = [0x80, 2, 0x5d];
  for (let start = 0; start < n; start += 1000) {
    out.push(0x28);
    for (let i = start; i < Math.min(n, start + 1000); i++) out.push(0x4b, i & 127);
    out.push(0x65);
  }
  out.push(0x2e);
  return Uint8Array.from(out);
}

// ---- cases in child processes: bounded memory and time, crashes and hangs counted -------------

/**
 * The script a child process runs: imports `readPickle` and, unless '-', the music module (its
 * `parseMusicPickle`, else its `validateMusic`) from the module paths given; then, for each case
 * of the manifest from `start` on, reads its file, parses (and validates) it, and prints one JSON
 * line: the outcome, its time, the heap it kept and the process's RSS.
 */
export const CHILD_RUNNER = [
  "import { readFileSync } from 'node:fs';",
  'const [reader, validator, manifest, start] = process.argv.slice(2);',
  'const { readPickle } = await import(reader);',
  "const music = validator === '-' ? null : await import(validator);",
  '// parseMusicPickle (the loader after its sha256 check) where there is one, else readPickle + validateMusic',
  'const parse = music && music.parseMusicPickle ? music.parseMusicPickle : (bytes, name) => music ? music.validateMusic(readPickle(bytes, name), name) : readPickle(bytes, name);',
  "const cases = JSON.parse(readFileSync(manifest, 'utf8'));",
  'for (let i = Number(start); i < cases.length; i++) {',
  '  const bytes = readFileSync(cases[i].path);',
  '  const heap0 = process.memoryUsage().heapUsed;',
  '  const t0 = performance.now();',
  '  let out;',
  '  try {',
  '    const data = parse(bytes, cases[i].name);',
  "    out = { kind: 'load', fingerprint: fingerprintOf(data) };",
  '  } catch (err) {',
  '    const message = String(err instanceof Error ? err.message : err);',
  "    out = { kind: 'error', isError: err instanceof Error, message: message.slice(0, 2000), messageLength: message.length };",
  '  }',
  '  out.i = i;',
  '  out.ms = performance.now() - t0;',
  '  out.heapMb = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;',
  '  out.rssMb = process.memoryUsage().rss / 2 ** 20;',
  "  process.stdout.write(JSON.stringify(out) + '\\n');",
  '}',
  'function fingerprintOf(v) {',
  '  let h = 0x811c9dc5, k = 0;',
  '  const mix = (x) => { h = Math.imul(h ^ x, 0x01000193) >>> 0; k++; };',
  '  const walk = (x, depth) => {',
  '    if (depth > 64) { mix(7); return; }',
  '    if (x instanceof Map) { mix(1); for (const [a, b] of x) { walk(a, depth + 1); walk(b, depth + 1); } mix(2); }',
  '    else if (Array.isArray(x)) { mix(3); mix(x.length); for (let i = 0; i < x.length && i < 1e7; i++) walk(x[i], depth + 1); mix(4); }',
  '    else if (typeof x === "number") { mix(5); mix(x | 0); }',
  '    else if (typeof x === "string") { mix(6); for (let i = 0; i < x.length && i < 64; i++) mix(x.charCodeAt(i)); }',
  '    else if (x && typeof x === "object") { for (const key of ["train", "valid", "test"]) { mix(9); walk(x[key], depth + 1); } }',
  '    else mix(8);',
  '  };',
  '  walk(v, 0);',
  '  return h.toString(16) + ":" + k;',
  '}',
].join('\n');

export interface CaseOutcome {
  kind: 'error' | 'load' | 'crash' | 'hang';
  /** the error's message (errors), or what ended the child (crashes) */
  message?: string;
  /** whether what was thrown is an Error */
  isError?: boolean;
  messageLength?: number;
  /** a hash of the loaded value (loads) */
  fingerprint?: string;
  ms?: number;
  /** heap kept by the case, MiB */
  heapMb?: number;
  /** the child's resident memory after the case, MiB */
  rssMb?: number;
}

export interface ChildRunOptions {
  /** the module exporting readPickle (a file path) */
  reader: string;
  /** the music module (parseMusicPickle or validateMusic), or none: readPickle alone */
  validator?: string;
  /** the case files and the name each is read under */
  cases: Array<{ path: string; name: string }>;
  /** a case still running after this long is a hang: the child is killed and the next case runs in a new one */
  caseTimeoutMs: number;
  /** the child's heap limit (--max-old-space-size) */
  maxOldSpaceMb: number;
  /** a folder for the runner and its manifest */
  workDir: string;
  /** also cap the child's virtual memory (`ulimit -v`, KiB): memory outside the JS heap, too */
  virtualMemoryKb?: number;
}

/**
 * Runs the cases in child processes (`node --max-old-space-size=...`), one after another: a case
 * that runs past `caseTimeoutMs` is a hang, one that ends the process (an out-of-memory abort, a
 * signal) a crash; either way the next case starts in a fresh child.
 */
export async function runCasesInChildren(options: ChildRunOptions): Promise<CaseOutcome[]> {
  const { spawn } = await import('node:child_process');
  const { writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const runner = join(options.workDir, 'pickle-case-runner.mjs');
  const manifest = join(options.workDir, 'pickle-cases.json');
  await writeFile(runner, CHILD_RUNNER);
  await writeFile(manifest, JSON.stringify(options.cases));
  const outcomes: CaseOutcome[] = new Array(options.cases.length);
  let next = 0;
  while (next < options.cases.length) {
    next = await new Promise<number>((resolve) => {
      const args = [
        `--max-old-space-size=${options.maxOldSpaceMb}`,
        runner,
        options.reader,
        options.validator ?? '-',
        manifest,
        String(next),
      ];
      const child = options.virtualMemoryKb
        ? spawn(
            '/bin/sh',
            ['-c', `ulimit -v ${options.virtualMemoryKb} && exec "$0" "$@"`, process.execPath, ...args],
            {
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          )
        : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let at = next;
      let pending = '';
      let stderr = '';
      let timedOut = false;
      let timer: ReturnType<typeof setTimeout>;
      // the first case also waits for node to start and import the reader
      const arm = (extra: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, options.caseTimeoutMs + extra);
      };
      arm(15_000);
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        pending += chunk;
        let nl = pending.indexOf('\n');
        while (nl >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          const out = JSON.parse(line) as CaseOutcome & { i: number };
          outcomes[out.i] = out;
          at = out.i + 1;
          arm(0);
          nl = pending.indexOf('\n');
        }
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-4000);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (at < options.cases.length) {
          outcomes[at] = timedOut
            ? { kind: 'hang', message: `no result after ${options.caseTimeoutMs} ms` }
            : {
                kind: 'crash',
                message: `exit ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`.slice(
                  0,
                  500,
                ),
              };
          resolve(at + 1);
        } else resolve(at);
      });
    });
  }
  return outcomes;
}
