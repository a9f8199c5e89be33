import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { globalNormClip } from './clipping.js';
import { monitorSummary, type NormMonitorState, normMonitor } from './monitor.js';
import { expectClose, refNorm, syncIt, values } from './reference.helpers.js';
import { transformGradients } from './step.js';
import { chain, type PluginState } from './transform.js';

describeBackends('normMonitor', (backend) => {
  const sit = syncIt(backend);
  sit('records count, mean, max and the recent norms where it sits in a chain', async () => {
    await expectNoLeak(async () => {
      // Before the clip it sees the raw norms; after it, the clipped ones.
      const t = chain(normMonitor({ window: 2 }), globalNormClip({ maxNorm: 1 }), normMonitor());
      let state: PluginState | undefined;
      const raw: number[] = [];
      for (let k = 0; k < 4; k++) {
        const g = tf.tensor1d(values(6, 50 + k, k + 0.1));
        raw.push(refNorm([await g.data()]));
        const r = transformGradients(t, { g }, state);
        state = r.state;
        tf.dispose([g, r.grads!.g!]);
      }
      const [before, , after] = state as [NormMonitorState, null, NormMonitorState];
      const clipped = raw.map((n) => Math.min(n, 1));
      const b = monitorSummary(before);
      const a = monitorSummary(after);
      expect([b.steps, b.count, a.count]).toEqual([4, 4, 4]);
      expectClose([b.mean, b.max], [raw.reduce((x, y) => x + y) / 4, Math.max(...raw)], 1e-6);
      expectClose([a.mean, a.max], [clipped.reduce((x, y) => x + y) / 4, 1], 1e-6);
      expectClose(before.recent, raw.slice(-2), 1e-6);
    });
  });

  sit('counts a non-finite step without letting it into the mean', async () => {
    await expectNoLeak(async () => {
      const g = tf.tensor1d([Number.NaN]);
      const r = transformGradients(normMonitor(), { g });
      expect(monitorSummary(r.state as NormMonitorState)).toEqual({ steps: 1, count: 0, mean: 0, max: 0 });
      tf.dispose([g, r.grads!.g!]);
    });
  });
});

describe('normMonitor: bad input', () => {
  it('names the bad window', () => {
    expect(() => normMonitor({ window: -1 })).toThrow(
      /normMonitor: window must be a non-negative integer, got -1/,
    );
  });
});
