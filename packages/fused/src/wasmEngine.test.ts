import { describeEngine } from '../test/engineChecks.js';
import { WasmSequenceEngine } from './wasmEngine.js';
import { instantiateFusedWasm, runtimeAccepts } from './wasmModule.js';

const simd = new WasmSequenceEngine(await instantiateFusedWasm('simd'));
describeEngine('wasm engine (SIMD build)', () => simd);

// Node 20 runs the relaxed build only with --experimental-wasm-relaxed-simd (see vitest.config.ts)
if (runtimeAccepts('relaxed-simd')) {
  const relaxed = new WasmSequenceEngine(await instantiateFusedWasm('relaxed-simd'));
  describeEngine('wasm engine (relaxed-SIMD build)', () => relaxed);
}
