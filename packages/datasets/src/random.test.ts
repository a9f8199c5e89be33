import { describe, expect, it } from 'vitest';
import { Random } from './random.js';

/** xoshiro128** written from the reference C code with BigInt arithmetic (independent of random.ts). */
function referenceXoshiro(words: bigint[]): () => bigint {
  const s = [...words];
  const M = 0xffffffffn;
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
  return () => {
    const result = (rotl((s[1] * 5n) & M, 7n) * 9n) & M;
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
    return result;
  };
}

describe('Random (xoshiro128**)', () => {
  it('matches a BigInt re-implementation of the reference algorithm for 10,000 outputs', () => {
    const rng = new Random(12345);
    const ref = referenceXoshiro(rng.getState().words.map(BigInt));
    for (let i = 0; i < 10_000; i++) expect(rng.nextUint32()).toBe(Number(ref()));
  });

  it('gives the published first output 11520 from state {1, 2, 3, 4}', () => {
    const rng = new Random(0);
    rng.setState({ algorithm: 'xoshiro128**', words: [1, 2, 3, 4] });
    // rotl(2·5, 7)·9 = 1280·9
    expect(rng.nextUint32()).toBe(11520);
  });

  it('randint(n) stays in [0, n) and is uniform (chi-square over 60,000 draws)', () => {
    const rng = new Random(7);
    for (const n of [2, 3, 4, 6, 98, 1000]) {
      const counts = new Array(n).fill(0);
      const draws = 60_000;
      let outside = 0;
      for (let i = 0; i < draws; i++) {
        const k = rng.randint(n);
        if (!(Number.isInteger(k) && k >= 0 && k < n)) outside++;
        else counts[k]++;
      }
      expect(outside).toBe(0);
      const e = draws / n;
      const chi2 = counts.reduce((a, c) => a + (c - e) ** 2 / e, 0);
      // mean n−1, sd sqrt(2(n−1)): 6 sd above the mean is far beyond chance
      expect(chi2).toBeLessThan(n - 1 + 6 * Math.sqrt(2 * (n - 1)));
    }
  });

  it('uniform() is in [0, 1), float32-exact, with mean 1/2 and variance 1/12', () => {
    const rng = new Random(3);
    let sum = 0;
    let sq = 0;
    const n = 100_000;
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      if (!(u >= 0 && u < 1) || Math.fround(u) !== u) bad++;
      sum += u;
      sq += u * u;
    }
    expect(bad).toBe(0);
    const mean = sum / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sq / n - mean * mean - 1 / 12)).toBeLessThan(0.002);
  });

  it('restores a saved state exactly, through JSON', () => {
    const a = new Random(99);
    for (let i = 0; i < 37; i++) a.randint(10);
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const first = Array.from({ length: 50 }, () => a.nextUint32());
    const b = new Random(1);
    b.setState(saved);
    expect(Array.from({ length: 50 }, () => b.nextUint32())).toEqual(first);
  });

  it('different seeds give different streams, equal seeds equal ones', () => {
    const draw = (seed: number) => {
      const r = new Random(seed);
      return Array.from({ length: 8 }, () => r.nextUint32());
    };
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1)).not.toEqual(draw(2));
    expect(draw(2 ** 40)).not.toEqual(draw(0));
  });

  it('rejects bad seeds, bad n and bad states with errors naming the value', () => {
    expect(() => new Random(1.5)).toThrow(/seed must be a safe integer, got 1.5/);
    const r = new Random(1);
    expect(() => r.randint(0)).toThrow(/got 0/);
    expect(() => r.randint(2.5)).toThrow(/got 2.5/);
    expect(() => r.setState({ algorithm: 'xoshiro128**', words: [0, 0, 0, 0] })).toThrow(/not all 0/);
    expect(() => r.setState({ algorithm: 'xoshiro128**', words: [1, 2, 3] as never })).toThrow(/four uint32/);
    expect(() => r.setState({ algorithm: 'pcg' as never, words: [1, 2, 3, 4] })).toThrow(/xoshiro128/);
  });
});
