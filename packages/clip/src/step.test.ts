import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, vi } from 'vitest';
import { autoClip } from './adaptive.js';
import { ChainedOptimizer } from './chained-optimizer.js';
import { valueClip } from './clipping.js';
import { nonFiniteGuard } from './guard.js';
import { normMonitor } from './monitor.js';
import { syncIt } from './reference.helpers.js';
import { transformGradients } from './step.js';
import { withGradientClipping } from './with-gradient-clipping.js';

describeBackends('one readback per step', (backend) => {
  const sit = syncIt(backend);
  sit('reads the norm, the finiteness and every plugin’s numbers back in a single transfer', async () => {
    await expectNoLeak(async () => {
      const a = tf.tidy(() => tf.variable(tf.ones([3, 3]), true, 'rb_a'));
      const b = tf.tidy(() => tf.variable(tf.ones([3]), true, 'rb_b'));
      const loss = () => tf.sum(tf.square(tf.add(tf.sum(tf.mul(a, 3), 0), b))) as tf.Scalar;
      const optimizers = [
        withGradientClipping(tf.train.adam(0.1), { maxNorm: 1 }),
        new ChainedOptimizer(tf.train.sgd(0.1), [
          nonFiniteGuard(),
          normMonitor(),
          autoClip(),
          valueClip({ maxValue: 1 }),
          normMonitor(),
        ]),
      ];
      // The class tensors really have: under vitest two copies of tfjs-core share one engine,
      // so `tf.Tensor.prototype` may not be the prototype the engine's tensors use.
      const probe = tf.scalar(0);
      let proto = Object.getPrototypeOf(probe);
      while (!Object.hasOwn(proto, 'dataSync')) proto = Object.getPrototypeOf(proto);
      probe.dispose();
      const spies = [
        vi.spyOn(proto, 'dataSync'),
        vi.spyOn(proto, 'data'),
        vi.spyOn(proto, 'arraySync'),
        vi.spyOn(proto, 'array'),
        vi.spyOn(proto, 'bufferSync'),
      ];
      try {
        for (const opt of optimizers) {
          for (let i = 0; i < 3; i++) {
            const before = spies.map((s) => s.mock.calls.length);
            opt.minimize(loss, false, [a, b]);
            const reads = spies.map((s, k) => s.mock.calls.length - before[k]);
            expect(reads).toEqual([1, 0, 0, 0, 0]);
          }
        }
      } finally {
        for (const s of spies) s.mockRestore();
      }
      for (const opt of optimizers) opt.dispose();
      tf.dispose([a, b]);
    });
  });
});

describeBackends('transformGradients', (backend) => {
  const sit = syncIt(backend);
  sit('returns new tensors in the input’s form and leaves the input alone', async () => {
    await expectNoLeak(async () => {
      const g = tf.tensor1d([0.1, 0.2]);
      const r = transformGradients(normMonitor(), { g });
      expect(r.grads!.g).not.toBe(g);
      expect(Array.from(await r.grads!.g!.data())).toEqual(Array.from(await g.data()));
      r.grads!.g!.dispose();
      expect(g.isDisposed).toBe(false);
      expect(() => transformGradients(normMonitor(), [g] as never)).toThrow(
        /entry 0 is not a \{name, tensor\} pair/,
      );
      g.dispose();
    });
  });
});
