/**
 * Writes Python pickle bytes by hand for the tests (protocol 2 opcodes, as Python 2 writes the
 * music pickles), so malicious and malformed pickles can be built without Python.
 */
const enc = (s: string) => [...new TextEncoder().encode(s)];

export const op = {
  proto2: () => [0x80, 2],
  stop: () => [0x2e],
  mark: () => [0x28],
  none: () => [0x4e],
  emptyDict: () => [0x7d],
  emptyList: () => [0x5d],
  appends: () => [0x65],
  setitems: () => [0x75],
  tuple: () => [0x74],
  tuple2: () => [0x86],
  tuple3: () => [0x87],
  reduce: () => [0x52],
  build: () => [0x62],
  binint1: (n: number) => [0x4b, n],
  binint: (n: number) => [0x4a, ...new Uint8Array(Int32Array.of(n).buffer)],
  binput: (i: number) => [0x71, i],
  binget: (i: number) => [0x68, i],
  shortBinString: (bytes: number[] | string) => {
    const b = typeof bytes === 'string' ? enc(bytes) : bytes;
    return [0x55, b.length, ...b];
  },
  shortBinUnicode: (s: string) => [0x8c, enc(s).length, ...enc(s)],
  global: (module: string, name: string) => [0x63, ...enc(`${module}\n${name}\n`)],
  stackGlobal: () => [0x93],
  inst: (module: string, name: string) => [0x69, ...enc(`${module}\n${name}\n`)],
  ext1: (code: number) => [0x82, code],
};

/** int64 little-endian bytes of n */
function int64(n: number): number[] {
  return [...new Uint8Array(BigInt64Array.of(BigInt(n)).buffer)];
}

export type Sets = Record<'train' | 'valid' | 'test', number[][][]>;

/**
 * A music pickle as Python 2 + numpy writes it: {split: [piece: [step: [numpy.int64 scalar]]]},
 * the scalar global and the dtype memoised once and fetched with BINGET afterwards.
 */
export function musicPickle(sets: Sets, options: { byteOrder?: '<' | '>'; dtype?: string } = {}): Uint8Array {
  const out: number[] = [...op.proto2(), ...op.emptyDict(), ...op.mark()];
  let defined = false;
  const scalar = (n: number) => {
    const payload = options.byteOrder === '>' ? int64(n).reverse() : int64(n);
    if (!defined) {
      defined = true;
      return [
        ...op.global('numpy.core.multiarray', 'scalar'),
        ...op.binput(1),
        ...op.global('numpy', 'dtype'),
        ...op.shortBinString(options.dtype ?? 'i8'),
        ...op.binint1(0),
        ...op.binint1(1),
        ...op.tuple3(),
        ...op.reduce(),
        ...op.binput(2),
        ...op.mark(),
        ...op.binint1(3),
        ...op.shortBinString(options.byteOrder ?? '<'),
        ...op.none(),
        ...op.none(),
        ...op.none(),
        ...op.binint(-1),
        ...op.binint(-1),
        ...op.binint1(0),
        ...op.tuple(),
        ...op.build(),
        ...op.shortBinString(payload),
        ...op.tuple2(),
        ...op.reduce(),
      ];
    }
    return [...op.binget(1), ...op.binget(2), ...op.shortBinString(payload), ...op.tuple2(), ...op.reduce()];
  };
  for (const split of ['train', 'valid', 'test'] as const) {
    out.push(...op.shortBinString(split), ...op.emptyList(), ...op.mark());
    for (const piece of sets[split]) {
      out.push(...op.emptyList(), ...op.mark());
      for (const step of piece) {
        out.push(...op.mark());
        for (const n of step) out.push(...scalar(n));
        out.push(...op.tuple());
      }
      out.push(...op.appends());
    }
    out.push(...op.appends());
  }
  out.push(...op.setitems(), ...op.stop());
  return Uint8Array.from(out);
}
