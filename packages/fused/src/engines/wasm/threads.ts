/**
 * A second thread for the WebAssembly engine (Node only): a worker instantiates the shared-memory
 * build on the same memory and runs one half of each phase while the calling thread runs the
 * other. The kernels are synchronous, so the caller blocks on Atomics.wait (allowed in Node, not
 * on a browser's main thread: browsers stay single-threaded).
 *
 * This file must bundle for the browser: it names no Node module where a bundler looks
 * (`nodeWorkerThreads` reaches worker_threads through `process.getBuiltinModule`, or a computed
 * dynamic import on Node releases without it), so `esbuild --platform=browser` of
 * `@cliffguard/fused` needs nothing marked external but tfjs.
 */
import type { FusedExports, FusedWasm } from './module.js';

/** The module functions a phase may call, by number (the worker's table has the same order). */
export const PHASES = [
  'forwardRows',
  'headSteps',
  'backwardRows',
  'omegaValidRows',
  'omegaScaleRows',
  'gradientColumns',
  'omegaProduct',
  'train',
] as const;
export type Phase = (typeof PHASES)[number];

// Control block (Int32 words): 0 request number, 1 finished request, 2 phase (-1: stop), 3 error.
// Float64 at byte 64: up to 8 arguments; at byte 128: the result.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, control, phases } = workerData;
const abort = () => { throw new Error('fused wasm module aborted'); };
const x = new WebAssembly.Instance(module, { env: { abort, memory } }).exports;
const ctrl = new Int32Array(control, 0, 16);
const args = new Float64Array(control, 64, 8);
const result = new Float64Array(control, 128, 1);
const table = phases.map((name) => x[name]);
parentPort.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  seen = Atomics.load(ctrl, 0);
  const phase = ctrl[2];
  if (phase < 0) break;
  try {
    const f = table[phase];
    result[0] = Number(f(...Array.from(args.subarray(0, f.length))) ?? 0);
    ctrl[3] = 0;
  } catch (e) {
    ctrl[3] = 1;
  }
  Atomics.store(ctrl, 1, seen);
  Atomics.notify(ctrl, 1);
}
`;

interface NodeWorker {
  on(event: 'message' | 'error', f: (v: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}

/** The part of Node's `node:worker_threads` used here. */
export interface NodeWorkerThreads {
  Worker: new (source: string, options: { eval: boolean; workerData: unknown }) => NodeWorker;
}

/** The part of Node's `process` that tells Node apart and loads a built-in module. */
export interface NodeProcessLike {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
}

/**
 * Node's worker_threads, or null outside Node (a browser, a web worker, or a bundler's `process`
 * shim without `versions.node`). Node >= 20.16 hands the built-in over synchronously
 * (`process.getBuiltinModule`); older Node gets a dynamic import whose specifier is computed at run
 * time, which bundlers leave alone (the comments stop webpack and Vite from warning about it).
 * `proc` defaults to the global `process` (null: none, as in a browser).
 */
export async function nodeWorkerThreads(
  proc: NodeProcessLike | null = (globalThis as { process?: NodeProcessLike }).process ?? null,
): Promise<NodeWorkerThreads | null> {
  if (!proc?.versions?.node) return null;
  const builtin = proc.getBuiltinModule?.('node:worker_threads') as NodeWorkerThreads | undefined;
  if (builtin?.Worker) return builtin;
  const specifier = ['node', 'worker_threads'].join(':');
  try {
    const loaded = (await import(
      /* webpackIgnore: true */ /* @vite-ignore */ specifier
    )) as NodeWorkerThreads;
    return loaded?.Worker ? loaded : null;
  } catch {
    return null;
  }
}

export class WasmThreadPair {
  private seq = 0;
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;
  private readonly result: Float64Array;

  private constructor(
    private readonly x: FusedExports,
    private readonly worker: NodeWorker,
    control: SharedArrayBuffer,
  ) {
    this.ctrl = new Int32Array(control, 0, 16);
    this.args = new Float64Array(control, 64, 8);
    this.result = new Float64Array(control, 128, 1);
  }

  /** Starts the worker on `wasm`'s shared memory (Node only; resolves null elsewhere). */
  static async start(wasm: FusedWasm): Promise<WasmThreadPair | null> {
    if (!wasm.sharedMemory) return null;
    const threads = await nodeWorkerThreads();
    if (!threads) return null;
    const control = new SharedArrayBuffer(256);
    const worker = new threads.Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: wasm.module, memory: wasm.sharedMemory, control, phases: [...PHASES] },
    });
    await new Promise<void>((resolve, reject) => {
      worker.on('message', () => resolve());
      worker.on('error', (e) => reject(e));
    });
    worker.unref();
    return new WasmThreadPair(wasm.exports, worker, control);
  }

  /**
   * Runs `phase` with `mine` here and `theirs` on the worker at once; returns both results.
   * Waits by spinning briefly, then on Atomics.wait.
   */
  both(phase: Phase, mine: number[], theirs: number[]): [number, number] {
    this.args.set(theirs);
    this.ctrl[2] = PHASES.indexOf(phase);
    const seq = ++this.seq;
    Atomics.store(this.ctrl, 0, seq);
    Atomics.notify(this.ctrl, 0);
    const f = this.x[phase] as unknown as (...a: number[]) => number | undefined;
    const here = Number(f(...mine) ?? 0);
    for (let spin = 0; Atomics.load(this.ctrl, 1) !== seq; spin++) {
      if (spin > 1000) Atomics.wait(this.ctrl, 1, seq - 1, 50);
    }
    if (this.ctrl[3]) throw new Error(`the fused worker failed in ${phase}`);
    return [here, this.result[0]];
  }

  /** Stops the worker. */
  async stop(): Promise<void> {
    this.ctrl[2] = -1;
    Atomics.store(this.ctrl, 0, ++this.seq);
    Atomics.notify(this.ctrl, 0);
    await this.worker.terminate();
  }
}
