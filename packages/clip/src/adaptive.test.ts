import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { agc, autoClip, averageNormClip, type HistoryState } from './adaptive.js';
import { normMonitor } from './monitor.js';
import { expectClose, refNorm, refPercentile, syncIt, values } from './reference.helpers.js';
import { transformGradients } from './step.js';
import { chain, type GradientTransform, type PluginState } from './transform.js';

/** A fixed direction (unit norm) times each norm: the transform sees exactly these norms. */
const direction = (() => {
  const v = values(5, 99);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
})();

/** Feeds gradients of the given norms through a transform, returning output norms and flags. */
async function runNorms(transform: GradientTransform, norms: number[]) {
  let state: PluginState | undefined;
  const out: Array<{ norm: number; clipped: boolean; input: number }> = [];
  for (const n of norms) {
    const g = tf.tensor1d(direction.map((d) => d * n));
    const input = refNorm([await g.data()]);
    const r = transformGradients(transform, { g }, state);
    state = r.state;
    out.push({ norm: refNorm([await r.grads!.g!.data()]), clipped: r.clipped, input });
    tf.dispose([g, r.grads!.g!]);
  }
  return { out, state };
}

const norms = [1, 3, 2, 10, 0.5, 8, 4, 40, 2, 3];

describeBackends('averageNormClip (the paper’s heuristic)', (backend) => {
  const sit = syncIt(backend);
  sit('clips at factor × the mean of the last `window` norms, after `warmup` steps', async () => {
    await expectNoLeak(async () => {
      const factor = 1.5;
      const window = 4;
      const warmup = 2;
      const { out, state } = await runNorms(averageNormClip({ factor, window, warmup }), norms);
      const history: number[] = [];
      out.forEach((o, k) => {
        const threshold =
          history.length >= warmup ? (factor * history.reduce((a, b) => a + b, 0)) / history.length : null;
        const expected = threshold == null ? o.input : Math.min(o.input, threshold);
        expectClose([o.norm], [expected], 1e-5);
        expect(o.clipped, `step ${k}`).toBe(threshold != null && o.input > threshold);
        history.push(o.input);
        if (history.length > window) history.shift();
      });
      expectClose((state as HistoryState).history, history);
    });
  });

  sit('uses initialMaxNorm during warmup', async () => {
    await expectNoLeak(async () => {
      const { out } = await runNorms(
        averageNormClip({ window: 5, warmup: 3, initialMaxNorm: 2 }),
        [5, 1, 4, 20],
      );
      expectClose(
        out.map((o) => o.norm),
        [2, 1, 2, Math.min(20, (out[0].input + out[1].input + out[2].input) / 3)],
        1e-5,
      );
    });
  });
});

describeBackends('autoClip (Seetharaman et al. 2020)', (backend) => {
  const sit = syncIt(backend);
  sit('clips at the p-th percentile of all norms so far, the current one included', async () => {
    await expectNoLeak(async () => {
      for (const p of [10, 37.5, 100]) {
        const { out } = await runNorms(autoClip({ percentile: p }), norms);
        const seen: number[] = [];
        out.forEach((o, k) => {
          seen.push(o.input);
          const threshold = refPercentile(seen, p);
          expectClose([o.norm], [Math.min(o.input, threshold)], 1e-5);
          expect(o.clipped, `p ${p}, step ${k}`).toBe(o.input > threshold);
        });
      }
    });
  });

  sit('forgets norms older than `window`', async () => {
    await expectNoLeak(async () => {
      const { out, state } = await runNorms(autoClip({ percentile: 50, window: 3 }), norms);
      const seen: number[] = [];
      out.forEach((o) => {
        const threshold = refPercentile([...seen.slice(-3), o.input], 50);
        expectClose([o.norm], [Math.min(o.input, threshold)], 1e-5);
        seen.push(o.input);
      });
      expectClose((state as HistoryState).history, seen.slice(-3));
    });
  });

  sit('a zero gradient is not divided by zero', async () => {
    await expectNoLeak(async () => {
      const { out } = await runNorms(autoClip({ percentile: 50 }), [0, 0, 1, 0]);
      expectClose(
        out.map((o) => o.norm),
        [0, 0, 0, 0],
      );
    });
  });
});

