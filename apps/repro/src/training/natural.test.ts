/**
 * The natural tasks' training schedule (validation-based lr halving, best weights, early stopping)
 * and the music likelihood of whole pieces, on the real JSB Chorales file.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPianoRoll, loadPolyphonic, nllPerStep, PIANO_KEYS } from '@cliffguard/datasets';
import { createRnn } from '@cliffguard/rnn';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { resolveDataDir } from '../core/paths.js';
import { type BackendName, useBackend } from '../runner/backend.js';
import { cli, freshDir, results } from '../test-helpers.js';
import { afterEpoch, NEW_TRACK, type ValidationTrack, wholePieceNll } from './train-natural.js';

/** Feeds validation errors through afterEpoch; returns each epoch's decisions. */
function schedule(valids: number[], rules: { halveOnRise: boolean; patience?: number }) {
  let track: ValidationTrack = NEW_TRACK;
  return valids.map((v, i) => {
    const next = afterEpoch(track, v, i + 1, rules);
    track = next.track;
    return { improved: next.improved, halve: next.halve, stop: next.stop, best: track.best };
  });
}

describe('afterEpoch: the validation schedule of a natural-task run', () => {
  it('keeps the best epoch, halves on a rise, stops after `patience` epochs without a new best', () => {
    const s = schedule([5, 4, 4.5, 4.2, 4.3], { halveOnRise: true, patience: 3 });
    expect(s.map((e) => e.improved)).toEqual([true, true, false, false, false]);
    expect(s.map((e) => e.halve)).toEqual([false, false, true, false, true]);
    expect(s.map((e) => e.stop)).toEqual([false, false, false, false, true]);
    expect(s[4].best).toEqual({ valid: 4, epoch: 2 });
  });

  it('with minImprovement a new best must beat the old by that fraction (Keras min_delta, relative)', () => {
    const s = schedule([10, 9.995, 9.98, 9.9, 9.892], {
      halveOnRise: false,
      patience: 2,
      minImprovement: 0.001,
    });
    // 9.995 is 0.05% better: not a new best; 9.98 is 0.15% better; 9.9 0.8%; 9.892 0.08%
    expect(s.map((e) => e.improved)).toEqual([true, false, true, true, false]);
    expect(s[4].best).toEqual({ valid: 9.9, epoch: 4 });
    expect(s.map((e) => e.stop)).toEqual([false, false, false, false, false]);
  });

  it('without halving or patience it only tracks the best', () => {
    const s = schedule([3, 2, 9, 9, 9, 1], { halveOnRise: false });
    expect(s.some((e) => e.halve || e.stop)).toBe(false);
    expect(s[5].best).toEqual({ valid: 1, epoch: 6 });
  });

  it('a NaN (diverged) error never beats a number, counts as a rise, and a number beats a NaN start', () => {
    const s = schedule([Number.NaN, 7, Number.NaN, 6], { halveOnRise: true, patience: 2 });
    expect(s.map((e) => e.improved)).toEqual([true, true, false, true]);
    expect(s.map((e) => e.halve)).toEqual([false, true, true, true]);
    expect(s[3].best).toEqual({ valid: 6, epoch: 4 });
  });
});

