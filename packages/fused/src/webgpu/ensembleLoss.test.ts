// CliffguardRnnEnsembleLoss (webgpu): R stacked runs in one set of dispatches give, run by run, what
// the single-run CliffguardRnnLoss gives for that run alone, for every head, with a mask, with each
// Ω variant and without Ω, in both ways of running the recurrences.
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { lcg, relativeError } from '../../test/float64.js';
import { setWebgpuRecurrence } from '../index.js';
import { ENSEMBLE_RUN_COLUMNS, RNN_ENSEMBLE_LOSS } from '../kernels/names.js';
import { runLossKernel } from '../ops.js';
import type { Head, OmegaVariant } from '../problem.js';

const PARAMS = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const;
const [I, H, O, T, B] = [3, 5, 4, 4, 2];
/** Run r's Ω: none, 'code' with α 0.5, 'paper' with α 2. */
const OMEGA: { variant?: OmegaVariant; alpha: number }[] = [
  { alpha: 0 },
  { variant: 'code', alpha: 0.5 },
  { variant: 'paper', alpha: 2 },
];

function runData(head: Head, r: number) {
  const rand = lcg(97 * r + head.length);
  const f = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const u = new Float32Array(B * T * I);
  for (let i = 0; i < B * T; i++) u[i * I + Math.floor(rand() * I)] = 1;
  const classes = (n: number) => Int32Array.from({ length: n }, () => Math.floor(rand() * O));
  const targets =
    head === 'last-softmax'
      ? tf.tensor1d(classes(B), 'int32')
      : head === 'softmax'
        ? tf.tensor2d(classes(B * T), [B, T], 'int32')
        : head === 'last-linear'
          ? tf.tensor2d(f(B * O, 1), [B, O])
          : tf.tensor3d(
              Float32Array.from({ length: B * T * O }, () => (rand() < 0.4 ? 1 : 0)),
              [B, T, O],
            );
  return {
    params: {
      W_in: tf.tensor2d(f(I * H, 0.5), [I, H]),
      W_rec: tf.tensor2d(f(H * H, 0.9), [H, H]),
      b: tf.tensor1d(f(H, 0.1)),
      W_out: tf.tensor2d(f(H * O, 0.5), [H, O]),
      b_out: tf.tensor1d(f(O, 0.1)),
    },
    inputs: tf.tensor3d(u, [B, T, I]),
    targets,
    // per-step heads: a mask with one step of each sequence left out
    mask:
      head === 'softmax' || head === 'sigmoid' ? tf.tensor2d([1, 1, 0, 1, 0, 1, 1, 1], [B, T]) : undefined,
  };
}

/** The first R runs of OMEGA through the ensemble kernel, then each alone. */
async function compare(head: Head, R: number) {
  const runs = OMEGA.slice(0, R).map((_, r) => runData(head, r));
  const stackOf = (pick: (x: (typeof runs)[number]) => tf.Tensor) => tf.stack(runs.map(pick));
  // the ensembles' table: only α and the Ω variant (0 none, 1 'paper', 2 'code') are read
  const table = tf.tensor2d(
    OMEGA.slice(0, R).map((o) => {
      const row = { alpha: o.alpha, maxNorm: 1, learningRate: 1, safeguard: 0, omega: 0 };
      if (o.variant) row.omega = o.variant === 'paper' ? 1 : 2;
      return ENSEMBLE_RUN_COLUMNS.map((c) => row[c]);
    }),
    [R, ENSEMBLE_RUN_COLUMNS.length],
  );
  const stacked = {
    ...Object.fromEntries(PARAMS.map((k) => [k, stackOf((x) => x.params[k])])),
    inputs: stackOf((x) => x.inputs),
    targets: stackOf((x) => x.targets),
    mask: runs[0].mask ? stackOf((x) => x.mask as tf.Tensor) : tf.tensor1d([]),
    runs: table,
  };
  const outs = tf.engine().runKernel(
    RNN_ENSEMBLE_LOSS,
    stacked as unknown as tf.NamedTensorMap,
    {
      activation: 'tanh',
      head,
      omega: true,
    } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  const [loss, omega, ...grads] = outs;
  expect(loss.shape).toEqual([R]);
  expect(grads.map((g) => g.shape)).toEqual([
    [R, I, H],
    [R, H, H],
    [R, H],
    [R, H, O],
    [R, O],
  ]);
  const losses = await loss.data();
  const omegas = await omega.data();
  for (let r = 0; r < R; r++) {
    const x = runs[r];
    const o = OMEGA[r];
    const alone = runLossKernel(x.params, x.inputs, x.targets, {
      activation: 'tanh',
      head,
      mask: x.mask as tf.Tensor2D | undefined,
      ...(o.variant ? { omega: o.variant, omegaWeight: o.alpha } : {}),
    });
    const where = `${head} run ${r}`;
    expect(relativeError([losses[r]], await alone.loss.data()), `${where} loss`).toBeLessThan(1e-6);
    if (o.variant)
      expect(relativeError([omegas[r]], await alone.omega.data()), `${where} Ω`).toBeLessThan(1e-6);
    else expect(omegas[r], `${where} Ω`).toBeNaN();
    for (const [i, k] of PARAMS.entries()) {
      const mine = (await grads[i].data()).slice(r * alone[k].size, (r + 1) * alone[k].size);
      expect(relativeError(mine, await alone[k].data()), `${where} ∂${k}`).toBeLessThan(1e-6);
    }
    tf.dispose(Object.values(alone));
  }
  tf.dispose([...outs, ...Object.values(stacked)]);
  for (const x of runs)
    tf.dispose([...Object.values(x.params), x.inputs, x.targets, ...(x.mask ? [x.mask] : [])]);
}

describeBackends('the batched webgpu pass of an ensemble (CliffguardRnnEnsembleLoss)', (backend) => {
  for (const mode of ['one-workgroup', 'per-step'] as const) {
    it.skipIf(backend.name !== 'webgpu')(
      `equals each run's own pass, every head, recurrences ${mode} [webgpu only]`,
      async () => {
        setWebgpuRecurrence(mode);
        try {
          await expectNoLeak(async () => {
            for (const head of ['last-softmax', 'softmax', 'last-linear', 'sigmoid'] as const) {
              await compare(head, 3);
            }
            // one run keeps its leading run axis
            await compare('softmax', 1);
          });
        } finally {
          setWebgpuRecurrence('auto');
        }
      },
    );
  }
});