describeBackends('adaptive clips inside a chain', (backend) => {
  const sit = syncIt(backend);
  sit(
    'clip on the tensor (followed by a monitor) exactly as when deferred to the readback (last)',
    async () => {
      await expectNoLeak(async () => {
        for (const make of [
          () => autoClip({ percentile: 30 }),
          () => averageNormClip({ window: 3, warmup: 1 }),
        ]) {
          const last = await runNorms(make(), norms);
          const inGraph = await runNorms(chain(make(), normMonitor()), norms);
          expectClose(
            inGraph.out.map((o) => o.norm),
            last.out.map((o) => o.norm),
            1e-5,
          );
          expect(inGraph.out.map((o) => o.clipped)).toEqual(last.out.map((o) => o.clipped));
          expect(last.out.some((o) => o.clipped)).toBe(true);
        }
      });
    },
  );
});

describeBackends('agc (Brock et al. 2021)', (backend) => {
  const sit = syncIt(backend);
  sit('clips each unit where ‖G‖ > λ·max(‖W‖, eps), unit = all axes but the last', async () => {
    await expectNoLeak(async () => {
      const wv = values(6, 41, 1); // W is [3, 3] with a zero last column (the eps floor)
      const wValues = [wv[0], wv[1], 0, wv[2], wv[3], 0, wv[4], wv[5], 0];
      const W = tf.tidy(() => tf.variable(tf.tensor2d(wValues, [3, 3]), true, 'agc_W'));
      const bias = tf.tidy(() => tf.variable(tf.tensor1d([0.5, -0.5]), true, 'agc_b'));
      const gW = tf.tensor2d(values(9, 42, 0.05), [3, 3]);
      const gb = tf.tensor1d([0.001, 0.002]);
      const gWv = await gW.data();
      const gbv = await gb.data();
      const lambda = 0.1;
      const eps = 1e-3;
      const r = transformGradients(agc({ clipping: lambda, eps }), { agc_W: gW, agc_b: gb });

      const expected = Array.from(gWv);
      for (let col = 0; col < 3; col++) {
        const rows = [0, 1, 2].map((row) => row * 3 + col);
        const wNorm = Math.max(Math.hypot(...rows.map((i) => wValues[i])), eps);
        const gNorm = Math.hypot(...rows.map((i) => gWv[i]));
        if (gNorm > lambda * wNorm) for (const i of rows) expected[i] = (gWv[i] * lambda * wNorm) / gNorm;
      }
      expectClose(await r.grads!.agc_W!.data(), expected, 1e-5);
      expect(expected.some((e, i) => e !== gWv[i])).toBe(true);
      expect(Array.from(await r.grads!.agc_b!.data())).toEqual(Array.from(gbv)); // within λ‖b‖
      expect(r.clipped).toBe(true);

      const excluded = transformGradients(agc({ clipping: lambda, exclude: ['agc_W'] }), {
        agc_W: gW,
        agc_b: gb,
      });
      expect(Array.from(await excluded.grads!.agc_W!.data())).toEqual(Array.from(gWv));
      expect(excluded.clipped).toBe(false);
      expect(() => transformGradients(agc(), { not_a_variable: gb })).toThrow(
        /agc: no variable named 'not_a_variable'/,
      );
      tf.dispose([
        W,
        bias,
        gW,
        gb,
        r.grads!.agc_W!,
        r.grads!.agc_b!,
        excluded.grads!.agc_W!,
        excluded.grads!.agc_b!,
      ]);
    });
  });
});

describe('adaptive plugins: bad input', () => {
  it('names the bad value', () => {
    expect(() => autoClip({ percentile: 0 })).toThrow(/autoClip: percentile must be in \(0, 100\], got 0/);
    expect(() => autoClip({ percentile: 100.5 })).toThrow(/got 100.5/);
    expect(() => autoClip({ percentile: Number.NaN })).toThrow(/got NaN/);
    expect(() => autoClip({ window: 2.5 })).toThrow(/window must be a positive integer or Infinity, got 2.5/);
    expect(() => averageNormClip({ factor: 0 })).toThrow(/factor must be a positive finite number, got 0/);
    expect(() => averageNormClip({ window: 0 })).toThrow(/window must be a positive integer, got 0/);
    expect(() => averageNormClip({ window: 5, warmup: 6 })).toThrow(
      /warmup \(6\) must not exceed window \(5\)/,
    );
    expect(() => averageNormClip({ initialMaxNorm: -1 })).toThrow(
      /initialMaxNorm must be a positive finite number, got -1/,
    );
    expect(() => agc({ clipping: -0.1 })).toThrow(/agc: clipping must be a positive finite number, got -0.1/);
    expect(() => agc({ exclude: 'x' as unknown as string[] })).toThrow(
      /exclude must be an array of variable names/,
    );
  });
});
