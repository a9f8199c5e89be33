/**
 * A bounded, validating reader for exactly what the music pickles of Boulanger-Lewandowski et al.
 * contain (Python 2, protocol 2): a dict of lists of lists of lists or tuples of numpy int64
 * scalars. It is not a general unpickler. It reads the 23 opcodes the four canonical files use
 * (an opcode census of all four) and refuses every other opcode by name; it resolves exactly two
 * globals, `numpy.core.multiarray.scalar` and `numpy.dtype`, to decoders written here.
 *
 * Bounds (every one checked before anything is allocated or run):
 * - every length, count and memo index is checked against the bytes left and the limits below;
 * - time is linear in the file size (every opcode is O(1) or consumes the items it pops; no
 *   container can be fetched from the memo, so nothing is shared, aliased or cyclic);
 * - the stack, the marks and the nesting depth are capped ({@link PICKLE_LIMITS});
 * - BUILD applies only to a numpy dtype made by REDUCE in the same parse, once, with exactly
 *   numpy's int64 state; nothing outlives a parse (no module state is read or written);
 * - every failure is a {@link PickleError}: the file, the byte offset, the opcode, under 300
 *   characters of printable ASCII.
 */

/** The only globals a pickle may name. */
export const ALLOWED_PICKLE_GLOBALS = ['numpy.core.multiarray.scalar', 'numpy.dtype'] as const;

/** Caps of the reader (the real files need depth 4, 5 open MARKs and at most 1,638 stack items). */
export const PICKLE_LIMITS = Object.freeze({
  /** containers nested in containers (dict > list > list > tuple is 4) */
  maxDepth: 8,
  /** MARKs open at once */
  maxMarks: 16,
  /** items on the stack at once (Python 2 appends in batches of 1,000; steps sit above pieces) */
  maxStack: 65_536,
  /** bytes of a GLOBAL module or name line */
  maxNameLength: 64,
});

/** The longest message of a {@link PickleError} (and of the loader's errors). */
export const MAX_MESSAGE_LENGTH = 299;

/** Every pickle opcode of protocols 0-5, by byte: refused ones are still named in errors. */
const OPCODE_NAMES: Record<number, string> = {
  40: 'MARK',
  46: 'STOP',
  48: 'POP',
  49: 'POP_MARK',
  50: 'DUP',
  70: 'FLOAT',
  73: 'INT',
  74: 'BININT',
  75: 'BININT1',
  76: 'LONG',
  77: 'BININT2',
  78: 'NONE',
  80: 'PERSID',
  81: 'BINPERSID',
  82: 'REDUCE',
  83: 'STRING',
  84: 'BINSTRING',
  85: 'SHORT_BINSTRING',
  86: 'UNICODE',
  88: 'BINUNICODE',
  97: 'APPEND',
  98: 'BUILD',
  99: 'GLOBAL',
  100: 'DICT',
  125: 'EMPTY_DICT',
  101: 'APPENDS',
  103: 'GET',
  104: 'BINGET',
  105: 'INST',
  106: 'LONG_BINGET',
  108: 'LIST',
  93: 'EMPTY_LIST',
  111: 'OBJ',
  112: 'PUT',
  113: 'BINPUT',
  114: 'LONG_BINPUT',
  115: 'SETITEM',
  116: 'TUPLE',
  41: 'EMPTY_TUPLE',
  117: 'SETITEMS',
  71: 'BINFLOAT',
  128: 'PROTO',
  129: 'NEWOBJ',
  130: 'EXT1',
  131: 'EXT2',
  132: 'EXT4',
  133: 'TUPLE1',
  134: 'TUPLE2',
  135: 'TUPLE3',
  136: 'NEWTRUE',
  137: 'NEWFALSE',
  138: 'LONG1',
  139: 'LONG4',
  66: 'BINBYTES',
  67: 'SHORT_BINBYTES',
  140: 'SHORT_BINUNICODE',
  141: 'BINUNICODE8',
  142: 'BINBYTES8',
  143: 'EMPTY_SET',
  144: 'ADDITEMS',
  145: 'FROZENSET',
  146: 'NEWOBJ_EX',
  147: 'STACK_GLOBAL',
  148: 'MEMOIZE',
  149: 'FRAME',
  150: 'BYTEARRAY8',
  151: 'NEXT_BUFFER',
  152: 'READONLY_BUFFER',
};

