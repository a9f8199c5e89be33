import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { buildEvalSet, taskError } from './evaluation.js';
import { createTask } from './tasks.js';

describe('taskError: the paper error measure', () => {
  it('classification: argmax mismatch, ties to the lowest class, NaN always wrong', () => {
    const task = createTask('temporal-order');
    const targets = new Int32Array([0, 1, 2, 3, 3]);
    const predictions = new Float32Array([
      ...[0.9, 0.1, 0, 0], // 0 right
      ...[0.5, 0.5, 0, 0], // tie -> 0, wrong
      ...[-1, -2, 5, 4.9], // 2 right (logits)
      ...[0, 0, 0, Number.NaN], // NaN wrong
      ...[0.1, 0.2, 0.3, 0.4], // 3 right
    ]);
    expect(taskError(task, predictions, targets)).toEqual({ wrong: 2, total: 5, rate: 0.4 });
  });

  it('regression: wrong when the squared error exceeds 0.04', () => {
    const task = createTask('addition');
    const targets = new Float32Array([0.5, 0.5, 0.5, 0.5]);
    // errors 0.19 (0.0361: right), 0.21 (0.0441: wrong), -0.3 (wrong), NaN (wrong)
    const predictions = new Float32Array([0.69, 0.71, 0.2, Number.NaN]);
    expect(taskError(task, predictions, targets)).toEqual({ wrong: 3, total: 4, rate: 0.75 });
  });

  it('memorization: one wrong step makes the sequence wrong; "pattern" scores only the last nPos steps', () => {
    const task = createTask('memorization', { nValues: 2, nPos: 2 });
    // B = 2, T = 5 (L = 1), 3 outputs
    const targets = new Int32Array([2, 2, 2, 0, 1, 2, 2, 2, 1, 1]);
    const oneHot = (classes: number[]) =>
      new Float32Array(classes.flatMap((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0))));
    const right = oneHot([...targets]);
    expect(taskError(task, right, { targets, targetShape: [2, 5] })).toEqual({ wrong: 0, total: 2, rate: 0 });
    const blankWrong = oneHot([2, 0, 2, 0, 1, 2, 2, 2, 1, 1]);
    expect(taskError(task, blankWrong, { targets, targetShape: [2, 5] }).wrong).toBe(1);
    expect(taskError(task, blankWrong, { targets, targetShape: [2, 5] }, { steps: 'pattern' }).wrong).toBe(0);
    const patternWrong = oneHot([2, 2, 2, 0, 1, 2, 2, 2, 1, 0]);
    expect(taskError(task, patternWrong, targets, { batchSize: 2, steps: 'pattern' }).wrong).toBe(1);
  });

  it('rejects mismatched sizes and per-step targets without a batch size', () => {
    const task = createTask('temporal-order');
    expect(() => taskError(task, new Float32Array(7), new Int32Array(2))).toThrow(
      /predictions has 7 values, expected 8/,
    );
    const mem = createTask('memorization', { nValues: 2, nPos: 2 });
    expect(() => taskError(mem, new Float32Array(30), new Int32Array(10))).toThrow(/need their batch size/);
  });
});

describe('buildEvalSet', () => {
  it('10,000 sequences in chunks of 1,000, each chunk its own length, reproducible, training stream untouched', () => {
    const task = createTask('temporal-order', { seed: 5, minLength: 50, maxLength: 200 });
    const before = task.getState();
    const set = buildEvalSet(task);
    const shapes = [...set.chunks()].map((c) => c.inputShape);
    expect(shapes.length).toBe(10);
    expect(shapes.every((s) => s[0] === 1000)).toBe(true);
    const lengths = shapes.map((s) => s[1]);
    expect(lengths.every((L) => L >= 50 && L < 200)).toBe(true);
    expect(new Set(lengths).size).toBeGreaterThan(5);
    const again = [...set.chunks()];
    expect(again.map((c) => c.inputShape)).toEqual(shapes);
    expect(task.getState()).toEqual(before);
    // the evaluation stream is not the training stream
    expect(again[0].inputs).not.toEqual(task.withSeed(5).nextBatchArrays(1000).inputs);
  });

  it('a fixed length and a last partial chunk', () => {
    const set = buildEvalSet(createTask('addition'), { size: 2500, chunkSize: 1000, length: 500 });
    const chunks = [...set.chunks()];
    expect(chunks.map((c) => c.inputShape[0])).toEqual([1000, 1000, 500]);
    expect(chunks.every((c) => c.length === 500)).toBe(true);
    expect(() => buildEvalSet(createTask('addition'), { length: 3 })).toThrow(/got 3/);
    expect(() => buildEvalSet(createTask('addition'), { size: 0 })).toThrow(
      /size must be a positive integer, got 0/,
    );
  });
});

describeBackends('EvalSet.evaluate', () => {
  it('a perfect tfjs predictor scores 0 errors; an all-zero one is wrong exactly where the target is 1', async () => {
    await expectNoLeak(async () => {
      const task = createTask('random-permutation', { seed: 9, minLength: 10, maxLength: 30 });
      const set = buildEvalSet(task, { size: 900, chunkSize: 300 });
      // the answer of random permutation is the first step's symbol
      const perfect = (x: tf.Tensor3D) =>
        tf.tidy(() => tf.reshape(tf.slice(x, [0, 0, 0], [-1, 1, -1]), [x.shape[0], 100]));
      expect(await set.evaluate(perfect)).toEqual({ wrong: 0, total: 900, rate: 0 });
      let ones = 0;
      for (const chunk of set.chunks()) for (const t of chunk.targets) ones += t;
      const zeros = (x: tf.Tensor3D) => tf.zeros([x.shape[0], 100]);
      const result = await set.evaluate(zeros);
      expect(result.wrong).toBe(ones);
      expect(result.wrong).toBeGreaterThan(300);
    });
  });

  it('rejects an output of the wrong shape (and disposes everything)', async () => {
    await expectNoLeak(async () => {
      const set = buildEvalSet(createTask('temporal-order'), { size: 10, chunkSize: 10 });
      await expect(set.evaluate((x) => tf.zeros([x.shape[0], 3]))).rejects.toThrow(
        /shape \[10,3\], expected \[10,4\]/,
      );
    });
  });
});
