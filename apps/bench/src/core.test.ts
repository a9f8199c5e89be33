import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { builtinConfigs } from './configs.js';
import { runCore } from './core.js';
import { initialWeights, makeBatch } from './data.js';
import { tfjsLayersStack } from './stacks/layers.js';
import type { StackFactory } from './stacks/stack.js';
import { plainTrainStep } from './test-helpers/plain-rnn.js';

const tiny = builtinConfigs.tiny;

/** Losses of `steps` plain-JS SGD steps from the bench's initial weights (seed 1). */
function plainLosses(steps: number, clip: boolean): number[] {
  const data = makeBatch(tiny, 1);
  let w = initialWeights(tiny, 1);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const s = plainTrainStep(tiny, w, data, { clip });
    losses.push(s.loss);
    w = s.next;
  }
  return losses;
}

/** A stack that keeps one new tensor per step: the core must report it. */
const leaky: StackFactory = {
  impl: 'leaky',
  method: 'SGD',
  unavailable: () => null,
  async create() {
    const kept: tf.Tensor[] = [];
    return {
      async step() {
        kept.push(tf.scalar(1));
        return 1;
      },
      dispose() {
        // forgets the last one
        tf.dispose(kept.slice(0, -1));
        (globalThis as { leftover?: tf.Tensor }).leftover = kept[kept.length - 1];
      },
    };
  },
};

describeBackends(
  'benchmark core',
  (backend) => {
    it('times stock tfjs-layers, whose losses follow a plain JS SGD run', async () => {
      const { rows, skipped } = await expectNoLeak(() =>
        runCore({ configs: [tiny], backend: backend.name, stacks: [tfjsLayersStack], steps: 3, warmup: 1 }),
      );
      expect(skipped).toEqual([]);
      const [row] = rows;
      expect(row).toMatchObject({
        config: 'tiny',
        backend: backend.name,
        impl: 'tfjs-layers',
        method: 'SGD',
        steps: 3,
      });
      expect(row.ok).toBe(true);
      expect(row.tensors_leaked).toBe(0);
      expect(row.tensors_growth).toBe(0);
      expect(row.tensors_after).toBe(row.tensors_before);
      for (const k of [
        'ms_median',
        'ms_min',
        'ms_max',
        'ms_first',
        'steps_per_s',
        'gflops',
        'flop',
        'bytes_in_use',
      ] as const) {
        expect(row[k], k).toBeGreaterThan(0);
      }
      expect(row.ms_min).toBeLessThanOrEqual(row.ms_median);
      expect(row.ms_median).toBeLessThanOrEqual(row.ms_max);
      // 1 first + 1 warm-up + 3 timed steps, each the loss before its update
      expect(row.losses).toHaveLength(5);
      const plain = plainLosses(5, false);
      row.losses.forEach((l, i) => {
        expect(Math.abs(l - plain[i]) / plain[i], `step ${i}`).toBeLessThan(1e-5);
      });
      expect(row.losses[4]).toBeLessThan(row.losses[0]);
    });

    it('reports a stack that leaks tensors as a failure', async () => {
      const before = tf.memory().numTensors;
      const { rows } = await runCore({
        configs: [tiny],
        backend: backend.name,
        stacks: [leaky],
        steps: 4,
        warmup: 0,
      });
      const g = globalThis as { leftover?: tf.Tensor };
      g.leftover?.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(rows[0].ok).toBe(false);
      expect(rows[0].tensors_growth).toBe(4);
      expect(rows[0].tensors_leaked).toBe(1);
      expect(rows[0].problems?.join()).toMatch(
        /left 1 tensor\(s\) behind.*gained 4 tensor\(s\) over 4 timed steps/,
      );
    });

    it('skips a stack that cannot run, saying why', async () => {
      const unable: StackFactory = { ...leaky, impl: 'unable', unavailable: () => 'not on this backend' };
      const result = await expectNoLeak(() =>
        runCore({ configs: [tiny], backend: backend.name, stacks: [unable], steps: 1 }),
      );
      expect(result.rows).toEqual([]);
      expect(result.skipped).toEqual([
        {
          config: 'tiny',
          backend: backend.name,
          impl: 'unable',
          method: 'SGD',
          reason: 'not on this backend',
        },
      ]);
    });
  },
  { only: ['cpu', 'wasm'] },
);

describeBackends(
  'benchmark core, a stack that throws',
  (backend) => {
    it('reports the stack as failed and goes on with the others', async () => {
      let n = 0;
      const throwing: StackFactory = {
        impl: 'throwing',
        method: 'SGD-C',
        unavailable: () => null,
        async create() {
          return {
            async step() {
              if (++n === 2) throw new Error('boom at step 2');
              return 1;
            },
            dispose() {},
          };
        },
      };
      const result = await expectNoLeak(() =>
        runCore({
          configs: [tiny],
          backend: backend.name,
          stacks: [throwing, tfjsLayersStack],
          steps: 2,
          warmup: 1,
        }),
      );
      expect(result.failed).toEqual([
        { config: 'tiny', backend: backend.name, impl: 'throwing', method: 'SGD-C', error: 'boom at step 2' },
      ]);
      expect(result.rows.map((r) => [r.impl, r.steps, r.ok])).toEqual([['tfjs-layers', 2, true]]);
    });
  },
  { only: ['cpu'] },
);
