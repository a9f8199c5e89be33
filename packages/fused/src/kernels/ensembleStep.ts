import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { isClassHead, type OmegaVariant, type SequenceEngine, type TrainingProblem } from '../problem.js';
import { type ArrayBackend, classes, floats, given, output, type SequenceInputs } from './arrays.js';
import type { ForwardAttrs } from './forward.js';
import { ENSEMBLE_RUN_COLUMNS, ENSEMBLE_STATS } from './names.js';
import { sgdUpdate } from './update.js';

const OMEGA_CODES: readonly (OmegaVariant | undefined)[] = [undefined, 'paper', 'code'];

/**
 * CliffguardRnnEnsembleStep: one training update of R independent runs of one shape in one call.
 * Inputs are stacked on a leading R axis (W_in [R, I, H], …, inputs [R, B, T, I], targets [R, …],
 * mask [R, B, T] or empty) plus `runs` [R, 5] (ENSEMBLE_RUN_COLUMNS: each run's α, clip
 * threshold, learning rate, safeguard and Ω variant). Outputs: the five updated parameter tensors,
 * stacked, and the statistics [6, R] (ENSEMBLE_STATS; Ω's value NaN for a run without Ω). No
 * registered gradient: an update is not differentiated.
 */
export function ensembleStepKernel(engine: () => SequenceEngine): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as ArrayBackend;
    const a = attrs as unknown as ForwardAttrs;
    const x = inputs as unknown as SequenceInputs & { runs: TensorInfo };
    const [R, B, T, I] = x.inputs.shape as [number, number, number, number];
    const [, H, O] = x.W_out.shape as [number, number, number];
    const keys = ['W_in', 'W_rec', 'b', 'W_out', 'b_out'] as const;
    const sizes = { W_in: I * H, W_rec: H * H, b: H, W_out: H * O, b_out: O };
    const all = Object.fromEntries(keys.map((k) => [k, floats(b, x[k])])) as Record<
      (typeof keys)[number],
      Float32Array
    >;
    const u = floats(b, x.inputs);
    const y = isClassHead(a.head) ? classes(b, x.targets) : floats(b, x.targets);
    const mask = given(x.mask) ? floats(b, x.mask) : undefined;
    const runs = floats(b, x.runs);
    const C = ENSEMBLE_RUN_COLUMNS.length;
    const column = (r: number, name: (typeof ENSEMBLE_RUN_COLUMNS)[number]) =>
      runs[r * C + ENSEMBLE_RUN_COLUMNS.indexOf(name)];
    const ny = y.length / R;
    const part = <A extends Float32Array | Int32Array>(arr: A, n: number, r: number) =>
      arr.subarray(r * n, (r + 1) * n) as A;
    const weightsOf = (src: Record<string, Float32Array>, r: number) =>
      Object.fromEntries(keys.map((k) => [k, part(src[k], sizes[k], r)])) as Record<
        (typeof keys)[number],
        Float32Array
      >;
    const problems: TrainingProblem[] = Array.from({ length: R }, (_, r) => {
      const omega = OMEGA_CODES[column(r, 'omega')];
      return {
        batch: B,
        time: T,
        inputSize: I,
        hiddenSize: H,
        outputSize: O,
        activation: a.activation,
        head: a.head,
        weights: weightsOf(all, r),
        inputs: part(u, B * T * I, r),
        targets: part(y, ny, r),
        mask: mask ? part(mask, B * T, r) : undefined,
        omega,
        omegaWeight: omega ? column(r, 'alpha') : undefined,
      };
    });
    const next = Object.fromEntries(keys.map((k) => [k, new Float32Array(R * sizes[k])])) as Record<
      (typeof keys)[number],
      Float32Array
    >;
    const stats = new Float32Array(ENSEMBLE_STATS.length * R);
    const stat = (name: (typeof ENSEMBLE_STATS)[number], r: number, value: number) => {
      stats[ENSEMBLE_STATS.indexOf(name) * R + r] = value;
    };
    engine().trainMany(
      problems,
      (res, r) => {
        const [norm, clipped, skipped, safeguarded] = sgdUpdate(
          problems[r].weights as unknown as Record<string, Float32Array>,
          res.grads as unknown as Record<string, Float32Array>,
          weightsOf(next, r),
          column(r, 'learningRate'),
          column(r, 'maxNorm'),
          column(r, 'safeguard') === 1,
        );
        stat('loss', r, res.loss);
        stat('norm', r, norm);
        stat('omega', r, problems[r].omega ? res.omega : Number.NaN);
        stat('safeguarded', r, safeguarded);
        stat('clipped', r, clipped);
        stat('skipped', r, skipped);
      },
      { views: true },
    );
    return [
      output(b, next.W_in, [R, I, H]),
      output(b, next.W_rec, [R, H, H]),
      output(b, next.b, [R, H]),
      output(b, next.W_out, [R, H, O]),
      output(b, next.b_out, [R, O]),
      output(b, stats, [ENSEMBLE_STATS.length, R]),
    ];
  };
}
