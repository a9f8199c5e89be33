/**
 * A locked-down reader for the music pickles (Python 2, protocol 2) built on the `pickleparser`
 * package. A pickle can name any Python global and call it; this reader resolves exactly two,
 * `numpy.core.multiarray.scalar` and `numpy.dtype`, to small decoders written here, and refuses
 * every other global (GLOBAL, STACK_GLOBAL, INST), extension code and persistent id with an error
 * before anything is called. Dicts come back as Maps (no `__proto__` keys on plain objects).
 */
import { Parser } from 'pickleparser';

/** The only globals a pickle may name. */
export const ALLOWED_PICKLE_GLOBALS = ['numpy.core.multiarray.scalar', 'numpy.dtype'] as const;

/** What `numpy.dtype(...)` turns into: only 64-bit integers are accepted. */
class NumpyInt64Dtype {
  littleEndian = true;
  /** BUILD passes numpy's dtype state: (version, byteorder, ...). */
  __setstate__(state: unknown): void {
    const order = Array.isArray(state) ? state[1] : undefined;
    if (order === '>') this.littleEndian = false;
    else if (order !== '<' && order !== '|' && order !== '=') {
      throw new Error(
        `numpy dtype state has byte order ${JSON.stringify(order)}; expected '<', '>', '|' or '='`,
      );
    }
  }
}

function numpyDtype(spec: unknown): NumpyInt64Dtype {
  if (spec !== 'i8')
    throw new Error(`numpy dtype ${JSON.stringify(spec)} is not supported; expected 'i8' (int64)`);
  return new NumpyInt64Dtype();
}

// pickleparser decodes Python 2 byte strings with TextDecoder('ascii'), which is windows-1252:
// a bijection on bytes, so the table below recovers the raw bytes of a scalar's payload.
const BYTE_OF_CHAR = (() => {
  const chars = new TextDecoder('ascii').decode(Uint8Array.from({ length: 256 }, (_, i) => i));
  const table = new Map<number, number>();
  for (let i = 0; i < 256; i++) table.set(chars.charCodeAt(i), i);
  return table;
})();

/** `numpy.core.multiarray.scalar(dtype, payload)`: an int64 from its 8 raw bytes. */
function numpyScalar(dtype: unknown, payload: unknown): number {
  if (!(dtype instanceof NumpyInt64Dtype)) throw new Error('numpy scalar without an int64 dtype');
  if (typeof payload !== 'string' || payload.length !== 8) {
    throw new Error(`numpy int64 scalar payload must be 8 bytes, got ${JSON.stringify(payload)}`);
  }
  // fast path (every note): little-endian, non-negative, below 2^48, all bytes ASCII
  if (dtype.littleEndian && payload.charCodeAt(7) === 0 && payload.charCodeAt(6) === 0) {
    let value = 0;
    let ascii = true;
    for (let i = 5; i >= 0; i--) {
      const c = payload.charCodeAt(i);
      if (c > 0x7f) ascii = false;
      value = value * 256 + c;
    }
    if (ascii) return value;
  }
  const bytes = new Uint8Array(8);
  for (let i = 0; i < 8; i++) {
    const b = BYTE_OF_CHAR.get(payload.charCodeAt(i));
    if (b === undefined) throw new Error('numpy scalar payload is not a byte string');
    bytes[dtype.littleEndian ? i : 7 - i] = b;
  }
  const value = new DataView(bytes.buffer).getBigInt64(0, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Error(`numpy int64 scalar ${value} is outside the safe integer range`);
  }
  return Number(value);
}

function refuse(what: string): never {
  throw new Error(
    `${what}; only ${ALLOWED_PICKLE_GLOBALS.join(' and ')} are allowed (nothing else is resolved or run)`,
  );
}

/**
 * Parses pickle bytes with only the two numpy globals allowed. Errors name `source` and say what
 * was wrong (truncation, a refused global, an unsupported dtype, a malformed opcode stream).
 */
export function readPickle(bytes: Uint8Array, source: string): unknown {
  const parser = new Parser({
    unpicklingTypeOfDictionary: 'Map',
    nameResolver: {
      resolve(module: string, name: string) {
        if (module === 'numpy.core.multiarray' && name === 'scalar') return numpyScalar;
        if (module === 'numpy' && name === 'dtype') return numpyDtype;
        return refuse(`the pickle asks for the Python global '${module}.${name}'`);
      },
    },
    extensionResolver: { resolve: (code: number) => refuse(`the pickle asks for extension code ${code}`) },
    persistentResolver: {
      resolve: (pid: string) => refuse(`the pickle asks for persistent id ${JSON.stringify(pid)}`),
    },
  });
  try {
    return parser.parse(bytes);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot read pickle ${source}: ${message}`, { cause: err });
  }
}
