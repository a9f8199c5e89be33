import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { availableBackends, describeBackends } from './backends.js';
import { expectNoLeak } from './leaks.js';

describeBackends('describeBackends', (backend) => {
  it('runs the suite on the backend it names', async () => {
    expect(tf.getBackend()).toBe(backend.name);
    await expectNoLeak(async () => {
      const x = tf.tensor1d([1, 2, 3]);
      const s = tf.sum(x);
      expect(await s.data()).toEqual(new Float32Array([6]));
      tf.dispose([x, s]);
    });
  });
});

it('always offers cpu and wasm', () => {
  const names = availableBackends().map((b) => b.name);
  expect(names).toContain('cpu');
  expect(names).toContain('wasm');
});

it('expectNoLeak fails when a tensor is left behind', async () => {
  let kept: tf.Tensor | undefined;
  await expect(
    expectNoLeak(() => {
      kept = tf.scalar(1);
    }),
  ).rejects.toThrow(/leaked: 1/);
  kept?.dispose();
});
