/**
 * The glue between the WGSL programs (programs/) and tfjs-backend-webgpu: a Runner dispatches
 * programs through backend.runWebGPUProgram with the shared uniforms of one kernel call, chooses
 * how the two recurrences run (setWebgpuRecurrence), and frees the intermediate buffers.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { ENSEMBLE_RUN_COLUMNS } from '../kernels/names.js';
import { backwardProgram, backwardStepProgram } from './programs/backward.js';
import { type FusedWebGPUProgram, ONE_WORKGROUP_MAX } from './programs/common.js';
import { forwardProgram, forwardStepProgram } from './programs/forward.js';
import { gradientGemmProgram, gradientProgram, isProductGradient } from './programs/gradient.js';

interface Uniform {
  type: 'int32' | 'float32';
  data: number[];
}

/** The calls the kernels make on tfjs-backend-webgpu's WebGPUBackend. */
export interface WebGPUBackendLike {
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
export function checkClasses(backend: WebGPUBackendLike, targets: TensorInfo, O: number): void {
  const values = backend.tensorMap?.get(targets.dataId)?.values;
  if (!values) return;
  for (let i = 0; i < values.length; i++) {
    const y = values[i];
    if (!(Number.isInteger(y) && y >= 0 && y < O)) {
      throw new RangeError(`targets[${i}] = ${y} is not a class index in [0, ${O})`);
    }
  }
}

/**
 * Whether any run of an ensembles' table uses Ω, read where its values are still on the CPU (a
 * table made from JavaScript data); true when they are not (Ω's terms are then computed and unused).
 */
export function anyOmega(be: WebGPUBackendLike, runs: TensorInfo): boolean {
  const values = be.tensorMap?.get(runs.dataId)?.values;
  if (!values) return true;
  const C = ENSEMBLE_RUN_COLUMNS.length;
  const at = ENSEMBLE_RUN_COLUMNS.indexOf('omega');
  for (let r = 0; r < values.length / C; r++) if (values[r * C + at] !== 0) return true;
  return false;
}

export type WebgpuRecurrence = 'auto' | 'one-workgroup' | 'per-step';
const RECURRENCES: readonly WebgpuRecurrence[] = ['auto', 'one-workgroup', 'per-step'];
let recurrence: WebgpuRecurrence = 'auto';

/**
 * How the webgpu kernels run the two recurrences: 'auto' (ensembles of up to 256 hidden units:
 * the persistent sequence program, a workgroup per (run, sequence) looping over time; everything
 * else in one workgroup up to ONE_WORKGROUP_MAX (b, j) outputs per step, else one dispatch per
 * step), or, for every kernel, the multi-dispatch programs in one workgroup looping over time
 * ('one-workgroup') or one dispatch per step over many workgroups ('per-step').
 */
export function setWebgpuRecurrence(mode: WebgpuRecurrence): void {
  if (!RECURRENCES.includes(mode)) {
    throw new RangeError(
      `webgpu recurrence must be 'auto', 'one-workgroup' or 'per-step', got ${JSON.stringify(mode)}`,
    );
  }
  recurrence = mode;
}

/** Whether ensembles may take the persistent sequence program ('auto'). */
export function persistentAllowed(): boolean {
  return recurrence === 'auto';
}

function oneWorkgroup(B: number, H: number): boolean {
  return recurrence === 'one-workgroup' || (recurrence === 'auto' && B * H <= ONE_WORKGROUP_MAX);
}

export const HEAD_CODE = { 'last-softmax': 0, softmax: 1, 'last-linear': 2, sigmoid: 3 } as const;

export type Named = Record<
  'W_in' | 'W_rec' | 'b' | 'W_out' | 'b_out' | 'inputs' | 'targets' | 'mask' | 'h0',
  TensorInfo
>;

export const given = (t: TensorInfo | undefined): t is TensorInfo =>
  t !== undefined && t.shape.length > 0 && t.shape.every((d) => d > 0);

/** Runs programs with the shared uniforms of one call; frees intermediates on `release`. */
export class Runner {
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
    // a program with its sizes baked in (uniforms '') takes none
    const uniforms: Uniform[] =
      program.uniforms === ''
        ? []
        : [
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

  /**
   * Gradient `kind` of one run's `shape`: the weight products as tiled GEMMs where the
   * recurrences run one dispatch per step (large models), else one invocation per element.
   */
  gradient(
    kind: number,
    shape: number[],
    inputs: TensorInfo[],
    B: number,
    H: number,
    keep: boolean,
  ): TensorInfo {
    // an ensemble's pass also passes the runs table
    const ensemble = inputs.length === 6;
    const program =
      isProductGradient(kind) && !oneWorkgroup(B, H)
        ? gradientGemmProgram(shape as [number, number], this.R, ensemble)
        : gradientProgram(shape, this.R, ensemble);
    return this.run(program, inputs, kind, 0, keep);
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
