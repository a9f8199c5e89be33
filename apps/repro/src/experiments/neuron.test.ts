import { describe, expect, it } from 'vitest';
import {
  basinWall,
  descend,
  FIG6,
  fixedPoints,
  neuronError,
  saddleNodeCurve,
  stepLengths,
} from './neuron.js';

// Independent references, written out here: the forward map and a root count by sign changes.
const sig = (x: number) => 1 / (1 + Math.exp(-x));
function errorAfter50(w: number, b: number): number {
  let x = 0.5;
  for (let t = 0; t < 50; t++) x = w * sig(x) + b;
  return (sig(x) - 0.7) ** 2;
}
function countFixedPoints(w: number, b: number): number {
  let count = 0;
  let prev = w * sig(-60) + b + 60;
  for (let x = -60; x <= 60; x += 0.001) {
    const g = w * sig(x) + b - x;
    if (g === 0 || g * prev < 0) count += 1;
    prev = g;
  }
  return count;
}

describe('the one-neuron model', () => {
  it('computes E as the forward map does', () => {
    for (const [w, b] of [
      [3, -1],
      [4.4, -2.6],
      [8, 2],
    ]) {
      expect(neuronError(w, b).error).toBeCloseTo(errorAfter50(w, b), 12);
    }
  });

  it('has the exact gradient (central finite differences)', () => {
    const h = 1e-6;
    for (const [w, b] of [
      [3, -1],
      [4.4, -2.6],
      [5, -2.7],
      [-1, 0.5],
    ]) {
      const e = neuronError(w, b);
      const fdW = (errorAfter50(w + h, b) - errorAfter50(w - h, b)) / (2 * h);
      const fdB = (errorAfter50(w, b + h) - errorAfter50(w, b - h)) / (2 * h);
      expect(e.gradW).toBeCloseTo(fdW, 6);
      expect(e.gradB).toBeCloseTo(fdB, 6);
    }
  });

  it('finds the fixed points of x -> w sigma(x) + b with their stability', () => {
    for (const [w, b] of [
      [3, -1],
      [6, -3],
      [8, -4.5],
      [2, 1],
    ]) {
      const fps = fixedPoints(w, b);
      expect(fps.length).toBe(countFixedPoints(w, b));
      for (const fp of fps) {
        expect(w * sig(fp.x) + b - fp.x).toBeCloseTo(0, 9);
        expect(fp.stable).toBe(Math.abs(w * sig(fp.x) * (1 - sig(fp.x))) < 1);
      }
    }
  });

  it("puts the saddle-node bifurcation where f(x) = x and f'(x) = 1 and the count of fixed points changes", () => {
    const { lower } = saddleNodeCurve(50);
    expect(lower[0][0]).toBeCloseTo(4, 9); // the cusp
    expect(lower[0][1]).toBeCloseTo(-2, 9);
    // crossing the fold along b at fixed w = 6: 1 -> 3 -> 1 fixed points
    const counts = [];
    for (let b = -6; b <= -1; b += 0.01) counts.push(countFixedPoints(6, b));
    const changes = counts.filter((c, i) => i > 0 && c !== counts[i - 1]).length;
    expect(new Set(counts)).toEqual(new Set([1, 3]));
    expect(changes).toBe(2);
    // and the fold's own branch values at w = 6 bracket the bistable range
    const bistable = counts
      .map((c, i) => [-6 + i * 0.01, c])
      .filter(([, c]) => c === 3)
      .map(([b]) => b);
    const foldB = (branch: [number, number][]) => {
      const i = branch.findIndex(([w]) => w >= 6);
      return branch[i][1];
    };
    const fold = [foldB(saddleNodeCurve(20000).lower), foldB(saddleNodeCurve(20000).upper)].sort(
      (a, b) => a - b,
    );
    expect(Math.min(...bistable)).toBeCloseTo(fold[0], 1);
    expect(Math.max(...bistable)).toBeCloseTo(fold[1], 1);
  });

  it('has a wall where the paper puts it: E jumps across the basin boundary inside the bistable region', () => {
    const db = 0.002;
    const steepest = (w: number, from: number, to: number) => {
      let best = { slope: 0, b: 0 };
      for (let b = from; b < to; b += db) {
        const slope = Math.abs(errorAfter50(w, b + db) - errorAfter50(w, b)) / db;
        if (slope > best.slope) best = { slope, b: b + db / 2 };
      }
      return best;
    };
    for (const w of [4.4, 5, 6, 8]) {
      const wall = steepest(w, -6, 0);
      expect(wall.slope).toBeGreaterThan(50); // a wall, not a slope
      expect(Math.abs(wall.b - basinWall(w)!)).toBeLessThan(0.01);
      expect(Math.abs(errorAfter50(w, wall.b - 0.05) - errorAfter50(w, wall.b + 0.05))).toBeGreaterThan(0.25);
      // after the bifurcation: two attractors (within 0.01: near the cusp the 50-step wall sits on the fold)
      expect([-0.01, 0, 0.01].some((d) => countFixedPoints(w, wall.b + d) === 3)).toBe(true);
    }
    // before the bifurcation (w < 4: one fixed point for every b) E changes smoothly
    for (const w of [2, 3, 3.5]) {
      expect(steepest(w, -6, 2).slope).toBeLessThan(2);
      for (let b = -6; b < 2; b += 0.1) expect(countFixedPoints(w, b)).toBe(1);
    }
  });
});

describe('descent on the cliff', () => {
  it('never steps further than lr * threshold when clipped (Algorithm 1)', () => {
    for (const start of [
      [4.4, -2.6],
      [5, -2.8],
      [4.6, -2.4],
      [4.2, -2.6],
    ] as [number, number][]) {
      for (const [lr, threshold] of [
        [0.1, 1],
        [0.3, 0.5],
        [1, 1],
      ]) {
        const path = descend(start, lr, 300, threshold);
        const steps = stepLengths(path);
        for (const s of steps) expect(s).toBeLessThanOrEqual(lr * threshold * (1 + 1e-12));
      }
    }
  });

  it('jumps off the wall without clipping and stays near it with clipping, from the same start', () => {
    const sgd = descend([4.4, -2.6], 0.1, 300);
    const clipped = descend([4.4, -2.6], 0.1, 300, 1);
    expect(Math.max(...stepLengths(sgd))).toBeGreaterThan(1);
    expect(Math.max(...stepLengths(clipped))).toBeLessThanOrEqual(0.1 + 1e-12);
    expect(clipped.some((p) => p.clipped)).toBe(true); // the wall's gradient is over the threshold
    expect(clipped[clipped.length - 1].error).toBeLessThan(0.01);
    expect(sgd[sgd.length - 1].error).toBeGreaterThan(0.05); // landed on a far plateau
    expect(errorAfter50(clipped[300].w, clipped[300].b)).toBeCloseTo(clipped[300].error, 12);
    expect(FIG6.steps).toBe(50);
  });
});
