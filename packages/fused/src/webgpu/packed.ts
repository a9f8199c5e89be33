/**
 * CliffguardRnnEnsemblePackedStep on webgpu (issue 19): an ensemble update in three dispatches
 * whatever the number of runs R. The parameters of every run live in one packed state buffer, so
 * that the whole step needs few bindings:
 *   1. the persistent sequence program (programs/sequence.ts): per (run, sequence) the forward
 *      pass, the head, BPTT, Ω and the sequence's gradient partials, the time loop in the shader;
 *   2. the packed update (programs/packed-update.ts): per run the batch's gradient, its norm, the
 *      paper's chain (safeguard, skip, clip) and SGD, writing the next state and the record;
 *   3. a copy of the record out of the state (the kernel's second output).
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

/** Whether runs of H hidden units fit the persistent program: at most 256, within the device's workgroup memory. */
export function persistentFits(H: number, limits: DeviceLimits): boolean {
  return H <= 256 && sequenceWorkgroupBytes(H, false) <= limits.maxComputeWorkgroupStorageSize;
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
  const head = HEAD_CODE[a.head];
  if (head === 0 || head === 1) checkClasses(be, x.targets, O);
  const limits = deviceLimits(backend);
  if (!persistentFits(H, limits)) {
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
    sharedWrec: sequenceWorkgroupBytes(H, true) <= limits.maxComputeWorkgroupStorageSize,
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
