/**
 * Loads the fused-RNN WebAssembly module (built from assembly/*.ts, embedded as base64 by
 * scripts/build-wasm.mjs). The relaxed-SIMD build (fused multiply-add) is chosen when the runtime
 * accepts it (`WebAssembly.validate`), the plain SIMD build otherwise (Node 20 rejects relaxed SIMD
 * unless started with --experimental-wasm-relaxed-simd), and none when SIMD itself is missing.
 */
import { RELAXED_SIMD_WASM_BASE64, SIMD_WASM_BASE64 } from '../build/wasm-binary.js';

/** The module's exports (pointers are byte addresses in its memory; bool arguments are 0/1). */
export interface FusedExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  prepareInputs(plan: number): number;
  prepareWeights(plan: number): void;
  forward(plan: number): void;
  train(plan: number): void;
  forwardStates(plan: number): void;
  head(plan: number, train: number): void;
  backward(plan: number): void;
  weightGradients(plan: number): void;
  omega(plan: number): void;
  padRows(src: number, rows: number, cols: number, dst: number, ldd: number): void;
  unpadRows(src: number, rows: number, lds: number, cols: number, dst: number): void;
  timeToBatch(src: number, T: number, B: number, lds: number, cols: number, dst: number): void;
  tanhArray(p: number, n: number): void;
  sigmoidArray(p: number, n: number): void;
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
  ): void;
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
}

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
  const { instance } = await WebAssembly.instantiate(binaries[variant] as BufferSource, {
    env: {
      abort: (_msg: number, _file: number, line: number, col: number) => {
        throw new Error(`fused wasm module aborted at ${line}:${col}`);
      },
    },
  });
  return { variant, exports: instance.exports as unknown as FusedExports };
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
