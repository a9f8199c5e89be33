import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import { testData } from '@cliffguard/testing/data';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { defaultCacheDir } from './download.js';
import { createPianoRoll, nllPerStep, PIANO_KEYS } from './pianoRoll.js';
import { loadPolyphonic } from './polyphonic.js';
import { loadPtbChars } from './ptb.js';

// $CLIFFGUARD_DATA, ../shared/data or the download cache; else its suite skips (see @cliffguard/testing/data)
const data = await testData(['jsb'], { defaultCacheDir, loadPtbChars, loadPolyphonic });

const pieces = [
  [[60, 64, 67], [], [21], [108, 107].sort((a, b) => a - b)],
  [[62]],
  [[40], [41], [42], [43], [44], [45], [46]],
];

describe('createPianoRoll: windows, next-step targets, mask', () => {
  it('cuts each piece into windows of T covering every step once', () => {
    const roll = createPianoRoll(pieces, 3);
    expect(roll.windows).toEqual([
      { piece: 0, start: 0, length: 3 },
      { piece: 0, start: 3, length: 1 },
      { piece: 1, start: 0, length: 1 },
      { piece: 2, start: 0, length: 3 },
      { piece: 2, start: 3, length: 3 },
      { piece: 2, start: 6, length: 1 },
    ]);
    expect(roll.totalSteps).toBe(12);
  });

  it('input at t is the previous step (silence first), target the step itself, padding masked and zero', () => {
    const roll = createPianoRoll(pieces, 3);
    const indices = [0, 1, 4, 5];
    const a = roll.batchArrays(indices);
    const T = 3;
    // independent: rebuild from the note lists with a dense 128-key roll, then slice keys 21..108
    const dense = (notes: number[] | undefined) => {
      const row = new Array(128).fill(0);
      for (const n of notes ?? []) row[n] = 1;
      return row.slice(21, 109);
    };
    indices.forEach((w, b) => {
      const win = roll.windows[w];
      for (let t = 0; t < T; t++) {
        const at = (b * T + t) * PIANO_KEYS;
        const real = t < win.length;
        const step = win.start + t;
        expect(a.mask[b * T + t]).toBe(real ? 1 : 0);
        expect(Array.from(a.targets.subarray(at, at + PIANO_KEYS))).toEqual(
          real ? dense(pieces[win.piece][step]) : dense([]),
        );
        const prev = real && step > 0 ? pieces[win.piece][step - 1] : [];
        expect(Array.from(a.inputs.subarray(at, at + PIANO_KEYS))).toEqual(dense(prev));
      }
    });
  });

  it('pieceLanes + laneArrays: whole pieces as lanes, window by window, equal to one window per piece', () => {
    const roll = createPianoRoll(pieces, 3);
    const groups = roll.pieceLanes(2);
    // longest first: piece 2 (7 steps), piece 0 (4), then piece 1 (1)
    expect(groups).toEqual([
      { pieces: [2, 0], windows: 3 },
      { pieces: [1], windows: 1 },
    ]);
    // independent: each piece read as one window as long as the longest piece
    const whole = createPianoRoll(pieces, 7);
    for (const g of groups) {
      g.pieces.forEach((piece, lane) => {
        const w = whole.batchArrays([whole.windows.findIndex((x) => x.piece === piece)]);
        for (let t = 0; t < 7; t++) {
          const a = roll.laneArrays(g.pieces, Math.floor(t / 3));
          const at = lane * 3 + (t % 3);
          if (t >= g.windows * 3) continue;
          expect(a.mask[at]).toBe(w.mask[t]);
          expect(a.targets.subarray(at * PIANO_KEYS, (at + 1) * PIANO_KEYS)).toEqual(
            w.targets.subarray(t * PIANO_KEYS, (t + 1) * PIANO_KEYS),
          );
          expect(a.inputs.subarray(at * PIANO_KEYS, (at + 1) * PIANO_KEYS)).toEqual(
            w.inputs.subarray(t * PIANO_KEYS, (t + 1) * PIANO_KEYS),
          );
        }
      });
    }
    expect(() => roll.laneArrays([3], 0)).toThrow(/piece 3 out of range/);
    expect(() => roll.pieceLanes(0)).toThrow(/batchSize must be a positive integer, got 0/);
  });

  it('an epoch visits every window once; a seed shuffles reproducibly', () => {
    const roll = createPianoRoll(pieces, 2);
    const plain = roll.epoch(4);
    expect(plain.flat()).toEqual(roll.windows.map((_, i) => i));
    const a = roll.epoch(4, 7).flat();
    expect([...a].sort((x, y) => x - y)).toEqual(plain.flat());
    expect(roll.epoch(4, 7).flat()).toEqual(a);
    expect(a).not.toEqual(plain.flat());
  });

  it('rejects bad sizes', () => {
    expect(() => createPianoRoll(pieces, 0)).toThrow(/steps must be a positive integer, got 0/);
    expect(() => createPianoRoll(pieces, 2).batchArrays([99])).toThrow(/window 99 out of range/);
    expect(() => createPianoRoll(pieces, 2).epoch(0)).toThrow(/batchSize must be a positive integer, got 0/);
  });
});

