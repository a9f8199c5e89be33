import { describe, expect, it } from 'vitest';
import { INIT_NAMES, initialRnnWeights, orthogonal, smartTanhRecurrent } from './init.js';
import { Prng } from './prng.js';
import { spectralRadius } from './spectral.js';

const sizes = { inputSize: 6, hiddenSize: 50, outputSize: 4 };

function std(values: ArrayLike<number>): number {
  const xs = Array.from(values);
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
}

describe('initialisations (paper section 4.1.1)', () => {
  it('smart-tanh: spectral radius 0.95 ± 1e-3 and exactly 15 non-zero incoming weights per unit', () => {
    for (const seed of [52, 1, 2]) {
      const w = initialRnnWeights('smart-tanh', sizes, seed).W_rec;
      expect(w.shape).toEqual([50, 50]);
      expect(Math.abs(spectralRadius(w) - 0.95)).toBeLessThan(1e-3);
      for (let j = 0; j < 50; j++) {
        let nonZero = 0;
        for (let i = 0; i < 50; i++) if (w.values[i * 50 + j] !== 0) nonZero++;
        expect(nonZero, `unit ${j}`).toBe(15);
      }
    }
  });

  it('smart-tanh: W_in and W_out ~ N(0, 0.01); biases 0', () => {
    const w = initialRnnWeights('smart-tanh', { inputSize: 100, hiddenSize: 50, outputSize: 100 }, 3);
    expect(std(w.W_in.values)).toBeGreaterThan(0.0093);
    expect(std(w.W_in.values)).toBeLessThan(0.0107);
    expect(std(w.W_out.values)).toBeGreaterThan(0.0093);
    expect(std(w.W_out.values)).toBeLessThan(0.0107);
    expect(Array.from(w.b.values).every((v) => v === 0)).toBe(true);
    expect(Array.from(w.b_out.values).every((v) => v === 0)).toBe(true);
  });

  it('sigmoid N(0, 0.01) and basic-tanh N(0, 0.1) everywhere', () => {
    for (const [init, s] of [
      ['sigmoid', 0.01],
      ['basic-tanh', 0.1],
    ] as const) {
      const w = initialRnnWeights(init, { inputSize: 100, hiddenSize: 100, outputSize: 100 }, 5);
      for (const k of ['W_in', 'W_rec', 'W_out'] as const) {
        // 10,000 draws: the sample sd is within 3% of s with overwhelming probability.
        expect(Math.abs(std(w[k].values) / s - 1), `${init} ${k}`).toBeLessThan(0.03);
      }
    }
  });

  it('glorot: uniform within ±√(6/(fanIn+fanOut)); orthogonal: WᵀW = I', () => {
    const g = initialRnnWeights('glorot', sizes, 4);
    const limit = Math.sqrt(6 / (50 + 50));
    expect(Math.max(...Array.from(g.W_rec.values, Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...Array.from(g.W_rec.values, Math.abs))).toBeGreaterThan(0.95 * limit);
    const o = initialRnnWeights('orthogonal', sizes, 4).W_rec.values;
    for (let i = 0; i < 50; i++) {
      for (let j = 0; j < 50; j++) {
        let dot = 0;
        for (let k = 0; k < 50; k++) dot += o[k * 50 + i] * o[k * 50 + j];
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-5);
      }
    }
    // Rectangular: [3, 8] has orthonormal rows.
    const r = orthogonal(3, 8, new Prng(1));
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let dot = 0;
        for (let k = 0; k < 8; k++) dot += r[i * 8 + k] * r[j * 8 + k];
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });

  it('is deterministic per seed (bit for bit) and differs between seeds', () => {
    for (const init of INIT_NAMES) {
      const a = initialRnnWeights(init, sizes, 7);
      const b = initialRnnWeights(init, sizes, 7);
      const c = initialRnnWeights(init, sizes, 8);
      for (const k of ['W_in', 'W_rec', 'W_out'] as const) {
        expect(b[k].values).toEqual(a[k].values);
        expect(c[k].values).not.toEqual(a[k].values);
      }
    }
  });

  it('smart-tanh on fewer than 15 units keeps every weight; custom non-zeros and radius', () => {
    const small = smartTanhRecurrent(6, new Prng(2));
    expect(Array.from(small).filter((v) => v !== 0).length).toBe(36);
    const custom = smartTanhRecurrent(30, new Prng(2), { nonZeros: 4, radius: 1.1 });
    expect(Array.from(custom).filter((v) => v !== 0).length).toBe(120);
    expect(spectralRadius({ values: Float32Array.from(custom), shape: [30, 30] })).toBeCloseTo(1.1, 5);
  });

  it('rejects unknown inits and bad sizes', () => {
    expect(() => initialRnnWeights('xavier' as never, sizes, 1)).toThrow(
      /unknown init "xavier"; expected one of sigmoid/,
    );
    expect(() => initialRnnWeights('glorot', { ...sizes, hiddenSize: 0 }, 1)).toThrow(
      /hiddenSize must be a positive integer, got 0/,
    );
  });
});
