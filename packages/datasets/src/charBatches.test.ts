import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createCharBatches } from './charBatches.js';

const stream = Int32Array.from({ length: 1003 }, (_, i) => (i * 7 + (i >> 3)) % 11);

describe('createCharBatches: lanes and consecutive segments for truncated BPTT', () => {
  it.each([1, 5])(
    'ahead %i: every lane is a contiguous slice of the stream, targets `ahead` later',
    (ahead) => {
      const B = 4;
      const T = 20;
      const batches = createCharBatches(stream, { batchSize: B, steps: T, ahead });
      const laneLength = Math.floor((stream.length - ahead) / B);
      expect(batches.laneLength).toBe(laneLength);
      expect(batches.numSegments).toBe(Math.floor(laneLength / T));
      const lanes = Array.from({ length: B }, () => [] as number[]);
      const targets = Array.from({ length: B }, () => [] as number[]);
      for (const seg of batches) {
        expect(seg.steps).toBe(T);
        for (let b = 0; b < B; b++) {
          lanes[b].push(...seg.symbols.subarray(b * T, (b + 1) * T));
          targets[b].push(...seg.targets.subarray(b * T, (b + 1) * T));
        }
      }
      for (let b = 0; b < B; b++) {
        const start = b * laneLength;
        const used = batches.numSegments * T;
        expect(lanes[b]).toEqual(Array.from(stream.subarray(start, start + used)));
        expect(targets[b]).toEqual(Array.from(stream.subarray(start + ahead, start + ahead + used)));
      }
    },
  );

  it('the next segment continues each lane where the previous one stopped (state can be carried)', () => {
    const batches = createCharBatches(stream, { batchSize: 3, steps: 10 });
    const a = batches.segmentArrays(4);
    const b = batches.segmentArrays(5);
    for (let lane = 0; lane < 3; lane++) {
      // the last target of segment 4 is the first input of segment 5
      expect(b.symbols[lane * 10]).toBe(a.targets[lane * 10 + 9]);
    }
  });

  it('keepPartial scores every lane position once', () => {
    const batches = createCharBatches(stream, { batchSize: 4, steps: 30, keepPartial: true });
    const steps = [...batches].map((s) => s.steps);
    expect(steps.reduce((x, y) => x + y, 0)).toBe(batches.laneLength);
    expect(steps.at(-1)).toBe(batches.laneLength % 30);
  });

  it('rejects bad sizes, negative symbols and a stream too short for one segment', () => {
    expect(() => createCharBatches(stream, { batchSize: 0, steps: 5 })).toThrow(
      /batchSize must be a positive integer, got 0/,
    );
    expect(() => createCharBatches(stream, { batchSize: 2, steps: 5, ahead: 0 })).toThrow(
      /ahead must be .*got 0/,
    );
    expect(() => createCharBatches(new Int32Array([1, -1, 2]), { batchSize: 1, steps: 1 })).toThrow(
      /symbol 1 is -1/,
    );
    expect(() => createCharBatches(stream, { batchSize: 100, steps: 20 })).toThrow(
      /too short for one segment of 20/,
    );
    expect(() => createCharBatches(stream, { batchSize: 2, steps: 5, vocabSize: 5 })).toThrow(
      /symbol 10, outside vocabSize 5/,
    );
    expect(() => createCharBatches(stream, { batchSize: 2, steps: 5 }).segmentArrays(1000)).toThrow(
      /segment 1000 out of range/,
    );
  });
});

describeBackends('CharBatches.segment tensors', () => {
  it('one-hot float32 inputs [B, T, V] and int32 targets equal the typed arrays', async () => {
    await expectNoLeak(async () => {
      const batches = createCharBatches(stream, { batchSize: 3, steps: 7, ahead: 5, vocabSize: 12 });
      const arrays = batches.segmentArrays(2);
      const { inputs, targets } = batches.segment(2);
      expect(inputs.shape).toEqual([3, 7, 12]);
      expect(inputs.dtype).toBe('float32');
      expect(targets.dtype).toBe('int32');
      const x = await inputs.data();
      const expected = new Float32Array(3 * 7 * 12);
      arrays.symbols.forEach((k, i) => {
        expected[i * 12 + k] = 1;
      });
      expect(x).toEqual(expected);
      expect(await targets.data()).toEqual(arrays.targets);
      tf.dispose([inputs, targets]);
    });
  });
});
