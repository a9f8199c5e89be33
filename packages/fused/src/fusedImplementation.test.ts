import { getImplementation, type RnnConfig, referenceImplementation } from '@cliffguard/rnn';
import { describeBackends, expectNoLeak } from '@cliffguard/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectTensorClose, tensorProblem } from '../test/tensors.js';
import { fusedImplementation, setWebgpuRecurrence } from './index.js';
import { HEADS } from './problem.js';

const TOL = 3e-5;

function config(t: ReturnType<typeof tensorProblem>): RnnConfig {
  const p = t.problem;
  return {
    inputSize: p.inputSize,
    hiddenSize: p.hiddenSize,
    outputSize: p.outputSize,
    activation: p.activation,
    head: p.head,
  };
}

describe('registration', () => {
  it("registers itself in @cliffguard/rnn as 'fused'", () => {
    expect(getImplementation('fused')).toBe(fusedImplementation);
  });
});

describeBackends('fusedImplementation against the reference implementation', (backend) => {
  const cases = HEADS.flatMap((head) =>
    (['tanh', 'sigmoid'] as const).flatMap((activation) =>
      ([undefined, 'paper', 'code'] as const).map((omega) => ({ head, activation, omega })),
    ),
  );
  // a software adapter (SwiftShader) takes seconds per case: there every head runs once, with
  // the activations and Ω variants spread over the heads
  const onSoftware = (head: string, activation: string, omega?: string) =>
    (head === 'last-softmax' && activation === 'tanh' && omega === 'code') ||
    (head === 'softmax' && activation === 'sigmoid' && omega === 'paper') ||
    (head === 'last-linear' && activation === 'sigmoid' && omega === undefined) ||
    (head === 'sigmoid' && activation === 'tanh' && omega === 'code');
  for (const { head, activation, omega } of cases) {
    const perStep = head === 'softmax' || head === 'sigmoid';
    it.skipIf(backend.software && !onSoftware(head, activation, omega))(
      `${head}, ${activation}, Ω ${omega ?? 'none'}: loss, every gradient, Ω, δ_t, states${backend.software && !onSoftware(head, activation, omega) ? ' (skipped on a software adapter: seconds per case; four cases cover every head there)' : ''}`,
      async () => {
        await expectNoLeak(async () => {
          const t = tensorProblem({
            batch: 3,
            time: 6,
            inputSize: 5,
            hiddenSize: 9,
            outputSize: 4,
            activation,
            head,
            oneHot: omega === 'code',
            mask: perStep && omega !== 'paper',
            h0: omega === 'paper',
            seed: 11,
          });
          const batch = { inputs: t.inputs, targets: t.targets, mask: t.mask };
          const request = {
            h0: t.h0,
            omega: omega ? { variant: omega, weight: 0.8 } : undefined,
            keepDeltas: true,
            keepStates: true,
          };
          const want = referenceImplementation.lossAndGradients(t.params, config(t), batch, request);
          const got = fusedImplementation.lossAndGradients(t.params, config(t), batch, request);
          await expectTensorClose(got.loss, want.loss, TOL, 'loss');
          for (const k of ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const) {
            await expectTensorClose(got.grads[k], want.grads[k], TOL, k);
          }
          await expectTensorClose(got.lastState, want.lastState, TOL, 'lastState');
          await expectTensorClose(got.states!, want.states!, TOL, 'states');
          await expectTensorClose(got.deltas!, want.deltas!, TOL, 'deltas');
          if (omega) await expectTensorClose(got.omega!, want.omega!, TOL, 'omega');
          else expect(got.omega).toBeUndefined();
          tf.dispose([got as unknown as tf.TensorContainer, want as unknown as tf.TensorContainer]);
          const f = fusedImplementation.forward(t.params, config(t), t.inputs, t.h0);
          const r = referenceImplementation.forward(t.params, config(t), t.inputs, t.h0);
          await expectTensorClose(f.outputs, r.outputs, TOL, 'outputs');
          await expectTensorClose(f.states, r.states, TOL, 'forward states');
          tf.dispose([f.outputs, f.states, r.outputs, r.states]);
          t.dispose();
        });
      },
    );
  }

  it.runIf(backend.name === 'webgpu')(
    'webgpu: the recurrences as one dispatch per step (large models) give the same numbers',
    async () => {
      // the second problem's products span several 16×16 tiles of the tiled gradient GEMMs, edges included
      const problems = [
        { batch: 3, time: 5, inputSize: 4, hiddenSize: 6, outputSize: 3, head: 'softmax' as const },
        { batch: 3, time: 7, inputSize: 18, hiddenSize: 35, outputSize: 17, head: 'sigmoid' as const },
      ];
      for (const p of problems)
        await expectNoLeak(async () => {
          const t = tensorProblem({ ...p, activation: 'tanh', h0: true, seed: 5 });
          const batch = { inputs: t.inputs, targets: t.targets };
          const request = { h0: t.h0, omega: { variant: 'code' as const, weight: 0.5 }, keepDeltas: true };
          const want = referenceImplementation.lossAndGradients(t.params, config(t), batch, request);
          setWebgpuRecurrence('per-step');
          try {
            const got = fusedImplementation.lossAndGradients(t.params, config(t), batch, request);
            for (const k of ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const) {
              await expectTensorClose(got.grads[k], want.grads[k], TOL, k);
            }
            await expectTensorClose(got.deltas!, want.deltas!, TOL, 'deltas');
            await expectTensorClose(got.omega!, want.omega!, TOL, 'omega');
            tf.dispose(got as unknown as tf.TensorContainer);
          } finally {
            setWebgpuRecurrence('auto');
          }
          tf.dispose(want as unknown as tf.TensorContainer);
          t.dispose();
        });
    },
  );

  it('returns only what was asked for, and leaks nothing', async () => {
    await expectNoLeak(() => {
      const t = tensorProblem({
        batch: 2,
        time: 3,
        inputSize: 2,
        hiddenSize: 4,
        outputSize: 3,
        activation: 'tanh',
        head: 'last-softmax',
      });
      const got = fusedImplementation.lossAndGradients(t.params, config(t), {
        inputs: t.inputs,
        targets: t.targets,
      });
      expect(got.omega).toBeUndefined();
      expect(got.deltas).toBeUndefined();
      expect(got.states).toBeUndefined();
      expect(got.lastState.shape).toEqual([2, 4]);
      tf.dispose(got as unknown as tf.TensorContainer);
      t.dispose();
    });
  });

  it(`supports every head and activation on '${backend.name}'`, () => {
    for (const head of HEADS) {
      const c: RnnConfig = { inputSize: 2, hiddenSize: 3, outputSize: 2, activation: 'sigmoid', head };
      expect(fusedImplementation.supports(c, backend.name)).toBe(true);
    }
    expect(fusedImplementation.supports({ ...HEADS_CONFIG }, 'webgl')).toBe(false);
  });

  it('names the bad tensor in its errors', async () => {
    await expectNoLeak(() => {
      const t = tensorProblem({
        batch: 2,
        time: 3,
        inputSize: 2,
        hiddenSize: 4,
        outputSize: 3,
        activation: 'tanh',
        head: 'softmax',
      });
      const c = config(t);
      const bad = tf.zeros([2, 4], 'int32');
      expect(() =>
        fusedImplementation.lossAndGradients(t.params, c, { inputs: t.inputs, targets: bad }),
      ).toThrow(/targets of head 'softmax' has shape \[2, 4\]; expected \[2, 3\]/);
      const wide = tf.zeros([2, 3, 5]);
      expect(() => fusedImplementation.forward(t.params, c, wide as tf.Tensor3D)).toThrow(
        /expected \[batch, time, 2\]/,
      );
      const classes = tf.tensor2d([0, 1, 3, 0, 1, 2], [2, 3], 'int32');
      expect(() =>
        fusedImplementation.lossAndGradients(t.params, c, { inputs: t.inputs, targets: classes }),
      ).toThrow(/targets\[2\] = 3 is not a class index in \[0, 3\)/);
      expect(() =>
        fusedImplementation.lossAndGradients(
          t.params,
          c,
          { inputs: t.inputs, targets: t.targets },
          { omega: { variant: 'code', weight: Number.NaN } },
        ),
      ).toThrow(/omega.weight \(α\) must be a finite number, got NaN/);
      tf.dispose([bad, wide, classes]);
      t.dispose();
    });
  });
});

const HEADS_CONFIG: RnnConfig = {
  inputSize: 2,
  hiddenSize: 3,
  outputSize: 2,
  activation: 'tanh',
  head: 'softmax',
};
