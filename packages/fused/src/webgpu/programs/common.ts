/**
 * The fused pass as WGSL compute programs for the tfjs webgpu backend (run through
 * backend.runWebGPUProgram). Sizes, head, activation and flags are uniforms, so each program
 * compiles once per process whatever the shape. The two recurrences (forward over T, BPTT) run in
 * one workgroup that loops over time with a storage barrier between steps; everything batched over
 * time (the head, Ω's terms, the weight gradients) is one invocation per output element.
 *
 * Layouts: S [(T+1)][B][H] states with S_0 = h0; Z [rows][O] logits → ∂loss/∂z (rows batch-major,
 * then one loss share per row); P = [δ | a | g], each [T][B][H]; Ω stats [Σ(r−1)², #valid, s_r…].
 *
 * Ensembles: every program also runs R independent runs of one shape at once (uniform R, the run
 * = workgroup_id.y). Each buffer then holds R of the layouts above back to back, inputs stacked
 * on a leading run axis, so one dispatch advances every run; R = 1 is the single-run kernel.
 *
 * This file holds what every program shares: the program shape, the uniforms and flags, the WGSL
 * helpers, and the two ways of dispatching (`singleWorkgroup`, `flat`); one file per program family
 * beside it.
 */

import { ENSEMBLE_RUN_COLUMNS } from '../../kernels/names.js';

/** The subset of tfjs-backend-webgpu's WebGPUProgram these programs fill in. */
export interface FusedWebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms: string;
  size?: boolean;
  getUserCode(): string;
}

/** Every program takes the same uniforms, in this order (see `uniformData`). */
export const UNIFORMS =
  'B : i32, T : i32, I : i32, H : i32, O : i32, head : i32, act : i32, flags : i32, alpha : f32, offset : i32, mode : i32, R : i32,';

export const FLAG_H0 = 1;
export const FLAG_MASK = 2;
export const FLAG_TRAIN = 4;
export const FLAG_OMEGA_CODE = 8;
export const FLAG_COMBINE = 16;
export const FLAG_OMEGA = 32;

export const WG = 256;
export const FLAT = 64;

/** Column c of run `run`'s row of the ensembles' `runs` table [R, 5] (ENSEMBLE_RUN_COLUMNS). */
export const column = (name: (typeof ENSEMBLE_RUN_COLUMNS)[number], run = 'run') =>
  `f32(runs[${ENSEMBLE_RUN_COLUMNS.length} * ${run} + ${ENSEMBLE_RUN_COLUMNS.indexOf(name)}])`;

const common = `
  fn lastHead() -> bool { return uniforms.head == 0 || uniforms.head == 2; }
  // the run this invocation works on, and its index within the run (workgroups along x)
  fn runOf() -> i32 { return i32(workgroupId.y); }
  fn inRun(size : i32) -> i32 { return i32(workgroupId.x) * size + i32(localIndex); }
  // per-run sizes of the stacked buffers
  fn statesSize() -> i32 { return (uniforms.T + 1) * uniforms.B * uniforms.H; }
  fn headRows() -> i32 { if (lastHead()) { return uniforms.B; } return uniforms.B * uniforms.T; }
  fn targetsSize() -> i32 {
    if (uniforms.head == 0) { return uniforms.B; }
    if (uniforms.head == 1) { return uniforms.B * uniforms.T; }
    if (uniforms.head == 2) { return uniforms.B * uniforms.O; }
    return uniforms.B * uniforms.T * uniforms.O;
  }
  fn activate(x : f32) -> f32 {
    if (uniforms.act == 0) { return tanh(clamp(x, -15.0, 15.0)); }
    return 1.0 / (1.0 + exp(-x));
  }
  // error signals below 1e-24 are set to 0, as in the WebAssembly and JavaScript engines
  fn flushTiny(x : f32) -> f32 { return select(x, 0.0, abs(x) < 1e-24); }
  fn slope(h : f32) -> f32 {
    if (uniforms.act == 0) { return 1.0 - h * h; }
    return h * (1.0 - h);
  }
`;

/** Whether x is finite, read from its bits (WGSL lets a compiler assume floats are never NaN or ∞). */
export const finiteTest = `
  fn finite(x : f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }`;

/** Above this many (b, j) outputs per step, the recurrences run one dispatch per step. */
export const ONE_WORKGROUP_MAX = 4096;

/** One workgroup per run (R along y), `size` outputs per run. */
export function singleWorkgroup(
  key: string,
  variableNames: string[],
  size: number,
  body: string,
  R = 1,
): FusedWebGPUProgram {
  return {
    variableNames,
    outputShape: [R * size],
    shaderKey: `cliffguard_${key}`,
    dispatchLayout: { x: [0] },
    dispatch: [1, R, 1],
    workgroupSize: [WG, 1, 1],
    uniforms: UNIFORMS,
    getUserCode: () => `${common}\n${body}`,
  };
}

/**
 * One invocation per output element of each run, R along y: `outputShape` is one run's, and the
 * output [R, ...outputShape] when `stacked`; `n` invocations per run (default: every element).
 */
export function flat(
  key: string,
  variableNames: string[],
  outputShape: number[],
  body: string,
  R = 1,
  n = outputShape.reduce((a, b) => a * b, 1),
  stacked = R > 1,
): FusedWebGPUProgram {
  const shape = stacked ? [R, ...outputShape] : outputShape;
  return {
    variableNames,
    outputShape: shape,
    shaderKey: `cliffguard_${key}`,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.max(1, Math.ceil(n / FLAT)), R, 1],
    workgroupSize: [FLAT, 1, 1],
    uniforms: UNIFORMS,
    size: true,
    getUserCode: () => `${common}\n${body}`,
  };
}

/** The side of the tiles of the tiled per-step programs (16×16 invocations a workgroup). */
export const TILE = 16;

/** This invocation's (b, j) in its workgroup's 16×16 tile of the (b, j) grid: b0, j0, tb, tj, b, j, l. */
export const TILE_PLACE = `let tilesJ = (uniforms.H + ${TILE - 1}) / ${TILE};
    let b0 = i32(workgroupId.x) / tilesJ * ${TILE};
    let j0 = i32(workgroupId.x) % tilesJ * ${TILE};
    let l = i32(localIndex);
    let tb = l / ${TILE};
    let tj = l % ${TILE};
    let b = b0 + tb;
    let j = j0 + tj;`;

/** A per-step program over 16×16 tiles of (b, j): ⌈B/16⌉·⌈H/16⌉ workgroups per run (R along y). */
export function tiledStep(
  key: string,
  variableNames: string[],
  outputShape: number[],
  B: number,
  H: number,
  R: number,
  body: string,
): FusedWebGPUProgram {
  const tiles = Math.ceil(B / TILE) * Math.ceil(H / TILE);
  return {
    variableNames,
    outputShape,
    shaderKey: `cliffguard_${key}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [tiles, R, 1],
    workgroupSize: [TILE * TILE, 1, 1],
    uniforms: UNIFORMS,
    getUserCode: () => `${common}\n${body}`,
  };
}
