import { describe, expect, it } from 'vitest';
import { Prng } from './prng.js';

describe('Prng', () => {
  it('reproduces its sequence from a seed, and seeds differ', () => {
    const a = new Prng(52);
    const b = new Prng(52);
    const c = new Prng(53);
    const xs = Array.from({ length: 100 }, () => a.uniform());
    expect(Array.from({ length: 100 }, () => b.uniform())).toEqual(xs);
    expect(Array.from({ length: 100 }, () => c.uniform())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('normal(s) has mean 0 and standard deviation s', () => {
    const rng = new Prng(1);
    const n = 40_000;
    const xs = Array.from({ length: n }, () => rng.normal(0.1));
    const mean = xs.reduce((s, x) => s + x, 0) / n;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
    // 5 standard errors: 0.1/√n ≈ 5e-4 for the mean, 0.1/√(2n) ≈ 3.5e-4 for the sd.
    expect(Math.abs(mean)).toBeLessThan(2.5e-3);
    expect(Math.abs(sd - 0.1)).toBeLessThan(1.8e-3);
  });

  it('permutation holds every index once; int stays in range', () => {
    const rng = new Prng(9);
    const p = rng.permutation(50);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    for (let i = 0; i < 1000; i++) {
      const k = rng.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });

  it('rejects a non-integer seed', () => {
    expect(() => new Prng(1.5)).toThrow(/seed must be an integer, got 1.5/);
  });
});
