import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testData } from '@cliffguard/testing/data';
import { describe, expect, it } from 'vitest';
import { defaultCacheDir } from './download.js';
import {
  PICKLE_OPCODES_READ,
  PickleError,
  pickleOpcodeName,
  printable,
  readPickle,
  readPickleTracked,
} from './pickle.js';
import { musicPickle, op } from './pickleBuilder.test-helper.js';
import { loadPolyphonic } from './polyphonic.js';
import { loadPtbChars } from './ptb.js';

const bytes = (...parts: number[][]) => Uint8Array.from(parts.flat());

// $CLIFFGUARD_DATA, ../shared/data or the download cache; else this suite skips (see @cliffguard/testing/data)
const data = await testData(['jsb'], { defaultCacheDir, loadPtbChars, loadPolyphonic });

data.describe('readPickle on the real JSB pickle', () => {
  it('a truncated real pickle is a clear error: the file, truncated, the offset and the opcode', () => {
    const real = readFileSync(join(data.dir, 'music', 'JSB_Chorales.pickle'));
    for (const keep of [1, 100, real.length >> 1, real.length - 1]) {
      expect(() => readPickle(real.subarray(0, keep), 'JSB_Chorales.pickle')).toThrow(
        /^cannot read pickle JSB_Chorales.pickle: .*\(truncated\) at offset \d+ \(opcode [A-Z_0-9]+\)$/,
      );
    }
    // without its last byte (STOP) the file ends after SETITEMS
    expect(() => readPickle(real.subarray(0, real.length - 1), 'J')).toThrow(
      `the file ends after this opcode, without STOP (truncated) at offset ${real.length - 2} (opcode SETITEMS)`,
    );
  });

  it('the real file uses the census opcodes (all but APPEND, which only the list-step sets use)', () => {
    const real = readFileSync(join(data.dir, 'music', 'JSB_Chorales.pickle'));
    const argBytes: Record<string, (at: number) => number> = {
      PROTO: () => 1,
      BINPUT: () => 1,
      BINGET: () => 1,
      BININT1: () => 1,
      LONG_BINPUT: () => 4,
      BININT: () => 4,
      SHORT_BINSTRING: (at) => 1 + real[at + 1],
      GLOBAL: (at) => {
        const first = real.indexOf(0x0a, at + 1);
        return real.indexOf(0x0a, first + 1) - at;
      },
    };
    const used = new Set<string>();
    for (let at = 0; at < real.length; ) {
      const name = pickleOpcodeName(real[at]);
      used.add(name);
      at += 1 + (argBytes[name]?.(at) ?? 0);
    }
    expect([...used].sort()).toEqual(PICKLE_OPCODES_READ.filter((n) => n !== 'APPEND').sort());
    expect((readPickle(real, 'J') as Map<string, unknown>).size).toBe(3);
  });
});

