/**
 * Which engine runs the fused kernels on which tfjs backend: the WebAssembly SIMD module on
 * 'wasm' (relaxed SIMD when the runtime accepts it), JavaScript on 'cpu' and on 'wasm' when the
 * runtime has no WebAssembly SIMD. The module is compiled once, when this package is imported.
 */
import { jsSequenceEngine } from './jsEngine.js';
import type { SequenceEngine } from './problem.js';
import { WasmSequenceEngine } from './wasmEngine.js';
import { loadBestFusedWasm, type WasmVariant } from './wasmModule.js';

const wasm = await loadBestFusedWasm();
const wasmEngine = wasm ? new WasmSequenceEngine(wasm) : null;

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

/** Bytes of the module's memory the current plan occupies (0 before the first call). */
export function wasmBytesInUse(): number {
  return wasmEngine?.bytesInUse ?? 0;
}
