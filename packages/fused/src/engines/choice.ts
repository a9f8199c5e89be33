/**
 * Which engine runs the fused kernels on which tfjs backend: the WebAssembly SIMD module on
 * 'wasm' (relaxed SIMD when the runtime accepts it), JavaScript on 'cpu' and on 'wasm' when the
 * runtime has no WebAssembly SIMD. In Node the module runs on shared memory with a worker thread
 * that takes half of each phase of large passes (hidden 300 and 512 models); set
 * CLIFFGUARD_FUSED_THREADS=1 to stay on one thread. The module is compiled when this package is
 * imported.
 */

import type { SequenceEngine } from '../problem.js';
import { jsSequenceEngine } from './js.js';
import { WasmSequenceEngine } from './wasm/engine.js';
import {
  type FusedWasm,
  instantiateSharedFusedWasm,
  loadBestFusedWasm,
  sharedMemoryAvailable,
  type WasmVariant,
} from './wasm/module.js';
import { WasmThreadPair } from './wasm/threads.js';

function threadsWanted(): boolean {
  const env = typeof process !== 'undefined' ? process.env?.CLIFFGUARD_FUSED_THREADS : undefined;
  return (
    env !== '1' &&
    typeof process !== 'undefined' &&
    Boolean(process.versions?.node) &&
    sharedMemoryAvailable()
  );
}

async function start(): Promise<{ wasm: FusedWasm | null; threads: WasmThreadPair | null }> {
  const best = await loadBestFusedWasm();
  if (!best || !threadsWanted()) return { wasm: best, threads: null };
  try {
    const shared = await instantiateSharedFusedWasm(best.variant);
    return { wasm: shared, threads: await WasmThreadPair.start(shared) };
  } catch {
    return { wasm: best, threads: null };
  }
}

const { wasm, threads } = await start();
const wasmEngine = wasm ? new WasmSequenceEngine(wasm, { threads }) : null;

/** The engine behind the 'wasm' backend's kernels. */
export function wasmBackendEngine(): SequenceEngine {
  return wasmEngine ?? jsSequenceEngine;
}

/** The engine behind the 'cpu' backend's kernels. */
export function cpuBackendEngine(): SequenceEngine {
  return jsSequenceEngine;
}

/** Whether the 'wasm' kernels run the relaxed-SIMD build (fused multiply-add). */
export function isRelaxedSimd(): boolean {
  return wasm?.variant === 'relaxed-simd';
}

/** The WebAssembly build in use: 'relaxed-simd', 'simd', or null (no SIMD: JavaScript instead). */
export function wasmVariant(): WasmVariant | null {
  return wasm?.variant ?? null;
}

/** Threads the 'wasm' kernels may use (2 with the worker, for large passes; else 1). */
export function wasmThreads(): number {
  return threads ? 2 : 1;
}

/** Bytes of the module's memory the current plan occupies (0 before the first call). */
export function wasmBytesInUse(): number {
  return wasmEngine?.bytesInUse ?? 0;
}
