/**
 * CliffguardRnnEnsemblePackedStep on webgpu (issue 19): an ensemble update in three dispatches
 * whatever the number of runs R. The parameters of every run live in one packed state buffer, so
 * that the whole step needs few bindings:
 *   1. the persistent sequence program (programs/sequence.ts): per (run, sequence) the forward
 *      pass, the head, BPTT, Ω and the sequence's gradient partials, the time loop in the shader;
 *   2. the packed update (programs/packed-update.ts): per run the batch's gradient, its norm, the
 *      paper's chain (safeguard, skip, clip) and SGD, writing the next state and the record;
 *   3. a copy of the record out of the state (the kernel's second output).
 * Every run has the batch's T steps and attrs.activation, unless the optional input `shapes`
 * [R, 2] gives per run its length T_r ≤ T and activation (0 tanh, 1 sigmoid): run r then trains
 * as it would alone on the batch's first T_r steps, one program (a mixed one) for every run.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { ENSEMBLE_STATS, RNN_ENSEMBLE_PACKED_STEP } from '../kernels/names.js';
import type { Activation, Head } from '../problem.js';
import { copyProgram } from './programs/copy.js';
import { packedStateSize, packedUpdateProgram } from './programs/packed-update.js';
import {
  type SequenceShape,
  scratchLayout,
  sequenceProgram,
  sequenceWorkgroupBytes,
} from './programs/sequence.js';
import { anyOmega, checkClasses, given, HEAD_CODE, Runner, type WebGPUBackendLike } from './runner.js';

export interface PackedStepAttrs {
  activation: Activation;
  head: Head;
  hiddenSize: number;
  outputSize: number;
}

interface PackedInputs {
  state: TensorInfo;
  inputs: TensorInfo;
  targets: TensorInfo;
  mask: TensorInfo;
  runs: TensorInfo;
  /** [R, 2]: per run (T_r, activation code); absent or empty: every run T, attrs.activation */
  shapes?: TensorInfo;
}

interface DeviceLimits {
  maxComputeWorkgroupStorageSize: number;
  maxStorageBufferBindingSize: number;
}

/** The limits of the backend's GPUDevice (WebGPU's defaults where they cannot be read). */
export function deviceLimits(backend: unknown): DeviceLimits {
  const limits = (backend as { device?: { limits?: Partial<DeviceLimits> } }).device?.limits;
  return {
    maxComputeWorkgroupStorageSize: limits?.maxComputeWorkgroupStorageSize ?? 16384,
    maxStorageBufferBindingSize: limits?.maxStorageBufferBindingSize ?? 134217728,
  };
}

/**
 * Whether runs of H hidden units fit the persistent program: at most 256, within the device's
 * workgroup memory (`mixed`: runs of different lengths and activations).
 */
export function persistentFits(H: number, limits: DeviceLimits, mixed = false): boolean {
  return H <= 256 && sequenceWorkgroupBytes(H, false, mixed) <= limits.maxComputeWorkgroupStorageSize;
}

/**
 * Each run's length and activation code from `shapes` [R, 2]: its shape is checked, and its values
 * where they are still on the CPU (a tensor made from JavaScript data; a GPU-resident one is not
 * read back, and the program then clamps each length to [1, T]). Null where they are not.
 */
function runShapes(be: WebGPUBackendLike, shapes: TensorInfo, R: number, T: number): Float32Array | null {
  if (shapes.shape.length !== 2 || shapes.shape[0] !== R || shapes.shape[1] !== 2) {
    throw new RangeError(
      `${RNN_ENSEMBLE_PACKED_STEP}: shapes must be [${R}, 2] (per run its length and activation code) ` +
        `or empty, got [${shapes.shape.join(', ')}]`,
    );
  }
  const values = be.tensorMap?.get(shapes.dataId)?.values;
  if (!values) return null;
  const rows = Float32Array.from(values);
  for (let r = 0; r < R; r++) {
    const [length, code] = [rows[2 * r], rows[2 * r + 1]];
    if (!(Number.isInteger(length) && length >= 1 && length <= T)) {
      throw new RangeError(
        `${RNN_ENSEMBLE_PACKED_STEP}: run ${r}'s length shapes[${r}, 0] = ${length} is not an integer in [1, ${T}] (the inputs' steps)`,
      );
    }
    if (code !== 0 && code !== 1) {
      throw new RangeError(
        `${RNN_ENSEMBLE_PACKED_STEP}: run ${r}'s activation code shapes[${r}, 1] = ${code} is not 0 (tanh) or 1 (sigmoid)`,
      );
    }
  }
  return rows;
}

