/**
 * A small seeded pseudo-random generator (mulberry32) for initialisations.
 *
 * Why our own: `tf.randomNormal`'s seed is per call and its global-seed behaviour differs
 * between backends; a model built from the same seed must be bit-for-bit the same everywhere.
 * All draws happen in plain JS (float64) and are rounded to float32 once, at the end.
 */
export class Prng {
  private s: number;
  private spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) {
      throw new RangeError(`seed must be an integer, got ${String(seed)}`);
    }
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** N(0, std) by the Box-Muller transform (the second value of each pair is kept for the next call). */
  normal(std = 1): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z * std;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v) * std;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = p[i];
      p[i] = p[j];
      p[j] = tmp;
    }
    return p;
  }
}
