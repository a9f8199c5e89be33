import { afterAll } from 'vitest';
import { describeEngine } from '../test/engineChecks.js';
import { WasmSequenceEngine } from './wasmEngine.js';
import {
  instantiateFusedWasm,
  instantiateSharedFusedWasm,
  runtimeAccepts,
  sharedMemoryAvailable,
} from './wasmModule.js';
import { WasmThreadPair } from './wasmThreads.js';

const simd = new WasmSequenceEngine(await instantiateFusedWasm('simd'));
describeEngine('wasm engine (SIMD build)', () => simd);

// Node 20 runs the relaxed build only with --experimental-wasm-relaxed-simd (see vitest.config.ts)
if (runtimeAccepts('relaxed-simd')) {
  const relaxed = new WasmSequenceEngine(await instantiateFusedWasm('relaxed-simd'));
  describeEngine('wasm engine (relaxed-SIMD build)', () => relaxed);
}

// Every phase split between this thread and a worker (threshold 0: even the small test problems).
if (sharedMemoryAvailable()) {
  const shared = await instantiateSharedFusedWasm('simd');
  const pair = await WasmThreadPair.start(shared);
  const two = new WasmSequenceEngine(shared, { threads: pair, threadThreshold: 0 });
  describeEngine('wasm engine on two threads (shared memory)', () => two);
  afterAll(async () => {
    await pair?.stop();
  });
}
