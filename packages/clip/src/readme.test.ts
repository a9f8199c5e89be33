// The README's custom-plugin example, kept runnable: decoupled weight decay as a plugin.
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { ChainedOptimizer } from './chained-optimizer.js';
import { globalNormClip } from './clipping.js';
import { nonFiniteGuard } from './guard.js';
import { expectClose, refNorm, syncIt } from './reference.helpers.js';
import { registerTransform } from './registry.js';
import type { GradientTransform } from './transform.js';

/** Decoupled weight decay (optax's add_decayed_weights): g ← g + λ·w. */
function addDecayedWeights(weightDecay: number): GradientTransform<null> {
  return {
    name: 'addDecayedWeights',
    init: () => null,
    update: (grads, state, params) => ({
      grads: grads.map((g) =>
        g.tensor == null
          ? g
          : { name: g.name, tensor: tf.add(g.tensor, tf.mul(params[g.name], weightDecay)) },
      ),
      state,
    }),
    getConfig: () => ({ weightDecay }),
  };
}
registerTransform('addDecayedWeights', (config) => addDecayedWeights(config.weightDecay as number));

describeBackends('README: a custom plugin', (backend) => {
  const sit = syncIt(backend);
  sit('clips, then adds λ·w, then steps with the inner optimizer', async () => {
    await expectNoLeak(async () => {
      const w0 = [3, -4];
      const w = tf.tidy(() => tf.variable(tf.tensor1d(w0), true, 'readme_w'));
      const optimizer = new ChainedOptimizer(tf.train.sgd(0.5), [
        nonFiniteGuard(),
        globalNormClip({ maxNorm: 1 }),
        addDecayedWeights(0.1),
      ]);
      const g = [6, 8];
      const grad = tf.tensor1d(g);
      optimizer.applyGradients({ readme_w: grad });
      const s = 1 / refNorm([g]);
      expectClose(
        await w.data(),
        w0.map((x, i) => x - 0.5 * (g[i] * s + 0.1 * x)),
      );
      expect(optimizer.lastClipped).toBe(true);
      optimizer.dispose();
      tf.dispose([w, grad]);
    });
  });
});
