/**
 * One backend's frame: start the backend named in the query, run the shared core (the same
 * module the Node CLI runs), post the results to the page.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import { builtinConfigs, selectConfigs } from '../configs.js';
import { runCore } from '../core.js';
import type { BackendReport } from '../report/results.js';
import { checkImpls, checkMethods, selectStacks, stackFlags } from '../stacks/index.js';
import { type FrameMessage, parseRequest } from './protocol.js';

// the server serves tfjs-backend-wasm's .wasm files here; with COOP/COEP the threaded SIMD build loads
setWasmPaths(new URL('./wasm/', location.href).href);
// tfjs uses half the cores by default; the bench gives the threaded build all of them
// (`?wasmThreads=N` to choose)
setThreadsCount(
  Number(new URLSearchParams(location.search).get('wasmThreads') ?? navigator.hardwareConcurrency),
);

const post = (m: FrameMessage) => parent.postMessage(m, location.origin);

async function startBackend(name: string): Promise<BackendReport> {
  const flags: BackendReport['flags'] = { crossOriginIsolated: self.crossOriginIsolated };
  if (name === 'webgpu') {
    const gpu = (
      navigator as unknown as {
        gpu?: { requestAdapter(): Promise<{ info?: Record<string, unknown> } | null> };
      }
    ).gpu;
    if (!gpu)
      return { backend: name, unavailable: 'navigator.gpu is missing (WebGPU off in this browser)', flags };
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { backend: name, unavailable: 'no WebGPU adapter', flags };
    for (const k of ['vendor', 'architecture', 'description']) {
      if (adapter.info?.[k]) flags[`adapter_${k}`] = String(adapter.info[k]);
    }
    flags.software = Boolean(adapter.info?.isFallbackAdapter) || adapter.info?.architecture === 'swiftshader';
  }
  try {
    if (!(await tf.setBackend(name)))
      return { backend: name, unavailable: `tf.setBackend('${name}') returned false`, flags };
    await tf.ready();
  } catch (err) {
    return { backend: name, unavailable: `${name} failed to start: ${(err as Error).message}`, flags };
  }
  if (name === 'wasm') {
    flags.simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    flags.threads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
    flags.thread_count = getThreadsCount();
  }
  return { backend: name, unavailable: null, flags };
}

async function main(): Promise<void> {
  const request = parseRequest(new URLSearchParams(location.search));
  const backend = request.backends[0];
  try {
    const configs = selectConfigs(request.configs, { ...builtinConfigs });
    const stacks = await selectStacks(
      checkImpls(request.impls),
      checkMethods(request.methods),
      request.ensembles,
    );
    const start = await startBackend(backend);
    if (start.unavailable !== null) {
      post({ type: 'done', start, result: { rows: [], skipped: [], failed: [] } });
      return;
    }
    Object.assign(start.flags, await stackFlags(request.impls, backend));
    const result = await runCore({
      configs,
      backend,
      stacks,
      ...(request.steps !== undefined ? { steps: request.steps } : {}),
      warmup: request.warmup,
      budgetMs: request.budget * 1000,
      seed: request.seed,
      onProgress: (event) => post({ type: 'progress', event }),
    });
    post({ type: 'done', start, result });
  } catch (err) {
    post({ type: 'error', backend, message: (err as Error).stack ?? String(err) });
  }
}

void main();
