/**
 * Loads the fused-RNN WebAssembly module (built from assembly/*.ts, embedded as base64 by
 * scripts/build-wasm.mjs). The relaxed-SIMD build (fused multiply-add) is chosen when the runtime
 * accepts it (`WebAssembly.validate`), the plain SIMD build otherwise (Node 20 rejects relaxed SIMD
 * unless started with --experimental-wasm-relaxed-simd), and none when SIMD itself is missing.
 */
import {
  RELAXED_SIMD_THREADS_WASM_BASE64,
  RELAXED_SIMD_WASM_BASE64,
  SIMD_THREADS_WASM_BASE64,
  SIMD_WASM_BASE64,
} from '../../../build/wasm-binary.js';

/** The module's exports (pointers are byte addresses in its memory; bool arguments are 0/1). */
export interface FusedExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  prepareInputs(plan: number): number;
  prepareWeights(plan: number): void;
  forward(plan: number): void;
  train(plan: number): void;
  forwardRows(plan: number, b0: number, b1: number, thread: number): void;
  headSteps(plan: number, t0: number, t1: number, train: number, thread: number): number;
  backwardRows(plan: number, b0: number, b1: number, thread: number): void;
  omegaValidRows(plan: number, b0: number, b1: number): number;
  omegaNormaliser(plan: number, valid: number): number;
  omegaScaleRows(plan: number, b0: number, b1: number, c: number, scale: number): number;
  gradientColumns(plan: number, n0: number, n1: number, o0: number, o1: number, thread: number): void;
  omegaProduct(plan: number, n0: number, n1: number, thread: number): void;
  padRows(src: number, rows: number, cols: number, dst: number, ldd: number): void;
  unpadRows(src: number, rows: number, lds: number, cols: number, dst: number): void;
  timeToBatch(src: number, T: number, B: number, lds: number, cols: number, dst: number): void;
  tanhArray(p: number, n: number): void;
  sigmoidArray(p: number, n: number): void;
  expArray(p: number, n: number): void;
  packedSize(K: number, N: number): number;
  packB(src: number, ldb: number, K: number, N: number, dst: number): void;
  packBT(src: number, lds: number, K: number, N: number, dst: number): void;
  gemmNN(
    A: number,
    lda: number,
    M: number,
    K: number,
    Bp: number,
    N: number,
    C: number,
    ldc: number,
    acc: number,
    scratch: number,
  ): void;
  gemmNNScratch(K: number): number;
  gemmTN(
    A: number,
    A2: number,
    lda: number,
    M: number,
    K: number,
    B: number,
    ldb: number,
    N: number,
    C: number,
    ldc: number,
    acc: number,
    scratch: number,
  ): void;
  gemmTNScratch(M: number, N: number): number;
}

export type WasmVariant = 'relaxed-simd' | 'simd';

export interface FusedWasm {
  variant: WasmVariant;
  exports: FusedExports;
  /** the compiled module (a worker instantiates it again on the same shared memory) */
  module: WebAssembly.Module;
  /** set for the shared-memory build */
  sharedMemory?: WebAssembly.Memory;
}

/** Pages (64 KiB) a shared memory may grow to: 2 GiB, as the threads builds declare. */
export const SHARED_MAXIMUM_PAGES = 32768;

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const binaries: Record<WasmVariant, Uint8Array> = {
  'relaxed-simd': decodeBase64(RELAXED_SIMD_WASM_BASE64),
  simd: decodeBase64(SIMD_WASM_BASE64),
};

const sharedBinaries: Record<WasmVariant, string> = {
  'relaxed-simd': RELAXED_SIMD_THREADS_WASM_BASE64,
  simd: SIMD_THREADS_WASM_BASE64,
};

function abort(_msg: number, _file: number, line: number, col: number): never {
  throw new Error(`fused wasm module aborted at ${line}:${col}`);
}

/** Whether this runtime accepts a build (validation, then compilation, must succeed). */
export function runtimeAccepts(variant: WasmVariant): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(binaries[variant] as BufferSource);
  } catch {
    return false;
  }
}

/** A fresh instance of the given build (its own memory). Rejects when the runtime refuses it. */
export async function instantiateFusedWasm(variant: WasmVariant): Promise<FusedWasm> {
  const module = await WebAssembly.compile(binaries[variant] as BufferSource);
  const instance = await WebAssembly.instantiate(module, { env: { abort } });
  return { variant, module, exports: instance.exports as unknown as FusedExports };
}

/** Whether shared WebAssembly memory (threads) is available: SharedArrayBuffer and Atomics. */
export function sharedMemoryAvailable(): boolean {
  try {
    if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
    return (
      new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer
    );
  } catch {
    return false;
  }
}

/** An instance of the shared-memory build of `variant`, on a new shared memory. */
export async function instantiateSharedFusedWasm(variant: WasmVariant): Promise<FusedWasm> {
  const memory = new WebAssembly.Memory({ initial: 4, maximum: SHARED_MAXIMUM_PAGES, shared: true });
  const module = await WebAssembly.compile(decodeBase64(sharedBinaries[variant]) as BufferSource);
  const instance = await WebAssembly.instantiate(module, { env: { abort, memory } });
  const exports = { ...(instance.exports as unknown as FusedExports), memory };
  return { variant, module, exports, sharedMemory: memory };
}

/** The best build this runtime runs: relaxed SIMD, else SIMD, else null (no WebAssembly SIMD). */
export async function loadBestFusedWasm(): Promise<FusedWasm | null> {
  for (const variant of ['relaxed-simd', 'simd'] as const) {
    if (!runtimeAccepts(variant)) continue;
    try {
      return await instantiateFusedWasm(variant);
    } catch {
      // validated but refused at compile time: try the next build
    }
  }
  return null;
}