/** The opcode's name, or `0xNN` for a byte that is no pickle opcode. */
export function pickleOpcodeName(byte: number): string {
  return OPCODE_NAMES[byte] ?? `0x${byte.toString(16).padStart(2, '0')}`;
}

/** The opcodes read (the census of the four music pickles); every other one is refused by name. */
export const PICKLE_OPCODES_READ = [
  'PROTO',
  'EMPTY_DICT',
  'EMPTY_LIST',
  'EMPTY_TUPLE',
  'MARK',
  'BINPUT',
  'LONG_BINPUT',
  'BINGET',
  'SHORT_BINSTRING',
  'BININT1',
  'BININT',
  'NONE',
  'GLOBAL',
  'REDUCE',
  'BUILD',
  'TUPLE',
  'TUPLE1',
  'TUPLE2',
  'TUPLE3',
  'APPEND',
  'APPENDS',
  'SETITEMS',
  'STOP',
] as const;

/**
 * Makes text safe for an error message: printable ASCII only (other characters as `\xNN` or
 * `\u{N}`), at most `max` characters (the middle cut out and marked `...`).
 */
export function printable(text: string, max: number): string {
  const escapeAscii = (part: string) => {
    let out = '';
    for (const ch of part) {
      const c = ch.codePointAt(0) as number;
      if (c >= 0x20 && c <= 0x7e) out += ch;
      else out += c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u{${c.toString(16)}}`;
    }
    return out;
  };
  if (text.length <= max) {
    const whole = escapeAscii(text);
    if (whole.length <= max) return whole;
  }
  // only the ends can show: escape just those (a 50 MB text costs no more than a short one)
  const keepHead = Math.ceil((max - 3) / 3);
  const keepTail = max - 3 - keepHead;
  const tail = keepTail > 0 ? escapeAscii(text.slice(-keepTail)) : '';
  return `${escapeAscii(text.slice(0, keepHead)).slice(0, keepHead)}...${tail.slice(tail.length - keepTail)}`;
}

/** A pickle the reader refuses: names the file, the byte offset and the opcode. */
export class PickleError extends Error {
  readonly file: string;
  readonly offset: number;
  readonly opcode: string;
  constructor(file: string, offset: number, opcode: string, problem: string) {
    const where = ` at offset ${offset} (opcode ${opcode})`;
    const head = `cannot read pickle ${printable(file, 96)}: `;
    super(head + printable(problem, MAX_MESSAGE_LENGTH - head.length - where.length) + where);
    this.name = 'PickleError';
    this.file = file;
    this.offset = offset;
    this.opcode = opcode;
  }
}

// ---- values on the stack -------------------------------------------------------------------
// Python None is null, ints are numbers, byte strings are strings (one char per byte: latin1),
// dicts are Maps, lists and tuples are arrays. Only the stack knows list from tuple (`kinds`).

const ATOM = 0; // null, number, string
const LIST = 1;
const TUPLE = 2;
const DICT = 3;
const TOKEN = 4; // a resolved global or a numpy dtype: only ever a REDUCE callable or argument
const TOKEN_TUPLE = 5; // a tuple holding tokens: only ever REDUCE's arguments

const KIND_NAMES = [
  'a value',
  'a list',
  'a tuple',
  'a dict',
  'a numpy global or dtype',
  'a tuple of numpy objects',
];

/** A global the pickle named (per parse: nothing is shared between parses). */
class PyGlobal {
  constructor(readonly name: 'scalar' | 'dtype') {}
}

/** What `numpy.dtype('i8', 0, 1)` made; BUILD sets its byte order, once. */
class NumpyDtype {
  built = false;
  littleEndian = true;
}

/** What the memo holds for a container: containers are never fetched back (nothing is shared). */
class MemoContainer {
  constructor(readonly kind: string) {}
}
const MEMO_CONTAINERS = KIND_NAMES.map((name) => Object.freeze(new MemoContainer(name)));

/** What a parse recorded besides its value (for the loader's error messages). */
export interface PickleParse {
  value: unknown;
  /** where a dict, list or tuple of the value was made: its byte offset and opcode */
  origin(container: object): { offset: number; opcode: string } | undefined;
}

/**
 * Parses pickle bytes with only the two numpy globals allowed. `source` (the file) is named in
 * every error; errors are {@link PickleError}s.
 */
export function readPickle(bytes: Uint8Array, source: string): unknown {
  return parse(bytes, source, null);
}

/** {@link readPickle} that also records where each container was made (a WeakMap, no copies). */
export function readPickleTracked(bytes: Uint8Array, source: string): PickleParse {
  const origins = new WeakMap<object, number>();
  const value = parse(bytes, source, origins);
  return {
    value,
    origin(container) {
      const offset = origins.get(container);
      return offset === undefined ? undefined : { offset, opcode: pickleOpcodeName(bytes[offset]) };
    },
  };
}

function parse(bytes: Uint8Array, source: string, origins: WeakMap<object, number> | null): unknown {
  const end = bytes.length;
  const { maxDepth, maxMarks, maxStack, maxNameLength } = PICKLE_LIMITS;
  const stack: unknown[] = [];
  const kinds = new Uint8Array(maxStack);
  const depths = new Uint8Array(maxStack);
  const marks: number[] = [];
  const memo: unknown[] = [];
  let puts = 0;
  let sp = 0;
  let at = 0; // offset of the opcode being read
  let code = -1;

  // (typed explicitly so TypeScript narrows after a call)
  const fail: (problem: string, offset?: number, opcode?: string) => never = (
    problem,
    offset = at,
    opcode = code < 0 ? 'none' : pickleOpcodeName(code),
  ) => {
    throw new PickleError(source, offset, opcode, problem);
  };
  /** the first argument byte, after checking `n` argument bytes are there */
  const need = (n: number): number => {
    if (at + 1 + n > end) {
      fail(`the file ends ${end - at - 1} bytes into the opcode's ${n}-byte argument (truncated)`);
    }
    return at + 1;
  };
  const fence = () => (marks.length ? marks[marks.length - 1] : 0);
  /** checks `n` items are on the stack above the last mark */
  const items = (n: number) => {
    if (sp - fence() < n) {
      fail(`needs ${n} stack items above the last MARK, found ${sp - fence()} (stack underflow)`);
    }
  };
  const push = (value: unknown, kind: number, depth: number) => {
    if (sp >= maxStack) fail(`more than ${maxStack} items on the stack`);
    if (depth > maxDepth) fail(`containers nested more than ${maxDepth} deep`);
    stack[sp] = value;
    kinds[sp] = kind;
    depths[sp] = depth;
    sp++;
  };
  const made = (container: object) => {
    if (origins) origins.set(container, at);
    return container;
  };
  /** a child may go into a list or dict: no numpy tokens there */
  const storable = (i: number, into: string) => {
    const k = kinds[i];
    if (k === TOKEN || k === TOKEN_TUPLE) fail(`${KIND_NAMES[k]} cannot be stored in ${into}`);
  };
  /** a tuple of stack[from..sp): returns its kind and depth via push */
  const pushTuple = (from: number) => {
    const tuple = made(stack.slice(from, sp)) as unknown[];
    let depth = 0;
    let kind = TUPLE;
    for (let i = from; i < sp; i++) {
      const k = kinds[i];
      if (k === TOKEN) kind = TOKEN_TUPLE;
      else if (k === TOKEN_TUPLE) fail('a tuple of numpy objects cannot be nested in a tuple');
      if (depths[i] > depth) depth = depths[i];
    }
    sp = from;
    push(tuple, kind, depth + 1);
  };

  if (end === 0) fail('the file is empty; a music pickle starts with PROTO 2', 0, 'none');
  if (bytes[0] !== 0x80) {
    fail(
      `a music pickle starts with PROTO 2, not with ${pickleOpcodeName(bytes[0])}`,
      0,
      pickleOpcodeName(bytes[0]),
    );
  }

  let last = 0; // offset of the last opcode read
  while (at < end) {
    last = at;
    code = bytes[at];
    switch (code) {
      case 0x80: {
        // PROTO
        const arg = need(1);
        if (at !== 0) fail('PROTO may only open the file');
        if (bytes[arg] !== 2) fail(`protocol ${bytes[arg]}; the music pickles are protocol 2`);
        at += 2;
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(made(new Map()), DICT, 1);
        at += 1;
        break;
      case 0x5d: // EMPTY_LIST
        push(made([]), LIST, 1);
        at += 1;
        break;
      case 0x29: // EMPTY_TUPLE
        push(made([]), TUPLE, 1);
        at += 1;
        break;
      case 0x28: // MARK
        if (marks.length >= maxMarks) fail(`more than ${maxMarks} MARKs open`);
        marks.push(sp);
        at += 1;
        break;
      case 0x4e: // NONE
        push(null, ATOM, 0);
        at += 1;
        break;
      case 0x4b: // BININT1
        push(bytes[need(1)], ATOM, 0);
        at += 2;
        break;
      case 0x4a: {
        // BININT
        const a = need(4);
        push(bytes[a] | (bytes[a + 1] << 8) | (bytes[a + 2] << 16) | (bytes[a + 3] << 24), ATOM, 0);
        at += 5;
        break;
      }
      case 0x55: {
        // SHORT_BINSTRING: one length byte, then that many bytes (checked against the bytes left)
        const a = need(1);
        const n = bytes[a];
        if (a + 1 + n > end)
          fail(`a ${n}-byte string with ${end - a - 1} bytes left in the file (truncated)`);
        push(latin1(bytes, a + 1, a + 1 + n), ATOM, 0);
        at = a + 1 + n;
        break;
      }
      case 0x71: // BINPUT
      case 0x72: {
        // LONG_BINPUT
        const wide = code === 0x72;
        const a = need(wide ? 4 : 1);
        const index = wide
          ? (bytes[a] | (bytes[a + 1] << 8) | (bytes[a + 2] << 16) | (bytes[a + 3] << 24)) >>> 0
          : bytes[a];
        items(1);
        // Python 2 numbers the memo 1, 2, 3, ...: an index may not run ahead of the PUTs so far,
        // which bounds the memo by the file size
        if (index > puts + 1) fail(`memo index ${index} runs ahead of the ${puts} PUTs so far`);
        puts++;
        const k = kinds[sp - 1];
        memo[index] = k === ATOM || k === TOKEN ? stack[sp - 1] : MEMO_CONTAINERS[k];
        at = a + (wide ? 4 : 1);
        break;
      }
      case 0x68: {
        // BINGET
        const index = bytes[need(1)];
        const value = memo[index];
        if (value === undefined) fail(`memo index ${index} was never stored`);
        if (value instanceof MemoContainer) {
          fail(`memo index ${index} holds ${value.kind}; shared containers are not supported`);
        }
        push(value, value instanceof PyGlobal || value instanceof NumpyDtype ? TOKEN : ATOM, 0);
        at += 2;
        break;
      }
      case 0x63: {
        // GLOBAL: "module\nname\n", both short lines; only the two numpy globals resolve
        const lines: string[] = [];
        let i = at + 1;
        for (let line = 0; line < 2; line++) {
          const start = i;
          while (i < end && bytes[i] !== 0x0a && i - start <= maxNameLength) i++;
          if (i >= end) fail("the file ends inside the global's name (truncated)");
          if (bytes[i] !== 0x0a) fail(`a global name line longer than ${maxNameLength} bytes`);
          let s = '';
          for (let j = start; j < i; j++) s += String.fromCharCode(bytes[j]);
          lines.push(s);
          i++;
        }
        const [module, name] = lines;
        let resolved: PyGlobal;
        if (module === 'numpy.core.multiarray' && name === 'scalar') resolved = new PyGlobal('scalar');
        else if (module === 'numpy' && name === 'dtype') resolved = new PyGlobal('dtype');
        else {
          resolved = fail(
            `the pickle asks for the Python global '${printable(`${module}.${name}`, 60)}'; only ${ALLOWED_PICKLE_GLOBALS.join(' and ')} are allowed`,
          );
        }
        push(resolved, TOKEN, 0);
        at = i;
        break;
      }
      case 0x52: {
        // REDUCE: callable(*args), for the two numpy globals only
        items(2);
        const callable = stack[sp - 2];
        const args = stack[sp - 1] as unknown[];
        const argKind = kinds[sp - 1];
        if (!(callable instanceof PyGlobal))
          fail(
            `REDUCE calls ${KIND_NAMES[kinds[sp - 2]]}; only numpy.dtype and numpy.core.multiarray.scalar may be called`,
          );
        if (argKind !== TUPLE && argKind !== TOKEN_TUPLE)
          fail(`REDUCE's arguments are ${KIND_NAMES[argKind]}, not a tuple`);
        let result: unknown;
        let kind = ATOM;
        if (callable.name === 'dtype') {
          const [spec, align, copy] = args;
          if (args.length !== 3 || (align !== 0 && align !== 1) || (copy !== 0 && copy !== 1)) {
            fail(`numpy.dtype takes ('i8', 0|1, 0|1) here, got ${args.length} arguments`);
          }
          if (spec !== 'i8')
            fail(`numpy dtype ${describeAtom(spec)} is not supported; expected 'i8' (int64)`);
          result = new NumpyDtype();
          kind = TOKEN;
        } else {
          const [dtype, payload] = args;
          if (args.length !== 2)
            fail(`numpy.core.multiarray.scalar takes (dtype, 8 bytes), got ${args.length} arguments`);
          if (!(dtype instanceof NumpyDtype)) fail('numpy scalar without an int64 dtype');
          if (!dtype.built) fail('numpy scalar with a dtype whose state (BUILD) was never set');
          if (typeof payload !== 'string' || payload.length !== 8) {
            fail(`numpy int64 scalar payload must be 8 bytes, got ${describeAtom(payload)}`);
          }
          result = int64(payload, dtype.littleEndian, fail);
        }
        sp = sp - 2;
        push(result, kind, 0);
        at += 1;
        break;
      }
      case 0x62: {
        // BUILD: only numpy's dtype state, once, on a dtype made in this parse
        items(2);
        const target = stack[sp - 2];
        if (!(target instanceof NumpyDtype)) {
          fail(
            `BUILD on ${target instanceof PyGlobal ? `the global ${target.name === 'dtype' ? 'numpy.dtype' : 'numpy.core.multiarray.scalar'}` : KIND_NAMES[kinds[sp - 2]]}; only a numpy dtype made by REDUCE may be built`,
          );
        }
        if (target.built) fail('a second BUILD on the same numpy dtype');
        if (kinds[sp - 1] !== TUPLE) fail(`numpy dtype state is ${KIND_NAMES[kinds[sp - 1]]}, not a tuple`);
        target.littleEndian = dtypeState(stack[sp - 1] as unknown[], fail);
        target.built = true;
        sp = sp - 1;
        at += 1;
        break;
      }
      case 0x74: {
        // TUPLE
        if (!marks.length) fail('TUPLE without a MARK');
        pushTuple(marks.pop() as number);
        at += 1;
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {
        // TUPLE1, TUPLE2, TUPLE3
        const n = code - 0x84;
        items(n);
        pushTuple(sp - n);
        at += 1;
        break;
      }
      case 0x61: {
        // APPEND
        items(2);
        const list = stack[sp - 2] as unknown[];
        if (kinds[sp - 2] !== LIST) fail(`APPEND to ${KIND_NAMES[kinds[sp - 2]]}; only lists take APPEND`);
        storable(sp - 1, 'a list');
        list.push(stack[sp - 1]);
        if (depths[sp - 1] + 1 > depths[sp - 2]) {
          if (depths[sp - 1] + 1 > maxDepth) fail(`containers nested more than ${maxDepth} deep`);
          depths[sp - 2] = depths[sp - 1] + 1;
        }
        sp = sp - 1;
        at += 1;
        break;
      }
      case 0x65: {
        // APPENDS
        if (!marks.length) fail('APPENDS without a MARK');
        const from = marks.pop() as number;
        if (from - 1 < fence()) fail('APPENDS with no list below its MARK');
        const t = from - 1;
        if (kinds[t] !== LIST) fail(`APPENDS to ${KIND_NAMES[kinds[t]]}; only lists take APPENDS`);
        const list = stack[t] as unknown[];
        let depth = depths[t];
        for (let i = from; i < sp; i++) {
          storable(i, 'a list');
          list.push(stack[i]);
          if (depths[i] + 1 > depth) depth = depths[i] + 1;
        }
        if (depth > maxDepth) fail(`containers nested more than ${maxDepth} deep`);
        depths[t] = depth;
        sp = from;
        at += 1;
        break;
      }
      case 0x75: {
        // SETITEMS: string keys only, each once
        if (!marks.length) fail('SETITEMS without a MARK');
        const from = marks.pop() as number;
        if (from - 1 < fence()) fail('SETITEMS with no dict below its MARK');
        const t = from - 1;
        if (kinds[t] !== DICT) fail(`SETITEMS on ${KIND_NAMES[kinds[t]]}; only dicts take SETITEMS`);
        if ((sp - from) % 2 !== 0) fail(`SETITEMS with an odd number of items (${sp - from})`);
        const dict = stack[t] as Map<string, unknown>;
        let depth = depths[t];
        for (let i = from; i < sp; i += 2) {
          const key = stack[i];
          if (typeof key !== 'string')
            fail(`a dict key is ${key === null ? 'None' : KIND_NAMES[kinds[i]]}; keys must be strings`);
          if (dict.has(key)) fail(`the dict key '${printable(key, 20)}' is set twice`);
          storable(i + 1, 'a dict');
          dict.set(key, stack[i + 1]);
          if (depths[i + 1] + 1 > depth) depth = depths[i + 1] + 1;
        }
        if (depth > maxDepth) fail(`containers nested more than ${maxDepth} deep`);
        depths[t] = depth;
        sp = from;
        at += 1;
        break;
      }
      case 0x2e: {
        // STOP: exactly one value left, no open MARK, nothing after it
        if (marks.length) fail(`STOP with ${marks.length} MARKs still open`);
        if (sp !== 1) fail(`STOP with ${sp} items on the stack; expected exactly 1`);
        if (at + 1 !== end) fail(`STOP is followed by ${end - at - 1} more bytes`);
        const kind = kinds[0];
        if (kind === TOKEN || kind === TOKEN_TUPLE) fail(`the pickle's value is ${KIND_NAMES[kind]}`);
        return stack[0];
      }
      default:
        fail(
          OPCODE_NAMES[code] === undefined
            ? 'not a pickle opcode'
            : `opcode ${OPCODE_NAMES[code]} is refused: the music pickles do not use it`,
        );
    }
  }
  return fail('the file ends after this opcode, without STOP (truncated)', last);
}

/** A short, printable description of a value inside a message. */
function describeAtom(value: unknown): string {
  if (typeof value === 'string')
    return `'${printable(value, 24)}' (${value.length} byte${value.length === 1 ? '' : 's'})`;
  if (value === null) return 'None';
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `a tuple or list of ${value.length}`;
  if (value instanceof Map) return 'a dict';
  if (value instanceof PyGlobal) return `the global ${value.name}`;
  if (value instanceof NumpyDtype) return 'a numpy dtype';
  return typeof value;
}

/** numpy's int64 dtype state, exactly: (3, '<' or '>', None, None, None, -1, -1, 0). */
function dtypeState(state: unknown[], fail: (problem: string) => never): boolean {
  const [version, order, subarray, names, fields, elsize, alignment, flags] = state;
  if (
    state.length !== 8 ||
    version !== 3 ||
    subarray !== null ||
    names !== null ||
    fields !== null ||
    elsize !== -1 ||
    alignment !== -1 ||
    flags !== 0
  ) {
    return fail("numpy dtype state is not int64's (3, '<' or '>', None, None, None, -1, -1, 0)");
  }
  if (order !== '<' && order !== '>') {
    return fail(`numpy dtype state has byte order ${describeAtom(order)}; expected '<' or '>'`);
  }
  return order === '<';
}

/** An int64 from 8 bytes (one char per byte); refuses values outside the safe integer range. */
function int64(payload: string, littleEndian: boolean, fail: (problem: string) => never): number {
  const b = (i: number) => payload.charCodeAt(littleEndian ? i : 7 - i);
  const lo = (b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24)) >>> 0;
  const hi = b(4) | (b(5) << 8) | (b(6) << 16) | (b(7) << 24); // signed
  const value = hi * 4_294_967_296 + lo; // exact while |hi| < 2^21
  if (hi < -2_097_152 || hi >= 2_097_152 || !Number.isSafeInteger(value)) {
    const exact = (BigInt(hi) << 32n) + BigInt(lo);
    return fail(`numpy int64 scalar ${exact} is outside the safe integer range`);
  }
  return value;
}

/** bytes[start..end) as a string of one char per byte (Python 2 byte strings). */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  const f = String.fromCharCode;
  if (end - start === 8) {
    return f(
      bytes[start],
      bytes[start + 1],
      bytes[start + 2],
      bytes[start + 3],
      bytes[start + 4],
      bytes[start + 5],
      bytes[start + 6],
      bytes[start + 7],
    );
  }
  let s = '';
  for (let i = start; i < end; i++) s += f(bytes[i]);
  return s;
}
