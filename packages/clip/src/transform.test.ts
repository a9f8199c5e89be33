import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { autoClip, averageNormClip } from './adaptive.js';
import { globalNormClip, perTensorNormClip, valueClip } from './clipping.js';
import { nonFiniteGuard } from './guard.js';
import { expectClose, refNorm, syncIt, values } from './reference.helpers.js';
import { transformFromConfig } from './registry.js';
import { transformGradients } from './step.js';
import { chain, type GradientTransform, type ParamInfo, transformToConfig } from './transform.js';

/** A custom plugin: skips the step when max |g| exceeds `limit`; remembers the parameter shapes. */
function skipAbove(limit: number): GradientTransform<{ shapes: number[][]; vetoed: number }> {
  return {
    name: 'skipAbove',
    init: (params: ParamInfo[]) => ({ shapes: params.map((p) => p.shape), vetoed: 0 }),
    update: (grads, state, _params, ctx) => ({
      grads,
      state,
      reads: { maxAbs: ctx.globalNorm(grads, 'inf') },
    }),
    veto: (_state, reads) => (reads.maxAbs > limit ? `max |g| ${reads.maxAbs} > ${limit}` : null),
    observe: (state, _reads, outcome) => ({
      state: { ...state, vetoed: state.vetoed + (outcome.skipped ? 1 : 0) },
    }),
    getConfig: () => ({ limit }),
  };
}

describeBackends('chain', (backend) => {
  const sit = syncIt(backend);
  sit('applies transforms left to right (value clip, then global-norm clip)', async () => {
    await expectNoLeak(async () => {
      const a = tf.tensor1d(values(8, 61, 2));
      const b = tf.tensor2d(values(4, 62, 2), [2, 2]);
      const clamp = (x: number) => Math.min(0.6, Math.max(-0.6, x));
      const ac = Array.from(await a.data(), clamp);
      const bc = Array.from(await b.data(), clamp);
      const s = Math.min(1, 1 / refNorm([ac, bc]));
      const r = transformGradients(chain(valueClip({ maxValue: 0.6 }), globalNormClip({ maxNorm: 1 })), {
        a,
        b,
      });
      expectClose(
        await r.grads!.a!.data(),
        ac.map((x) => x * s),
      );
      expectClose(
        await r.grads!.b!.data(),
        bc.map((x) => x * s),
      );
      tf.dispose([a, b, r.grads!.a!, r.grads!.b!]);
    });
  });

  sit('runs a custom plugin’s init, reads, veto and observe', async () => {
    await expectNoLeak(async () => {
      const t = chain(skipAbove(5), globalNormClip({ maxNorm: 1 }));
      const small = tf.tensor2d([1, 2, 3, 4], [2, 2]);
      const big = tf.tensor1d([6, 0]);
      const first = transformGradients(t, [
        { name: 'w', tensor: small },
        { name: 'b', tensor: undefined },
      ]);
      expect(first.skipReason).toBeNull();
      expect(first.grads!.map((g) => g.name)).toEqual(['w', 'b']);
      expect(first.grads![1].tensor).toBeUndefined();
      const second = transformGradients(t, [{ name: 'w', tensor: big }], first.state);
      expect(second.skipReason).toBe('max |g| 6 > 5');
      expect(second.grads).toBeNull();
      expect(second.state).toEqual([{ shapes: [[2, 2], []], vetoed: 1 }, null]);
      tf.dispose([small, big, first.grads![0].tensor!]);
    });
  });
});

describe('chain: conflicts and configs', () => {
  it('refuses two clips that would each set the scale, naming both', () => {
    expect(() => chain(globalNormClip({ maxNorm: 1 }), autoClip())).toThrow(
      /transforms 'globalNormClip' \(#0, globalClip\) and 'autoClip' \(#1, globalClip\) conflict/,
    );
    expect(() => chain(averageNormClip(), globalNormClip({ maxNorm: 2 }))).toThrow(/conflict/);
    expect(() => chain(globalNormClip({ maxNorm: 1 }), perTensorNormClip({ maxNorm: 1 }))).toThrow(
      /'globalNormClip' \(#0, globalClip\) and 'perTensorNormClip' \(#1, tensorClip\) conflict/,
    );
    expect(() => chain(nonFiniteGuard(), chain(valueClip({ maxValue: 1 }), nonFiniteGuard()))).toThrow(
      /'nonFiniteGuard' \(#0, nonFiniteGuard\) and 'nonFiniteGuard' \(#2, nonFiniteGuard\) conflict/,
    );
    expect(() =>
      chain(nonFiniteGuard(), valueClip({ maxValue: 1 }), globalNormClip({ maxNorm: 1 })),
    ).not.toThrow();
    expect(() => chain({ name: 'x' } as GradientTransform)).toThrow(/argument #0 is not a GradientTransform/);
  });

  it('rebuilds a chain from its config', () => {
    const t = chain(
      nonFiniteGuard({ policy: 'throw' }),
      averageNormClip({ factor: 2, window: 50, initialMaxNorm: 3 }),
    );
    const config = transformToConfig(t);
    expect(transformToConfig(transformFromConfig(JSON.parse(JSON.stringify(config))))).toEqual(config);
    expect(() => transformFromConfig({ name: 'skipAbove', config: {} })).toThrow(
      /unknown transform 'skipAbove'/,
    );
  });
});
