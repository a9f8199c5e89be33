/**
 * CliffguardRnnForward and CliffguardRnnLoss for the 'webgpu' backend: the programs of
 * programs/ run through backend.runWebGPUProgram (runner.ts); intermediate buffers are disposed there.
 * The outputs are the same tensors, in the same order, as the cpu and wasm kernels'.
 * CliffguardRnnEnsembleLoss (webgpu only) runs the same programs once for R stacked runs;
 * CliffguardRnnEnsembleStep adds the update of every run (norm, safeguard, clip, SGD) in WGSL.
 * CliffguardRnnEnsemblePackedStep (packed.ts) is the three-dispatch step of runs up to 256 units.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { EnsembleLossAttrs } from '../kernels/ensembleLoss.js';
import type { ForwardAttrs } from '../kernels/forward.js';
import type { LossAttrs } from '../kernels/loss.js';
import { RNN_ENSEMBLE_LOSS, RNN_ENSEMBLE_STEP, RNN_FORWARD, RNN_LOSS } from '../kernels/names.js';
import type { Activation } from '../problem.js';
import { packedStepKernelConfig } from './packed.js';
import {
  FLAG_COMBINE,
  FLAG_H0,
  FLAG_MASK,
  FLAG_OMEGA,
  FLAG_OMEGA_CODE,
  FLAG_TRAIN,
} from './programs/common.js';
import { copyProgram } from './programs/copy.js';
import { GRAD } from './programs/gradient.js';
import { headProgram } from './programs/head.js';
import { omegaProgram } from './programs/omega.js';
import { sgdUpdateProgram, updateControlProgram, updateRecordProgram } from './programs/update.js';
import {
  anyOmega,
  checkClasses,
  given,
  HEAD_CODE,
  type Named,
  Runner,
  type WebGPUBackendLike,
} from './runner.js';

function sizesOf(x: Named): number[] {
  const [B, T, I] = x.inputs.shape as [number, number, number];
  const [H, O] = x.W_out.shape as [number, number];
  return [B, T, I, H, O];
}

const forwardKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs as unknown as Named;
  const a = attrs as unknown as ForwardAttrs;
  const [B, T, I, H, O] = sizesOf(x);
  const flags = given(x.h0) ? FLAG_H0 : 0;
  const r = new Runner(
    backend as unknown as WebGPUBackendLike,
    [B, T, I, H, O],
    HEAD_CODE[a.head],
    a.activation === 'tanh' ? 0 : 1,
    flags,
    0,
  );
  try {
    const S = r.states(B, T, H, [x.W_in, x.W_rec, x.b, x.inputs, given(x.h0) ? x.h0 : x.b]);
    const last = HEAD_CODE[a.head] === 0 || HEAD_CODE[a.head] === 2;
    const rows = last ? B : B * T;
    const outputs = r.run(
      headProgram(rows, O, false, last ? [B, O] : [B, T, O]),
      [S, x.W_out, x.b_out, x.b, x.b],
      0,
      0,
      true,
    );
    const states = r.run(copyProgram([B, T, H]), [S], 0, B * H, true);
    return [outputs, states];
  } finally {
    r.release();
  }
};

const lossKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs as unknown as Named;
  const a = attrs as unknown as LossAttrs;
  const [B, T, I, H, O] = sizesOf(x);
  const head = HEAD_CODE[a.head];
  const last = head === 0 || head === 2;
  const rows = last ? B : B * T;
  const omega = a.omega !== 'none';
  const combine = omega && a.combine;
  let flags = FLAG_TRAIN;
  if (given(x.h0)) flags |= FLAG_H0;
  if (given(x.mask)) flags |= FLAG_MASK;
  if (omega) flags |= FLAG_OMEGA;
  if (a.omega === 'code') flags |= FLAG_OMEGA_CODE;
  if (combine) flags |= FLAG_COMBINE;
  const be = backend as unknown as WebGPUBackendLike;
  if (head === 0 || head === 1) checkClasses(be, x.targets, O);
  const r = new Runner(be, [B, T, I, H, O], head, a.activation === 'tanh' ? 0 : 1, flags, a.omegaWeight);
  try {
    const S = r.states(B, T, H, [x.W_in, x.W_rec, x.b, x.inputs, given(x.h0) ? x.h0 : x.b]);
    const Z = r.run(headProgram(rows, O, true), [
      S,
      x.W_out,
      x.b_out,
      x.targets,
      given(x.mask) ? x.mask : x.b,
    ]);
    const P = r.backward(B, T, H, [S, Z, x.W_out, x.W_rec]);
    const om = omega ? r.run(omegaProgram(B, T), [P]) : x.b;
    const ins = [x.inputs, S, Z, P, om];
    const grad = (kind: number, shape: number[]) => r.gradient(kind, shape, ins, B, H, true);
    const empty = () => r.run(copyProgram([0]), [S], 1, 0, true);
    const seq = (src: TensorInfo, offset: number) => r.run(copyProgram([B, T, H]), [src], 0, offset, true);
    return [
      grad(GRAD.loss, []),
      grad(GRAD.omega, []),
      r.run(copyProgram([B, H]), [S], 1, T * B * H, true),
      grad(GRAD.W_in, [I, H]),
      grad(GRAD.W_rec, [H, H]),
      grad(GRAD.b, [H]),
      grad(GRAD.W_out, [H, O]),
      grad(GRAD.b_out, [O]),
      omega && !combine ? grad(GRAD.omegaGrad, [H, H]) : empty(),
      r.run(copyProgram([B, H]), [P], 1, 2 * T * B * H, true),
      a.keepSequences ? seq(S, B * H) : empty(),
      a.keepSequences ? seq(P, 0) : empty(),
    ];
  } finally {
    r.release();
  }
};

type EnsembleInputs = Named & { runs: TensorInfo };

/**
 * The loss pass of R stacked runs: every program once for all runs (R workgroups for a
 * one-workgroup recurrence, R rows of workgroups otherwise), each run's Ω variant and α read from
 * `runs`. Returns [loss [R], Ω [R], ∂W_in, ∂W_rec, ∂b, ∂W_out, ∂b_out] (stacked), kept or
 * released with the runner's temporaries.
 */