describe('readPickle: only the two numpy globals', () => {
  it('decodes numpy int64 scalars (little- and big-endian) inside dicts, lists and tuples', () => {
    const sets = { train: [[[21, 60, 108], []]], valid: [[[64]]], test: [] };
    const little = readPickle(musicPickle(sets), 'little') as Map<string, unknown>;
    expect(little).toBeInstanceOf(Map);
    expect(little.get('train')).toEqual([[[21, 60, 108], []]]);
    expect(little.get('valid')).toEqual([[[64]]]);
    expect(little.get('test')).toEqual([]);
    const big = readPickle(musicPickle(sets, { byteOrder: '>' }), 'big') as Map<string, unknown>;
    expect(big.get('train')).toEqual([[[21, 60, 108], []]]);
  });

  it('decodes negative and large int64 values exactly (they are checked later, not mangled)', () => {
    const parsed = readPickle(
      musicPickle({
        train: [[[-3, 2 ** 40 + 5, 200, 128, 157, 2 ** 53 - 1, -(2 ** 53) + 1]]],
        valid: [],
        test: [],
      }),
      'x',
    ) as Map<string, number[][][]>;
    expect(parsed.get('train')).toEqual([[[-3, 2 ** 40 + 5, 200, 128, 157, 2 ** 53 - 1, -(2 ** 53) + 1]]]);
  });

  it('refuses int64 values beyond the safe integer range', () => {
    const huge = musicPickle({ train: [[[2 ** 60]]], valid: [], test: [] });
    expect(() => readPickle(huge, 'p')).toThrow(
      /numpy int64 scalar 1152921504606846976 is outside the safe integer range/,
    );
  });

  it('refuses os.system (GLOBAL + REDUCE) before anything runs', () => {
    const marker = join(tmpdir(), `cliffguard-pickle-${process.pid}`);
    rmSync(marker, { force: true });
    const evil = bytes(
      op.proto2(),
      op.global('os', 'system'),
      op.shortBinString(`touch ${marker}`),
      [0x85], // TUPLE1
      op.reduce(),
      op.stop(),
    );
    expect(() => readPickle(evil, 'evil.pickle')).toThrow(
      /cannot read pickle evil.pickle: the pickle asks for the Python global 'os.system'; only numpy.core.multiarray.scalar and numpy.dtype are allowed/,
    );
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    ['a near miss', bytes(op.proto2(), op.global('numpy.core.multiarray', '_reconstruct'), op.stop())],
    ['builtins.eval', bytes(op.proto2(), op.global('__builtin__', 'eval'), op.stop())],
  ])('refuses a GLOBAL other than the two: %s', (_, pickle) => {
    expect(() => readPickle(pickle, 'p')).toThrow(
      /asks for the Python global '.+'; only numpy.core.multiarray.scalar and numpy.dtype are allowed at offset 2 \(opcode GLOBAL\)/,
    );
  });

  it.each([
    [
      'STACK_GLOBAL',
      bytes(
        op.proto2(),
        op.shortBinString('subprocess'),
        op.shortBinString('Popen'),
        op.stackGlobal(),
        op.stop(),
      ),
      /opcode STACK_GLOBAL is refused: the music pickles do not use it at offset 21 \(opcode STACK_GLOBAL\)/,
    ],
    [
      'INST',
      bytes(op.proto2(), op.mark(), op.shortBinString('id'), op.inst('posix', 'system'), op.stop()),
      /opcode INST is refused.* at offset 7 \(opcode INST\)/,
    ],
    [
      'EXT1',
      bytes(op.proto2(), op.ext1(7), op.stop()),
      /opcode EXT1 is refused.* at offset 2 \(opcode EXT1\)/,
    ],
  ])('refuses the other ways to reach a callable by name: %s', (_, pickle, message) => {
    expect(() => readPickle(pickle, 'p')).toThrow(message);
  });

  it('refuses every opcode outside the census by name, before reading its argument', () => {
    let refused = 0;
    for (let code = 0; code < 256; code++) {
      const name = pickleOpcodeName(code);
      if ((PICKLE_OPCODES_READ as readonly string[]).includes(name)) continue;
      // the opcode, then a 4 GiB length it must not act on
      const err = (() => {
        try {
          readPickle(bytes(op.proto2(), op.none(), [code, 255, 255, 255, 255], op.stop()), 'p');
        } catch (e) {
          return e as PickleError;
        }
        throw new Error(`opcode ${name} was accepted`);
      })();
      expect(err).toBeInstanceOf(PickleError);
      expect([err.offset, err.opcode, err.file]).toEqual([3, name, 'p']);
      expect(err.message).toMatch(
        /^cannot read pickle p: (opcode [A-Z_0-9]+ is refused: the music pickles do not use it|not a pickle opcode) at offset 3 \(opcode /,
      );
      refused++;
    }
    expect(refused).toBe(256 - 23);
  });

  it('refuses numpy dtypes other than int64', () => {
    const floats = musicPickle({ train: [[[60]]], valid: [], test: [] }, { dtype: 'f8' });
    expect(() => readPickle(floats, 'p')).toThrow(
      /numpy dtype 'f8' \(2 bytes\) is not supported; expected 'i8' \(int64\) at offset 70 \(opcode REDUCE\)/,
    );
  });

  it('garbage is a clear error', () => {
    expect(() => readPickle(new TextEncoder().encode('hello, world'), 'notes.txt')).toThrow(
      /^cannot read pickle notes.txt: a music pickle starts with PROTO 2, not with BINGET at offset 0 \(opcode BINGET\)$/,
    );
  });

  it('messages are printable ASCII under 300 characters, whatever the file name and the bytes', () => {
    const name = `/data/${'\u0007\u001b[2J'.repeat(50)}/${'x'.repeat(500)}/\u00e9t\u00e9.pickle`;
    const evil = bytes(op.proto2(), op.global(`\u001b]0;${'a'.repeat(30)}`, '\u0000'), op.stop());
    const err = (() => {
      try {
        readPickle(evil, name);
      } catch (e) {
        return e as Error;
      }
      throw new Error('accepted');
    })();
    expect(err.message.length).toBeLessThan(300);
    expect(err.message).toMatch(/^[\x20-\x7e]+$/);
    expect(err.message).toMatch(
      /^cannot read pickle \/data\/\\x07\\x1b\[2J.*\.\.\..*t\\xe9\.pickle: the pickle asks for the Python global '\\x1b\]0;a+\.\\x00'.* at offset 2 \(opcode GLOBAL\)$/,
    );
    expect(printable('ab\ncd', 10)).toBe('ab\\x0acd');
    expect(printable('0123456789abcdef', 10)).toBe('012...cdef');
  });

  it('records where each container was made only when asked (readPickleTracked)', () => {
    const pickle = musicPickle({ train: [[[60, 64]]], valid: [], test: [] });
    const tracked = readPickleTracked(pickle, 't');
    const dict = tracked.value as Map<string, number[][][]>;
    expect(tracked.origin(dict)).toEqual({ offset: 2, opcode: 'EMPTY_DICT' });
    expect(tracked.origin(dict.get('train') as object)).toEqual({ offset: 11, opcode: 'EMPTY_LIST' });
    expect(tracked.origin((dict.get('train') as number[][][])[0][0])?.opcode).toBe('TUPLE');
    expect(tracked.origin({})).toBeUndefined();
  });
});
