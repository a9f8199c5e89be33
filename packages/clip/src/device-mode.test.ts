// Device mode (the default on GPU backends): no readback in a step; the clip factor is a tensor and
// a skipped step is undone on the device. Checked against an independent float64 reference on
// every backend (webgpu in Node included, where host mode cannot run), and against host mode
// wherever host mode runs.
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { autoClip } from './adaptive.js';
import { ChainedOptimizer, type StepMode } from './chained-optimizer.js';
import { globalNormClip } from './clipping.js';
import { nonFiniteGuard } from './guard.js';
import { expectClose, refNorm, values } from './reference.helpers.js';
import { safeguard } from './safeguard.js';
import { canReadSync } from './step.js';

let made = 0;
/** A recurrent matrix and a bias as registered variables. */
function weights() {
  made += 1;
  return tf.tidy(() => ({
    W_rec: tf.variable(tf.tensor2d(values(6, 7), [2, 3]), true, `dm${made}/W_rec`),
    b: tf.variable(tf.tensor1d(values(3, 90)), true, `dm${made}/b`),
  }));
}

/** Step s's gradients: ordinary, large (clipped), NaN at step 3 (skipped, or replaced by the safeguard). */
function gradientsAt(s: number): { W_rec: number[]; b: number[] } {
  const scale = s % 3 === 1 ? 20 : 0.3;
  const W_rec = values(6, 300 + s, scale);
  if (s === 3) W_rec[2] = Number.NaN;
  return { W_rec, b: values(3, 500 + s, scale) };
}
const STEPS = 6;
const LR = 0.1;
const MAX_NORM = 1;

/** Algorithm 1 with SGD in float64: the reference both modes must meet. */
function reference(w: { W_rec: number[]; b: number[] }, shrinkOnBroken: boolean) {
  const out = { W_rec: [...w.W_rec], b: [...w.b] };
  for (let s = 0; s < STEPS; s++) {
    const g = gradientsAt(s);
    const norm = refNorm([g.W_rec, g.b]);
    if (!Number.isFinite(norm)) {
      if (shrinkOnBroken) out.W_rec = out.W_rec.map((x) => x - LR * 0.02 * x);
      continue;
    }
    const scale = Math.min(1, MAX_NORM / norm);
    out.W_rec = out.W_rec.map((x, i) => x - LR * g.W_rec[i] * scale);
    out.b = out.b.map((x, i) => x - LR * g.b[i] * scale);
  }
  return out;
}

async function train(mode: StepMode, withSafeguard: boolean, inner = () => tf.train.sgd(LR)) {
  const w = weights();
  const start = { W_rec: Array.from(await w.W_rec.data()), b: Array.from(await w.b.data()) };
  const chain = [nonFiniteGuard({ policy: 'skip' }), globalNormClip({ maxNorm: MAX_NORM })];
  const opt = new ChainedOptimizer(inner(), withSafeguard ? [safeguard(), ...chain] : chain, { mode });
  for (let s = 0; s < STEPS; s++) {
    const g = gradientsAt(s);
    const grads = { [w.W_rec.name]: tf.tensor2d(g.W_rec, [2, 3]), [w.b.name]: tf.tensor1d(g.b) };
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const stats = await opt.readStats();
  const end = { W_rec: Array.from(await w.W_rec.data()), b: Array.from(await w.b.data()) };
  const iterations = opt.iterations;
  opt.dispose();
  tf.dispose([w.W_rec, w.b]);
  return { start, end, stats, iterations };
}

describeBackends('device mode', (backend) => {
  const host = canReadSync(backend.name);

  it('meets the float64 reference: Algorithm 1, a NaN step undone on the device, stats read once', async () => {
    await expectNoLeak(async () => {
      const r = await train('device', false);
      const want = reference(r.start, false);
      expectClose(r.end.W_rec, want.W_rec, 1e-5, 1e-7);
      expectClose(r.end.b, want.b, 1e-5, 1e-7);
      expect([r.stats.steps, r.stats.count, r.stats.clipCount, r.stats.skipCount]).toEqual([6, 5, 2, 1]);
      // a skipped step does not count once the stats are read
      expect(r.iterations).toBe(5);
      expect(r.stats.lastClipped).toBe(false);
      expect(r.stats.lastGlobalNorm).toBeCloseTo(refNorm(Object.values(gradientsAt(STEPS - 1))), 5);
    });
  });

  it("the safeguard's shrink step replaces the broken step on the device, never clipped", async () => {
    await expectNoLeak(async () => {
      const r = await train('device', true);
      const want = reference(r.start, true);
      expectClose(r.end.W_rec, want.W_rec, 1e-5, 1e-7);
      expectClose(r.end.b, want.b, 1e-5, 1e-7);
      expect([r.stats.replaceCount, r.stats.skipCount, r.stats.clipCount]).toEqual([1, 0, 2]);
      expect(r.iterations).toBe(6);
    });
  });

  it.skipIf(!host)('equals host mode (SGD and Adam, whose slots a skipped step must not touch)', async () => {
    await expectNoLeak(async () => {
      for (const inner of [() => tf.train.sgd(LR), () => tf.train.adam(0.05)]) {
        for (const guard of [false, true]) {
          const d = await train('device', guard, inner);
          const h = await train('host', guard, inner);
          expectClose(d.end.W_rec, h.end.W_rec, 1e-6, 1e-7);
          expectClose(d.end.b, h.end.b, 1e-6, 1e-7);
          expect(d.end.W_rec.every(Number.isFinite)).toBe(true);
          const counts = (x: typeof d) => [
            x.stats.steps,
            x.stats.clipCount,
            x.stats.skipCount,
            x.stats.replaceCount,
          ];
          expect(counts(d)).toEqual(counts(h));
          expect(d.iterations).toBe(h.iterations);
        }
      }
    });
  });

  it('auto is device on GPU backends and host on cpu and wasm', async () => {
    await expectNoLeak(async () => {
      const opt = new ChainedOptimizer(tf.train.sgd(LR), [globalNormClip({ maxNorm: 1 })]);
      expect(opt.deviceMode).toBe(backend.name === 'webgpu' || backend.name === 'webgl');
      // a plugin that decides on the host (AutoClip's history) keeps auto on the host
      const auto = new ChainedOptimizer(tf.train.sgd(LR), [autoClip()]);
      expect(auto.deviceMode).toBe(false);
      opt.dispose();
      auto.dispose();
    });
  });
});

describe('device mode: bad requests are refused at construction', () => {
  it('names the plugin that needs the host, and onStep', () => {
    expect(() => new ChainedOptimizer(tf.train.sgd(0.1), [autoClip()], { mode: 'device' })).toThrow(
      /mode 'device' needs every plugin to run on the device; 'autoClip' decide on the host/,
    );
    expect(
      () =>
        new ChainedOptimizer(tf.train.sgd(0.1), [nonFiniteGuard({ policy: 'throw' })], { mode: 'device' }),
    ).toThrow(/'nonFiniteGuard' decide on the host/);
    expect(
      () =>
        new ChainedOptimizer(tf.train.sgd(0.1), [globalNormClip({ maxNorm: 1 })], {
          mode: 'device',
          onStep: () => {},
        }),
    ).toThrow(/no numbers during a step for onStep; use await optimizer.readStats\(\)/);
    expect(
      () =>
        new ChainedOptimizer(tf.train.sgd(0.1), [globalNormClip({ maxNorm: 1 })], { mode: 'gpu' as never }),
    ).toThrow(/mode must be 'auto', 'host' or 'device', got "gpu"/);
  });
});
