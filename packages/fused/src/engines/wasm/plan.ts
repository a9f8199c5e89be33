/**
 * The module's plan for one shape (see assembly/plan.ts): the plan's field numbers, the size of
 * every buffer (the packed GEMM operands, the time-major sequences, the per-thread GEMM scratch),
 * and where each lies in the module's memory.
 */
import { isLastStepHead, type SequenceShape } from '../../problem.js';
import type { FusedExports } from './module.js';

/** Plan field numbers: must match assembly/plan.ts. */
export const F = {
  B: 0,
  T: 1,
  I: 2,
  H: 3,
  O: 4,
  HP: 5,
  IP: 6,
  OP: 7,
  ACT: 8,
  HEAD: 9,
  SPARSE: 10,
  OMEGA: 11,
  MASK: 12,
  COMBINE: 13,
  ALPHA: 14,
  WIN: 16,
  WREC: 17,
  BIAS: 18,
  WOUT: 19,
  BOUT: 20,
  WRECP: 21,
  WRECTP: 22,
  WOUTP: 23,
  WOUTTP: 24,
  WINP: 25,
  RAWIN: 26,
  U: 27,
  IDX: 28,
  TARGETS: 29,
  MASKP: 30,
  S: 31,
  Z: 32,
  DELTA: 33,
  A: 34,
  G: 35,
  DWIN: 36,
  DWREC: 37,
  DB: 38,
  DWOUT: 39,
  DBOUT: 40,
  DOMEGA: 41,
  DH0: 42,
  SCRATCH: 43,
  RESULT: 44,
  COLS: 45,
  VALS: 46,
  NNZMAX: 47,
  SCRATCH1: 48,
} as const;
type Scalar = 'B' | 'T' | 'I' | 'H' | 'O' | 'HP' | 'IP' | 'OP' | 'ACT' | 'HEAD' | 'SPARSE' | 'OMEGA' | 'MASK';
type Buffer = Exclude<keyof typeof F, Scalar | 'COMBINE' | 'ALPHA' | 'NNZMAX'>;

const PLAN_BYTES = 64 * 4;
const ALIGN = 64;
const PAGE = 65536;
const HEAD_CODE = { 'last-softmax': 0, softmax: 1, 'last-linear': 2, sigmoid: 3 } as const;

const up4 = (n: number) => (n + 3) & ~3;
const _up8 = (n: number) => (n + 7) & ~7;

export interface PlanLayout {
  key: string;
  plan: number;
  end: number;
  hp: number;
  ip: number;
  op: number;
  staging: number;
  /** where results are unpadded, one slot after another ([out, end)) */
  out: number;
  at: Record<Buffer, number>;
}

/** Non-zeros the sparse input form holds: denser inputs (over a quarter non-zero) go through a GEMM. */
function sparseCapacity(s: SequenceShape): number {
  return Math.ceil((s.batch * s.time * s.inputSize) / 4);
}

/** Buffer sizes in 4-byte words for a shape (see assembly/plan.ts for the layouts). */
function bufferWords(s: SequenceShape, x: FusedExports): [Record<Buffer, number>, number] {
  const { batch: B, time: T, inputSize: I, hiddenSize: H, outputSize: O } = s;
  const hp = up4(H);
  const ip = up4(I);
  const op = up4(O);
  const zRows = isLastStepHead(s.head) ? B : T * B;
  const seq = T * B * hp;
  // per thread: gemmTN's packed blocks, or gemmNN's packed rows of A (K is Hp, Ip or Op)
  const scratch = Math.max(
    x.gemmTNScratch(Math.max(hp, ip), Math.max(hp, op)),
    x.gemmNNScratch(Math.max(hp, ip, op)),
  );
  const words: Record<Buffer, number> = {
    WIN: ip * hp,
    WREC: hp * hp,
    BIAS: hp,
    WOUT: hp * op,
    BOUT: op,
    WRECP: x.packedSize(hp, hp),
    WRECTP: x.packedSize(hp, hp),
    WOUTP: x.packedSize(hp, op),
    WOUTTP: x.packedSize(op, hp),
    WINP: x.packedSize(ip, hp),
    RAWIN: B * T * I,
    U: T * B * ip,
    IDX: T * B + 1,
    COLS: sparseCapacity(s),
    VALS: sparseCapacity(s),
    TARGETS: Math.max(B * T * O, B * T, B * O, B),
    MASKP: B * T,
    S: (T + 1) * B * hp,
    Z: zRows * op,
    DELTA: seq,
    A: seq,
    G: seq,
    DWIN: ip * hp,
    DWREC: hp * hp,
    DB: hp,
    DWOUT: hp * op,
    DBOUT: op,
    DOMEGA: hp * hp,
    DH0: B * hp,
    SCRATCH: scratch,
    SCRATCH1: scratch,
    RESULT: 8,
  };
  // inputs pass through the staging area one at a time; every result gets its own output slot
  const staging = Math.max(I * H, H * H, H * O, B * H);
  const outputs = I * H + 2 * H * H + H + H * O + O + 2 * B * H + 2 * B * T * H + B * T * O + B * O + 64;
  return [words, staging + outputs];
}

export function shapeKey(s: SequenceShape): string {
  return [s.batch, s.time, s.inputSize, s.hiddenSize, s.outputSize, s.head].join(',');
}

/**
 * Lays out the plan of shape `s` at the first aligned address from `start`: the plan block, every
 * buffer, the staging area and the output slots; grows the memory when needed, zeroes the plan's
 * range and writes its sizes and buffer addresses.
 */
export function layOutPlan(x: FusedExports, s: SequenceShape, start: number): PlanLayout {
  const key = shapeKey(s);
  const [words, stagingWords] = bufferWords(s, x);
  const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
  const plan = align(start);
  let cursor = plan + PLAN_BYTES;
  const at = {} as Record<Buffer, number>;
  for (const name of Object.keys(words) as Buffer[]) {
    at[name] = cursor;
    cursor = align(cursor + words[name] * 4);
  }
  const staging = cursor;
  const end = align(staging + stagingWords * 4);
  const out = align(
    staging +
      Math.max(
        s.inputSize * s.hiddenSize,
        s.hiddenSize ** 2,
        s.hiddenSize * s.outputSize,
        s.batch * s.hiddenSize,
      ) *
        4,
  );
  const memory = x.memory;
  if (end > memory.buffer.byteLength) memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE));
  new Float32Array(memory.buffer).fill(0, plan / 4, end / 4);
  const i32 = new Int32Array(memory.buffer);
  const { batch: B, time: T, inputSize: I, hiddenSize: H, outputSize: O } = s;
  const hp = up4(H);
  const ip = up4(I);
  const op = up4(O);
  const fields: [number, number][] = [
    [F.B, B],
    [F.T, T],
    [F.I, I],
    [F.H, H],
    [F.O, O],
    [F.HP, hp],
    [F.IP, ip],
    [F.OP, op],
    [F.HEAD, HEAD_CODE[s.head]],
    [F.NNZMAX, sparseCapacity(s)],
  ];
  for (const [f, v] of fields) i32[plan / 4 + f] = v;
  for (const name of Object.keys(at) as Buffer[]) i32[plan / 4 + F[name]] = at[name];
  return { key, plan, end, hp, ip, op, staging, out, at };
}