describe.each(['cpu', 'wasm'] as BackendName[])('wholePieceNll on %s', (backend) => {
  it('equals the NLL of each JSB piece read as one window: the state is carried across windows', async () => {
    await useBackend(backend);
    const set = await loadPolyphonic('jsb', { dir: `${resolveDataDir()}/music` });
    const pieces = set.test.slice(0, 5);
    const model = createRnn({
      inputSize: PIANO_KEYS,
      hiddenSize: 12,
      outputSize: PIANO_KEYS,
      activation: 'sigmoid',
      head: 'sigmoid',
      init: 'basic-tanh',
      seed: 3,
    });
    const before = tf.memory().numTensors;
    // ours: 16-step windows, lanes of 2 pieces
    const lanes = await wholePieceNll(model, createPianoRoll(pieces, 16), 2);
    // reference: each piece alone as one window covering all of it, no carried state
    let sum = 0;
    let steps = 0;
    for (const piece of pieces) {
      const roll = createPianoRoll([piece], piece.length);
      const a = roll.batchArrays([0]);
      const x = tf.tensor3d(a.inputs, [1, a.steps, PIANO_KEYS]);
      const { outputs, states } = model.forward(x);
      const probs = (await outputs.data()) as Float32Array;
      tf.dispose([x, outputs, states]);
      sum += nllPerStep(probs, a.targets, a.mask) * piece.length;
      steps += piece.length;
    }
    expect(Math.abs(lanes - sum / steps) / (sum / steps)).toBeLessThan(1e-5);
    // and not what independent 16-step windows (the state reset at every window) give
    const roll = createPianoRoll(pieces, 16);
    let windowed = 0;
    for (const idx of roll.epoch(4)) {
      const a = roll.batchArrays(idx);
      const x = tf.tensor3d(a.inputs, [a.batchSize, a.steps, PIANO_KEYS]);
      const { outputs, states } = model.forward(x);
      windowed +=
        nllPerStep((await outputs.data()) as Float32Array, a.targets, a.mask) *
        a.mask.reduce((s, v) => s + v, 0);
      tf.dispose([x, outputs, states]);
    }
    expect(Math.abs(windowed / roll.totalSteps - lanes)).toBeGreaterThan(1e-4);
    expect(model.carryState).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('music through the CLI: best-validation weights and early stopping', () => {
  it('reports the best epoch’s validation error, its weights’ train/test, and the learning curve', async () => {
    const out = freshDir();
    const args = [
      'music',
      '--out',
      out,
      '--workers',
      '0',
      '--sets',
      'jsb',
      '--epochs',
      '4',
      '--patience',
      '1',
    ];
    const run = cli([...args, '--train-limit', '8', '--eval-limit', '4']);
    expect(run.status, run.stderr + run.stdout).toBe(0);
    const lines = results(join(out, 'music', 'quick', 'results.jsonl'));
    const md = readFileSync(join(out, 'music', 'quick', 'report', 'report.md'), 'utf8');
    // the learning curves and the protocol as run
    expect(md).toContain('music: validation NLL/step after each epoch');
    expect(md).toContain(
      'stopping after 1 without a better validation error; the best-validation weights reported',
    );
    expect(md).toContain("(Ω as in the authors' code)");
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      const r = l.result as {
        valid: number;
        bestEpoch: number;
        epochs: number;
        stoppedEarly: boolean;
        perEpoch: { epoch: number; valid: number; lr: number }[];
        omega?: string;
      };
      const valids = r.perEpoch.map((e) => e.valid);
      expect(r.perEpoch.map((e) => e.epoch)).toEqual(valids.map((_, i) => i + 1));
      expect(r.epochs).toBe(valids.length);
      // the reported validation error is the best epoch's
      const best = Math.min(...valids.filter((v) => !Number.isNaN(v)));
      expect(Math.abs(r.valid - best)).toBeLessThan(1e-4 * best); // 5 and 6 significant digits
      expect(valids[r.bestEpoch - 1]).toBe(best);
      // patience 1: the run stops at the first epoch without a new best
      expect(r.stoppedEarly).toBe(r.epochs < 4);
      if (r.stoppedEarly) expect(valids[r.epochs - 1]).toBeGreaterThanOrEqual(best);
      // perEpoch[j].lr trained epoch j + 1: halved after each rise of the validation error
      for (let j = 1; j < r.perEpoch.length; j++) {
        const rose = j >= 2 && !(valids[j - 1] <= valids[j - 2]);
        expect(r.perEpoch[j].lr).toBe(rose ? r.perEpoch[j - 1].lr / 2 : r.perEpoch[j - 1].lr);
      }
      if (l.config.method === 'SGD-CR') expect(l.config.omega).toBe('code');
    }
  }, 120_000);
});
