// Test helpers: independent plain-JS references and small fixtures (not built, not shipped).

import type { BackendInfo } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expect, it } from 'vitest';
import { canReadSync } from './step.js';

/** Deterministic values in [-scale, scale) from a small LCG, so references do not depend on tfjs. */
export function values(n: number, seed: number, scale = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

/** L2 norm in float64 over the values of several arrays. */
export function refNorm(arrays: ArrayLike<number>[]): number {
  let s = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** numpy's default (linear) percentile of unsorted values. */
export function refPercentile(xs: number[], p: number): number {
  const a = [...xs].sort((x, y) => x - y);
  const pos = ((a.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, a.length - 1);
  return a[lo] + (pos - lo) * (a[hi] - a[lo]);
}

export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel = 1e-6,
  abs = 0,
): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = Math.max(rel * Math.abs(expected[i]), abs);
    expect(
      Math.abs(actual[i] - expected[i]),
      `element ${i}: ${actual[i]} vs ${expected[i]}`,
    ).toBeLessThanOrEqual(tol);
  }
}

/** Copies of every weight's values (model or optimizer), for bit-for-bit comparisons. */
export async function snapshot(
  weights: Array<{ name?: string; tensor?: tf.Tensor } | tf.Tensor>,
): Promise<number[][]> {
  const out: number[][] = [];
  for (const w of weights) {
    const t = w instanceof tf.Tensor ? w : w.tensor!;
    if (t.dtype === 'string') continue;
    out.push(Array.from(await t.data()));
  }
  return out;
}

/** A small regression model: 4 -> 8 (tanh) -> 1, deterministic initial weights. */
export function smallModel(seed = 1): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: 8,
        inputShape: [4],
        activation: 'tanh',
        kernelInitializer: tfl.initializers.glorotNormal({ seed }),
      }),
      tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 1 }) }),
    ],
  });
  return model;
}

/** Data y = Σx·3 (large targets, so early gradients are large and get clipped). */
export function toyData(n: number, seed = 7): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const xs = values(n * 4, seed, 1.5);
  const ys = Array.from(
    { length: n },
    (_, i) => 3 * (xs[4 * i] + xs[4 * i + 1] - xs[4 * i + 2] + 0.5 * xs[4 * i + 3]),
  );
  return { x: tf.tensor2d(xs, [n, 4]), y: tf.tensor2d(ys, [n, 1]) };
}

/** The tfjs variable names of a model's trainable weights, in the order model.fit passes them. */
export function variableNames(model: tfl.LayersModel): string[] {
  return model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
}

/**
 * `it` for tests that run an optimizer step (one synchronous readback): skipped, with the
 * reason in its title, where the backend cannot read synchronously (webgpu outside a browser),
 * and with `heavy`, also on a software GPU adapter (correct but seconds per kernel).
 */
export function syncIt(backend: BackendInfo) {
  return (title: string, fn: () => Promise<void>, options: { heavy?: boolean } = {}) => {
    if (!canReadSync(backend.name)) {
      it.skip(`${title} (skipped: webgpu cannot read synchronously)`, fn);
    } else if (options.heavy && backend.software) {
      it.skip(`${title} (skipped: software GPU adapter, too slow)`, fn);
    } else {
      it(title, fn);
    }
  };
}
