/** What runs the fused kernels here, for benchmarks and bug reports. */
import { getKernel } from '@tensorflow/tfjs-core';
import { isRelaxedSimd, wasmBytesInUse, wasmThreads, wasmVariant } from './engines/choice.js';
import { THREAD_THRESHOLD } from './engines/wasm/engine.js';
import { RNN_FORWARD, RNN_LOSS } from './kernels/names.js';

export interface KernelInfo {
  /** kernel names registered by this package */
  kernels: string[];
  /** backends with both kernels registered */
  backends: string[];
  /** the engine behind each backend's kernels */
  engines: Record<string, string>;
  /** the WebAssembly build: 'relaxed-simd', 'simd', or null when the runtime lacks SIMD */
  wasmVariant: 'relaxed-simd' | 'simd' | null;
  relaxedSimd: boolean;
  /** threads of the 'wasm' kernels: 2 (a worker on shared memory, Node) or 1 */
  wasmThreads: number;
  /** B·T·H² from which a pass uses the second thread */
  threadThreshold: number;
  /** bytes of the WebAssembly module's memory in use by the current plan */
  wasmBytesInUse: number;
}

export function kernelInfo(): KernelInfo {
  const backends = ['cpu', 'wasm', 'webgpu'].filter(
    (b) => getKernel(RNN_LOSS, b) && getKernel(RNN_FORWARD, b),
  );
  const variant = wasmVariant();
  const engines: Record<string, string> = {};
  if (backends.includes('cpu')) engines.cpu = 'js';
  if (backends.includes('wasm')) engines.wasm = variant ? `wasm-${variant}` : 'js (no WebAssembly SIMD)';
  if (variant && wasmThreads() > 1) engines.wasm += ' (2 threads above the threshold)';
  if (backends.includes('webgpu')) engines.webgpu = 'wgsl';
  return {
    kernels: [RNN_FORWARD, RNN_LOSS],
    backends,
    engines,
    wasmVariant: variant,
    relaxedSimd: isRelaxedSimd(),
    wasmThreads: wasmThreads(),
    threadThreshold: THREAD_THRESHOLD,
    wasmBytesInUse: wasmBytesInUse(),
  };
}