/**
 * Per-step class targets [R, B, T] lie in [0, O) within each run's first T_r steps (the steps after
 * them are padding, not read), checked where both are still on the CPU.
 */
function checkRunClasses(
  be: WebGPUBackendLike,
  targets: TensorInfo,
  O: number,
  shapes: Float32Array,
  [R, B, T]: number[],
): void {
  const values = be.tensorMap?.get(targets.dataId)?.values;
  if (!values) return;
  for (let r = 0; r < R; r++) {
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < shapes[2 * r]; t++) {
        const i = (r * B + b) * T + t;
        const y = values[i];
        if (!(Number.isInteger(y) && y >= 0 && y < O)) {
          throw new RangeError(
            `targets[${i}] = ${y} (run ${r}, sequence ${b}, step ${t}) is not a class index in [0, ${O})`,
          );
        }
      }
    }
  }
}

const packedStepKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs as unknown as PackedInputs;
  const a = attrs as unknown as PackedStepAttrs;
  const be = backend as unknown as WebGPUBackendLike;
  const [R, B, T, I] = x.inputs.shape as [number, number, number, number];
  const H = a.hiddenSize;
  const O = a.outputSize;
  const size = packedStateSize(R, I, H, O);
  if (x.state.shape.length !== 1 || x.state.shape[0] !== size) {
    throw new RangeError(
      `${RNN_ENSEMBLE_PACKED_STEP}: the state must be [${size}] for ${R} runs of ${I}→${H}→${O}, got [${x.state.shape.join(', ')}]`,
    );
  }
  // shapes of size 0 (or absent): every run T, attrs.activation
  const mixed = x.shapes?.shape.every((d) => d > 0) === true;
  const rows = mixed ? runShapes(be, x.shapes as TensorInfo, R, T) : null;
  const head = HEAD_CODE[a.head];
  // a mixed batch's per-step targets are checked within each run's steps only
  if (head === 1 && rows) checkRunClasses(be, x.targets, O, rows, [R, B, T]);
  else if (head === 0 || head === 1) checkClasses(be, x.targets, O);
  const limits = deviceLimits(backend);
  if (!persistentFits(H, limits, mixed)) {
    throw new RangeError(
      `${RNN_ENSEMBLE_PACKED_STEP}: ${H} hidden units do not fit one workgroup of this device (at most 256, ` +
        `${limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory)`,
    );
  }
  const shape: SequenceShape = {
    R,
    B,
    T,
    I,
    H,
    O,
    head,
    act: a.activation === 'tanh' ? 0 : 1,
    masked: given(x.mask),
    omega: anyOmega(be, x.runs),
    sharedWrec: sequenceWorkgroupBytes(H, true, mixed) <= limits.maxComputeWorkgroupStorageSize,
    ...(mixed ? { mixed } : {}),
  };
  const scratchBytes = 4 * R * B * scratchLayout(shape).Q;
  if (scratchBytes > limits.maxStorageBufferBindingSize) {
    throw new RangeError(
      `${RNN_ENSEMBLE_PACKED_STEP}: ${R} runs × ${B} sequences of ${T} steps need ${scratchBytes} bytes of ` +
        `scratch, over this device's ${limits.maxStorageBufferBindingSize}; step fewer runs at a time`,
    );
  }
  const r = new Runner(be, [B, T, I, H, O], head, shape.act, 0, 0, R);
  try {
    const scratch = r.run(sequenceProgram(shape), [
      x.state,
      x.inputs,
      x.targets,
      shape.masked ? x.mask : x.runs,
      x.runs,
      ...(mixed ? [x.shapes as TensorInfo] : []),
    ]);
    const next = r.run(packedUpdateProgram(shape), [x.state, scratch, x.runs], 0, 0, true);
    const recordSize = ENSEMBLE_STATS.length * R;
    const record = r.run(copyProgram([ENSEMBLE_STATS.length, R]), [next], 1, size - recordSize, true);
    return [next, record];
  } finally {
    r.release();
  }
};

export const packedStepKernelConfig: KernelConfig = {
  kernelName: RNN_ENSEMBLE_PACKED_STEP,
  backendName: 'webgpu',
  kernelFunc: packedStepKernel,
};
