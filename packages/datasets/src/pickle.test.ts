import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testData } from '@cliffguard/testing/data';
import { describe, expect, it } from 'vitest';
import { defaultCacheDir } from './download.js';
import { readPickle } from './pickle.js';
import { musicPickle, op } from './pickleBuilder.test-helper.js';
import { loadPolyphonic } from './polyphonic.js';
import { loadPtbChars } from './ptb.js';

const bytes = (...parts: number[][]) => Uint8Array.from(parts.flat());

// $CLIFFGUARD_DATA, ../shared/data or the download cache; else this suite skips (see @cliffguard/testing/data)
const data = await testData(['jsb'], { defaultCacheDir, loadPtbChars, loadPolyphonic });

data.describe('readPickle on the real JSB pickle', () => {
  it('a truncated real pickle is a clear error', () => {
    const real = readFileSync(join(data.dir, 'music', 'JSB_Chorales.pickle'));
    for (const keep of [1, 100, real.length >> 1, real.length - 1]) {
      expect(() => readPickle(real.subarray(0, keep), 'JSB_Chorales.pickle')).toThrow(
        /cannot read pickle JSB_Chorales.pickle: .*(more bytes|end of file|Unexpected end)/i,
      );
    }
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
    [
      'STACK_GLOBAL',
      bytes(
        op.proto2(),
        op.shortBinUnicode('subprocess'),
        op.shortBinUnicode('Popen'),
        op.stackGlobal(),
        op.stop(),
      ),
    ],
    ['INST', bytes(op.proto2(), op.mark(), op.shortBinString('id'), op.inst('posix', 'system'), op.stop())],
    ['a near miss', bytes(op.proto2(), op.global('numpy.core.multiarray', '_reconstruct'), op.stop())],
    ['builtins.eval', bytes(op.proto2(), op.global('__builtin__', 'eval'), op.stop())],
  ])('refuses a global reached through %s', (_, pickle) => {
    expect(() => readPickle(pickle, 'p')).toThrow(
      /asks for the Python global '.+'; only numpy.core.multiarray.scalar and numpy.dtype/,
    );
  });

  it('refuses extension codes', () => {
    expect(() => readPickle(bytes(op.proto2(), op.ext1(7), op.stop()), 'p')).toThrow(
      /asks for extension code 7; only numpy/,
    );
  });

  it('refuses numpy dtypes other than int64', () => {
    const floats = musicPickle({ train: [[[60]]], valid: [], test: [] }, { dtype: 'f8' });
    expect(() => readPickle(floats, 'p')).toThrow(/numpy dtype "f8" is not supported; expected 'i8'/);
  });

  it('garbage is a clear error', () => {
    expect(() => readPickle(new TextEncoder().encode('hello, world'), 'notes.txt')).toThrow(
      /cannot read pickle notes.txt: /,
    );
  });
});
