import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { agc, autoClip, averageNormClip } from './adaptive.js';
import { ChainedOptimizer } from './chained-optimizer.js';
import { valueClip } from './clipping.js';
import { nonFiniteGuard } from './guard.js';
import { normMonitor } from './monitor.js';
import { expectClose, smallModel, snapshot, syncIt, toyData, variableNames } from './reference.helpers.js';
import { registerTransform } from './registry.js';
import type { GradientTransform } from './transform.js';
import { withGradientClipping } from './with-gradient-clipping.js';

async function saveToMemory(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  return saved!;
}

const fitOpts = { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 as const };

/** Trains, saves, loads, then trains both the original and the loaded copy the same way. */
async function resumeTwice(
  makeOptimizer: () => tf.Optimizer,
  afterLoad?: (loaded: ChainedOptimizer) => void,
) {
  const { x, y } = toyData(32);
  const model = smallModel(9);
  model.compile({ optimizer: makeOptimizer(), loss: 'meanSquaredError' });
  await model.fit(x, y, fitOpts);
  const artifacts = await saveToMemory(model);
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  const original = model.optimizer as ChainedOptimizer;
  const restored = loaded.optimizer as ChainedOptimizer;
  const stateAtSave = original.getState();
  afterLoad?.(restored);
  await model.fit(x, y, fitOpts);
  await loaded.fit(x, y, fitOpts);
  const result = {
    continued: await snapshot(model.getWeights()),
    resumed: await snapshot(loaded.getWeights()),
    original,
    restored,
    stateAtSave,
  };
  return {
    ...result,
    dispose() {
      original.dispose();
      restored.dispose();
      model.dispose();
      loaded.dispose();
      tf.dispose([x, y]);
    },
  };
}

