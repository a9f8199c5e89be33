import { createTask } from '@cliffguard/datasets';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { resolveDataDir } from '../core/paths.js';
import type { RunContext } from '../core/types.js';
import { type BackendName, useBackend } from '../runner/backend.js';
import { type NaturalRunConfig, runNatural } from './train-natural.js';
import { runSynthetic, type SyntheticRunConfig, sgdCrRunConfig } from './train-synthetic.js';
import { saveWeights } from './weights.js';

const config: SyntheticRunConfig = sgdCrRunConfig({
  task: 'addition',
  init: 'smart-tanh',
  alpha: 2,
  omega: 'code',
  minLength: 10,
  maxLength: 12,
  maxUpdates: 3,
  evalSize: 20,
  paperProfile: false,
});

/** A context that resumes from `state` at step 1 (none: a fresh run) and never checkpoints. */
function resumingFrom(backend: string, state?: unknown): RunContext {
  return {
    backend,
    dataDir: resolveDataDir(),
    resume: <S>() => (state === undefined ? undefined : { step: 1, state: state as S }),
    checkpointDue: () => false,
    checkpoint: () => {},
    stopRequested: () => false,
    progress: () => {},
  };
}

/** Every parameter present, W_rec of the wrong shape. */
function badWeights(I: number, H: number, O: number) {
  const zeros = (shape: number[]) => ({ shape, values: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  return saveWeights({
    W_in: zeros([I, H]),
    W_rec: zeros([3, 3]),
    b: zeros([H]),
    W_out: zeros([H, O]),
    b_out: zeros([O]),
  });
}

const music: NaturalRunConfig = {
  data: 'music',
  set: 'jsb',
  method: 'SGD-CR',
  hidden: 8,
  batch: 4,
  steps: 20,
  lr: 0.1,
  clip: 1,
  alpha: 0.5,
  alphaDecay: true,
  halveOnRise: true,
  epochs: 1,
  trainLimit: 4,
  evalLimit: 2,
  paperSetup: '',
};

describe.each(['cpu', 'wasm'] as BackendName[])('a run resumed from a bad checkpoint, on %s', (backend) => {
  it('runSynthetic rejects a checkpoint whose weights have the wrong shape, and leaves no tensor behind', async () => {
    await useBackend(backend);
    // a warm-up run, so that the tensors tfjs keeps for good (kernels, caches) exist before counting
    const ok = await runSynthetic(config, 1, resumingFrom(backend));
    expect(ok.updates).toBeGreaterThan(0);
    const before = tf.memory().numTensors;
    const { inputSize, outputSize } = createTask(config.task);
    const bad = badWeights(inputSize, config.hidden, outputSize);
    await expect(runSynthetic(config, 1, resumingFrom(backend, { weights: bad }))).rejects.toThrow(/W_rec/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runNatural too (music, JSB Chorales from the shared data)', async () => {
    await useBackend(backend);
    const ok = await runNatural(music, 1, resumingFrom(backend));
    expect(ok.updates).toBeGreaterThan(0);
    const before = tf.memory().numTensors;
    const bad = badWeights(88, music.hidden, 88);
    await expect(runNatural(music, 1, resumingFrom(backend, { weights: bad }))).rejects.toThrow(/W_rec/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