data.describe('createPianoRoll on JSB train', () => {
  it('the mask counts every time step of the README (13,807)', async () => {
    const jsb = await loadPolyphonic('jsb', { dir: data.dir, cache: false });
    const roll = createPianoRoll(jsb.train, 200);
    let masked = 0;
    for (const batch of roll.epoch(64)) for (const m of roll.batchArrays(batch).mask) masked += m;
    expect(masked).toBe(13_807);
    expect(roll.totalSteps).toBe(13_807);
  });
});

describe('nllPerStep: Bernoulli NLL summed over notes, mean over real steps', () => {
  it('p = 1/2 everywhere costs 88·ln 2 per step whatever the notes', () => {
    const roll = createPianoRoll(pieces, 3);
    const a = roll.batchArrays([0, 1]);
    const half = new Float32Array(a.targets.length).fill(0.5);
    expect(nllPerStep(half, a.targets, a.mask)).toBeCloseTo(88 * Math.LN2, 5);
  });

  it('matches a direct sum on random probabilities, ignoring padded steps', () => {
    const roll = createPianoRoll(pieces, 4);
    const a = roll.batchArrays([0, 1, 2]);
    const p = Float32Array.from(a.targets, (_, i) => 0.05 + 0.9 * ((i * 0.6180339887) % 1));
    let sum = 0;
    let steps = 0;
    for (let s = 0; s < a.mask.length; s++) {
      if (!a.mask[s]) continue;
      steps++;
      for (let k = 0; k < 88; k++) {
        const y = a.targets[s * 88 + k];
        const q = p[s * 88 + k];
        sum += -(y * Math.log(q) + (1 - y) * Math.log(1 - q));
      }
    }
    expect(steps).toBe(4 + 1 + 4);
    expect(nllPerStep(p, a.targets, a.mask)).toBeCloseTo(sum / steps, 6);
  });

  it('rejects mismatched sizes, NaN and an empty mask', () => {
    expect(() => nllPerStep(new Float32Array(88), new Float32Array(88), new Float32Array(2))).toThrow(
      /expected probabilities = targets = 88 × mask/,
    );
    expect(() =>
      nllPerStep(new Float32Array(88).fill(Number.NaN), new Float32Array(88), new Float32Array([1])),
    ).toThrow(/NaN/);
    expect(() => nllPerStep(new Float32Array(88), new Float32Array(88), new Float32Array([0]))).toThrow(
      /selects no step/,
    );
  });
});

describeBackends('PianoRoll.batch tensors', () => {
  it('float32 inputs/targets [B, T, 88] and mask [B, T] equal the typed arrays', async () => {
    await expectNoLeak(async () => {
      const roll = createPianoRoll(pieces, 3);
      const a = roll.batchArrays([3, 5]);
      const t = roll.batch([3, 5]);
      expect(t.inputs.shape).toEqual([2, 3, 88]);
      expect(t.mask.shape).toEqual([2, 3]);
      expect(await t.inputs.data()).toEqual(a.inputs);
      expect(await t.targets.data()).toEqual(a.targets);
      expect(await t.mask.data()).toEqual(a.mask);
      tf.dispose([t.inputs, t.targets, t.mask]);
    });
  });
});