describeBackends('ChainedOptimizer serialization', (backend) => {
  const sit = syncIt(backend);
  sit(
    'model.save with includeOptimizer, then loadLayersModel, resumes exactly like not stopping',
    async () => {
      await expectNoLeak(async () => {
        const r = await resumeTwice(() => withGradientClipping(tf.train.adam(0.02), { maxNorm: 0.5 }));
        expect(r.restored).toBeInstanceOf(ChainedOptimizer);
        expect(r.restored.inner.getClassName()).toBe('Adam');
        for (let i = 0; i < r.continued.length; i++) expectClose(r.resumed[i], r.continued[i], 1e-6, 1e-7);
        expect(r.restored.iterations).toBe(16);
        expect(r.restored.stats).toEqual(r.original.stats);
        expect(r.original.stats.clipCount).toBeGreaterThan(0);
        r.dispose();
      });
    },
    { heavy: true },
  );

  sit(
    'restores the plugin state too: an adaptive threshold resumes from its saved history',
    async () => {
      await expectNoLeak(async () => {
        const make = () =>
          new ChainedOptimizer(tf.train.adam(0.02), [
            nonFiniteGuard(),
            averageNormClip({ factor: 0.8, window: 6, warmup: 2 }),
            normMonitor({ window: 3 }),
          ]);
        const r = await resumeTwice(make);
        expect(r.restored.getConfig()).toEqual(r.original.getConfig());
        for (let i = 0; i < r.continued.length; i++) expectClose(r.resumed[i], r.continued[i], 1e-6, 1e-7);
        expect(r.restored.getState()).toEqual(r.original.getState());
        expect((r.stateAtSave.transform as Array<{ history: number[] }>)[1].history.length).toBe(6);
        r.dispose();

        // Control: the same load with the plugin state reset trains differently, so the state mattered.
        const reset = await resumeTwice(make, (loaded) =>
          loaded.setState({ ...loaded.getState(), transform: null }),
        );
        const differs = reset.continued.some((w, i) =>
          w.some((v, j) => Math.abs(v - reset.resumed[i][j]) > 1e-5),
        );
        expect(differs).toBe(true);
        reset.dispose();
      });
    },
    { heavy: true },
  );

  sit(
    'round-trips every built-in plugin’s config through a saved model (underscored names included)',
    async () => {
      await expectNoLeak(async () => {
        const model = smallModel(2);
        const kernel = variableNames(model)[2]; // e.g. dense_Dense2/kernel
        expect(kernel).toContain('_');
        const opt = new ChainedOptimizer(tf.train.sgd(0.1), [
          nonFiniteGuard({ policy: 'throw' }),
          valueClip({ maxValue: 10 }),
          agc({ clipping: 0.05, exclude: [kernel] }),
          autoClip({ percentile: 25, window: Number.POSITIVE_INFINITY }),
          normMonitor({ window: 4, normType: 'inf' }),
        ]);
        model.compile({ optimizer: opt, loss: 'meanSquaredError' });
        const { x, y } = toyData(8);
        await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
        const loaded = await tfl.loadLayersModel(tf.io.fromMemory(await saveToMemory(model)));
        const restored = loaded.optimizer as ChainedOptimizer;
        expect(restored.getConfig()).toEqual(opt.getConfig());
        expect(restored.getState()).toEqual(opt.getState());
        opt.dispose();
        restored.dispose();
        model.dispose();
        loaded.dispose();
        tf.dispose([x, y]);
      });
    },
    { heavy: true },
  );

  sit(
    'a registered custom plugin survives save and load',
    async () => {
      await expectNoLeak(async () => {
        const opt = new ChainedOptimizer(tf.train.sgd(0.1), [countSteps()]);
        const model = smallModel(4);
        model.compile({ optimizer: opt, loss: 'meanSquaredError' });
        const { x, y } = toyData(16);
        await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
        const loaded = await tfl.loadLayersModel(tf.io.fromMemory(await saveToMemory(model)));
        const restored = loaded.optimizer as ChainedOptimizer;
        expect(restored.getState().transform).toEqual([{ steps: 2 }]);
        await loaded.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
        expect(restored.getState().transform).toEqual([{ steps: 4 }]);
        opt.dispose();
        restored.dispose();
        model.dispose();
        loaded.dispose();
        tf.dispose([x, y]);
      });
    },
    { heavy: true },
  );
});

/** A tiny custom plugin: passes gradients through, counts applied steps in its state. */
function countSteps(): GradientTransform<{ steps: number }> {
  return {
    name: 'testCountSteps',
    init: () => ({ steps: 0 }),
    update: (grads, state) => ({ grads, state }),
    observe: (state, _reads, outcome) => ({ state: { steps: state.steps + (outcome.skipped ? 0 : 1) } }),
    getConfig: () => ({}),
  };
}
registerTransform('testCountSteps', () => countSteps());

describe('ChainedOptimizer: errors', () => {
  it('names an unregistered inner optimizer or transform', () => {
    const transform = { name: 'chain', config: { transforms: [] } };
    const config = { inner: { className: 'NoSuchOptimizer', config: {} }, transform };
    expect(() => ChainedOptimizer.fromConfig(ChainedOptimizer, config)).toThrow(
      /inner optimizer class 'NoSuchOptimizer' is not registered/,
    );
    const bad = {
      inner: { className: 'SGD', config: { learningRate: 0.1 } },
      transform: { name: 'nope', config: {} },
    };
    expect(() => ChainedOptimizer.fromConfig(ChainedOptimizer, bad)).toThrow(/unknown transform 'nope'/);
  });

  it('rejects a state that getState did not make', () => {
    const opt = withGradientClipping(tf.train.sgd(0.1), { maxNorm: 1 });
    expect(() => opt.setState({ version: 99 } as never)).toThrow(/expected a state of version 1/);
    expect(() => registerTransform('has_underscore', () => countSteps())).toThrow(/camelCase/);
    expect(() => registerTransform('testCountSteps', () => countSteps())).toThrow(/already registered/);
    opt.dispose();
  });
});
