/**
 * The worker thread is Node's alone: `nodeWorkerThreads` finds worker_threads in Node (with and
 * without `process.getBuiltinModule`) and nothing elsewhere. (The two threads' results are checked
 * against the float64 reference in engine.test.ts; that the package bundles for the browser is
 * tested where esbuild is installed: apps/bench/src/dropin.browser.test.ts.)
 */
import * as workerThreads from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { instantiateFusedWasm } from './module.js';
import { nodeWorkerThreads, WasmThreadPair } from './threads.js';

describe('nodeWorkerThreads', () => {
  it('is null outside Node: no process, a bundler shim without versions.node', async () => {
    expect(await nodeWorkerThreads(null)).toBeNull();
    expect(await nodeWorkerThreads({})).toBeNull();
    expect(await nodeWorkerThreads({ versions: {} })).toBeNull();
    // a shim that offers getBuiltinModule but is not Node is still not Node
    expect(await nodeWorkerThreads({ versions: {}, getBuiltinModule: () => workerThreads })).toBeNull();
  });

  it("is Node's own worker_threads in Node", async () => {
    const found = await nodeWorkerThreads();
    expect(found?.Worker).toBe(workerThreads.Worker);
  });

  it('falls back to a dynamic import on a Node without process.getBuiltinModule (< 20.16)', async () => {
    const found = await nodeWorkerThreads({ versions: { node: '20.0.0' } });
    expect(found?.Worker).toBe(workerThreads.Worker);
  });

  it('falls back to the import when getBuiltinModule has no such module', async () => {
    const found = await nodeWorkerThreads({
      versions: { node: '22.0.0' },
      getBuiltinModule: () => undefined,
    });
    expect(found?.Worker).toBe(workerThreads.Worker);
  });
});

describe('WasmThreadPair', () => {
  it('does not start on the single-memory build', async () => {
    expect(await WasmThreadPair.start(await instantiateFusedWasm('simd'))).toBeNull();
  });
});
