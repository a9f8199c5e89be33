import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/**
 * Runs `fn` and asserts that `tf.memory().numTensors` is the same afterwards.
 * Every test that makes tensors goes through this (or `withNoLeak`).
 */
export async function expectNoLeak<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  expect(after, `tensors leaked: ${after - before}`).toBe(before);
  return result;
}

/** Wraps a test body so it is leak-checked: `it('x', withNoLeak(async () => ...))`. */
export function withNoLeak(fn: () => unknown | Promise<unknown>): () => Promise<void> {
  return async () => {
    await expectNoLeak(fn);
  };
}
