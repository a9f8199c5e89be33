/**
 * CliffguardRnnForward and CliffguardRnnLoss for the 'webgpu' backend: the programs of
 * webgpuPrograms.ts run through backend.runWebGPUProgram; intermediate buffers are disposed here.
 * The outputs are the same tensors, in the same order, as the cpu and wasm kernels'.
 * CliffguardRnnEnsembleLoss (webgpu only) runs the same programs once for R stacked runs;
 * CliffguardRnnEnsembleStep adds the update of every run (norm, safeguard, clip, SGD) in WGSL.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import {
  ENSEMBLE_RUN_COLUMNS,
  type ForwardAttrs,
  type LossAttrs,
  RNN_ENSEMBLE_LOSS,
  RNN_ENSEMBLE_STEP,
  RNN_FORWARD,
  RNN_LOSS,
} from './kernels.js';
import type { Activation, Head } from './problem.js';
import {
  backwardProgram,
  backwardStepProgram,
  copyProgram,
  FLAG_COMBINE,
  FLAG_H0,
  FLAG_MASK,
  FLAG_OMEGA,
  FLAG_OMEGA_CODE,
  FLAG_TRAIN,
  type FusedWebGPUProgram,
  forwardProgram,
  forwardStepProgram,
  GRAD,
  gradientProgram,
  headProgram,
  ONE_WORKGROUP_MAX,
  omegaProgram,
  sgdUpdateProgram,
  updateControlProgram,
  updateRecordProgram,
} from './webgpuPrograms.js';

interface Uniform {
  type: 'int32' | 'float32';
  data: number[];
}

/** The calls the kernels make on tfjs-backend-webgpu's WebGPUBackend. */
interface WebGPUBackendLike {
  runWebGPUProgram(
    program: FusedWebGPUProgram,
    inputs: TensorInfo[],
    dtype: 'float32',
    uniforms: Uniform[],
    output?: TensorInfo,
  ): TensorInfo;
  makeTensorInfo(shape: number[], dtype: 'float32'): TensorInfo;
  disposeData(dataId: object): boolean;
  tensorMap?: { get(dataId: object): { values?: ArrayLike<number> | null } | undefined };
}

/**
 * Class targets must lie in [0, O). They are checked when their values are still on the CPU
 * (a tensor made from JavaScript data and not yet uploaded); a GPU-resident tensor is not read
 * back for it (a synchronous readback would stall the step).
 */
function checkClasses(backend: WebGPUBackendLike, targets: TensorInfo, O: number): void {
  const values = backend.tensorMap?.get(targets.dataId)?.values;
  if (!values) return;
  for (let i = 0; i < values.length; i++) {
    const y = values[i];
    if (!(Number.isInteger(y) && y >= 0 && y < O)) {
      throw new RangeError(`targets[${i}] = ${y} is not a class index in [0, ${O})`);
    }
  }
}

export type WebgpuRecurrence = 'auto' | 'one-workgroup' | 'per-step';
let recurrence: WebgpuRecurrence = 'auto';

/**
 * How the webgpu kernels run the two recurrences: in one workgroup looping over time (few
 * dispatches; best for small models), one dispatch per step over many workgroups (large models),
 * or 'auto' (one workgroup up to ONE_WORKGROUP_MAX (b, j) outputs per step).
 */
export function setWebgpuRecurrence(mode: WebgpuRecurrence): void {
  if (mode !== 'auto' && mode !== 'one-workgroup' && mode !== 'per-step') {
    throw new RangeError(
      `webgpu recurrence must be 'auto', 'one-workgroup' or 'per-step', got ${JSON.stringify(mode)}`,
    );
  }
  recurrence = mode;
}

function oneWorkgroup(B: number, H: number): boolean {
  return recurrence === 'one-workgroup' || (recurrence === 'auto' && B * H <= ONE_WORKGROUP_MAX);
}

const HEAD_CODE = { 'last-softmax': 0, softmax: 1, 'last-linear': 2, sigmoid: 3 } as const;

