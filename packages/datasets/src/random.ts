/**
 * A small seeded PRNG (xoshiro128**, Blackman & Vigna) whose whole state is four uint32 words,
 * so an interrupted training run can save it as plain data and resume the exact same stream.
 * The paper's code uses numpy's RandomState; we do not reproduce its stream, only its
 * distributions (randint(n) uniform on [0, n), uniform on [0, 1)).
 */

/** The generator's state as plain, JSON-serialisable data. */
export interface RandomState {
  algorithm: 'xoshiro128**';
  /** four uint32 words, not all zero */
  words: [number, number, number, number];
}

const TWO_32 = 2 ** 32;

/** splitmix32: spreads a 32-bit seed over the four state words (never all zero). */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) {
    throw new Error(`seed must be a safe integer, got ${seed}`);
  }
}

export class Random {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(seed: number) {
    checkSeed(seed);
    // fold the high bits in so seeds above 2^32 still differ
    const next = splitmix32((seed >>> 0) ^ Math.floor(seed / TWO_32));
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1;
  }

  /** Next uint32 (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform integer in [0, n), unbiased (rejection of the incomplete last block). */
  randint(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
      throw new Error(`randint(n) needs an integer n in [1, 2^32], got ${n}`);
    }
    const limit = TWO_32 - (TWO_32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Uniform in [0, 1) with 24 random bits: exactly representable in float32. */
  uniform(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  getState(): RandomState {
    return { algorithm: 'xoshiro128**', words: [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0] };
  }

  setState(state: RandomState): void {
    const words = state?.words;
    const ok =
      state?.algorithm === 'xoshiro128**' &&
      Array.isArray(words) &&
      words.length === 4 &&
      words.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_32) &&
      words.some((w) => w !== 0);
    if (!ok) {
      throw new Error(
        `not a xoshiro128** state: expected { algorithm: 'xoshiro128**', words: four uint32, not all 0 }, got ${JSON.stringify(state)}`,
      );
    }
    [this.a, this.b, this.c, this.d] = words;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