function ensemblePass(
  r: Runner,
  x: EnsembleInputs,
  head: number,
  omega: boolean,
  keep: boolean,
): TensorInfo[] {
  const [, B, T, I] = x.inputs.shape as [number, number, number, number];
  const [R, H, O] = x.W_out.shape as [number, number, number];
  const rows = head === 0 || head === 2 ? B : B * T;
  const S = r.states(B, T, H, [x.W_in, x.W_rec, x.b, x.inputs, x.b]);
  const Z = r.run(headProgram(rows, O, true, undefined, R), [
    S,
    x.W_out,
    x.b_out,
    x.targets,
    given(x.mask) ? x.mask : x.b,
  ]);
  const P = r.backward(B, T, H, [S, Z, x.W_out, x.W_rec]);
  const om = omega ? r.run(omegaProgram(B, T, R), [P]) : x.b;
  const ins = [x.inputs, S, Z, P, om, x.runs];
  const grad = (kind: number, shape: number[]) => r.gradient(kind, shape, ins, B, H, keep);
  return [
    grad(GRAD.loss, []),
    grad(GRAD.omega, []),
    grad(GRAD.W_in, [I, H]),
    grad(GRAD.W_rec, [H, H]),
    grad(GRAD.b, [H]),
    grad(GRAD.W_out, [H, O]),
    grad(GRAD.b_out, [O]),
  ];
}

/** A runner for R stacked runs (checking class targets where they are still on the CPU). */
function ensembleRunner(
  be: WebGPUBackendLike,
  x: EnsembleInputs,
  head: number,
  activation: Activation,
): Runner {
  const [R, B, T, I] = x.inputs.shape as [number, number, number, number];
  const [, H, O] = x.W_out.shape as [number, number, number];
  if (head === 0 || head === 1) checkClasses(be, x.targets, O);
  const flags = FLAG_TRAIN | (given(x.mask) ? FLAG_MASK : 0);
  return new Runner(be, [B, T, I, H, O], head, activation === 'tanh' ? 0 : 1, flags, 0, R);
}

/**
 * CliffguardRnnEnsembleLoss: the pass of R runs, `runs` the ensembles' table (ENSEMBLE_RUN_COLUMNS;
 * only α and the Ω variant are read).
 */
const ensembleLossKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs as unknown as EnsembleInputs;
  const a = attrs as unknown as EnsembleLossAttrs;
  const r = ensembleRunner(backend as unknown as WebGPUBackendLike, x, HEAD_CODE[a.head], a.activation);
  try {
    return ensemblePass(r, x, HEAD_CODE[a.head], a.omega, true);
  } finally {
    r.release();
  }
};

/**
 * CliffguardRnnEnsembleStep on webgpu, the cpu and wasm kernels' update in WGSL: the pass of all
 * runs, then one program for every run's norm, safeguard, skip and clip, one SGD program per
 * parameter and one for the record [6, R]: seven dispatches after the pass, however many runs.
 */
const ensembleStepKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs as unknown as EnsembleInputs;
  const a = attrs as unknown as ForwardAttrs;
  const be = backend as unknown as WebGPUBackendLike;
  const R = x.inputs.shape[0];
  const r = ensembleRunner(be, x, HEAD_CODE[a.head], a.activation);
  try {
    const [loss, omega, ...grads] = ensemblePass(r, x, HEAD_CODE[a.head], anyOmega(be, x.runs), false);
    const control = r.run(updateControlProgram(R), [...grads, x.runs]);
    const params = [x.W_in, x.W_rec, x.b, x.W_out, x.b_out];
    const next = params.map((w, i) =>
      r.run(
        sgdUpdateProgram(w.shape.slice(1), R),
        [w, grads[i], control, x.runs],
        w === x.W_rec ? 1 : 0,
        0,
        true,
      ),
    );
    const record = r.run(updateRecordProgram(R), [loss, omega, control], 0, 0, true);
    return [...next, record];
  } finally {
    r.release();
  }
};

/** The webgpu kernel configs. */
export function webgpuKernels(): KernelConfig[] {
  return [
    { kernelName: RNN_FORWARD, backendName: 'webgpu', kernelFunc: forwardKernel },
    { kernelName: RNN_LOSS, backendName: 'webgpu', kernelFunc: lossKernel },
    { kernelName: RNN_ENSEMBLE_LOSS, backendName: 'webgpu', kernelFunc: ensembleLossKernel },
    { kernelName: RNN_ENSEMBLE_STEP, backendName: 'webgpu', kernelFunc: ensembleStepKernel },
    packedStepKernelConfig,
  ];
}