type Named = Record<
  'W_in' | 'W_rec' | 'b' | 'W_out' | 'b_out' | 'inputs' | 'targets' | 'mask' | 'h0',
  TensorInfo
>;

const given = (t: TensorInfo | undefined): t is TensorInfo =>
  t !== undefined && t.shape.length > 0 && t.shape.every((d) => d > 0);

/** Runs programs with the shared uniforms of one call; frees intermediates on `release`. */
class Runner {
  private readonly temps: TensorInfo[] = [];

  constructor(
    private readonly backend: WebGPUBackendLike,
    private readonly sizes: number[],
    private readonly head: number,
    private readonly act: number,
    private readonly flags: number,
    private readonly alpha: number,
    /** runs stacked in every buffer */
    private readonly R = 1,
  ) {}

  run(
    program: FusedWebGPUProgram,
    inputs: TensorInfo[],
    mode = 0,
    offset = 0,
    keep = false,
    into?: TensorInfo,
  ): TensorInfo {
    // one entry per scalar field of UNIFORMS (an entry of several values is laid out as a vector)
    const ints = (v: number): Uniform => ({ type: 'int32', data: [v] });
    const uniforms: Uniform[] = [
      ...[...this.sizes, this.head, this.act, this.flags].map(ints),
      { type: 'float32', data: [this.alpha] },
      ints(offset),
      ints(mode),
      ints(this.R),
    ];
    const out = this.backend.runWebGPUProgram(program, inputs, 'float32', uniforms, into);
    if (!keep && !into) this.temps.push(out);
    return out;
  }

  /** A buffer the caller fills step by step (released with the temporaries). */
  buffer(size: number): TensorInfo {
    const t = this.backend.makeTensorInfo([size], 'float32');
    this.temps.push(t);
    return t;
  }

  /** Forward states S: one workgroup for small models, else one dispatch per step. */
  states(B: number, T: number, H: number, inputs: TensorInfo[]): TensorInfo {
    if (oneWorkgroup(B, H)) return this.run(forwardProgram(B, T, H, this.R), inputs);
    const S = this.buffer(this.R * (T + 1) * B * H);
    const step = forwardStepProgram(B, T, H, this.R);
    for (let t = 0; t <= T; t++) this.run(step, inputs, 0, t, false, S);
    return S;
  }

  /** BPTT's P = [δ | a | g]: one workgroup for small models, else one dispatch per step. */
  backward(B: number, T: number, H: number, inputs: TensorInfo[]): TensorInfo {
    if (oneWorkgroup(B, H)) return this.run(backwardProgram(B, T, H, this.R), inputs);
    const P = this.buffer(this.R * 3 * T * B * H);
    const step = backwardStepProgram(B, T, H, this.R);
    for (let t = T; t >= 0; t--) this.run(step, inputs, 0, t, false, P);
    return P;
  }

  release(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
  }
}

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
    const grad = (kind: number, shape: number[]) => r.run(gradientProgram(shape), ins, kind, 0, true);
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

/** Attributes of CliffguardRnnEnsembleLoss: `omega` when any run uses Ω. */
export interface EnsembleLossAttrs {
  activation: Activation;
  head: Head;
  omega: boolean;
}

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
  const grad = (kind: number, shape: number[]) => r.run(gradientProgram(shape, R, true), ins, kind, 0, keep);
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
 * Whether any run of the table uses Ω, read where its values are still on the CPU (a table made
 * from JavaScript data); true when they are not (Ω's terms are then computed and unused).
 */
function anyOmega(be: WebGPUBackendLike, runs: TensorInfo): boolean {
  const values = be.tensorMap?.get(runs.dataId)?.values;
  if (!values) return true;
  const C = ENSEMBLE_RUN_COLUMNS.length;
  const at = ENSEMBLE_RUN_COLUMNS.indexOf('omega');
  for (let r = 0; r < values.length / C; r++) if (values[r * C + at] !== 0) return true;
  return false;
}

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
  ];
}
