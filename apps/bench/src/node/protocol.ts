import type { BenchConfig } from '../configs.js';
import type { CoreResult, ProgressEvent } from '../core.js';
import type { EnsemblePath, Method } from '../stacks/stack.js';
import type { BackendStart } from './backends.js';

/** What the parent asks one backend's child process to run. */
export interface WorkerJob {
  backend: string;
  configs: BenchConfig[];
  impls: string[];
  methods: Method[];
  steps?: number;
  /** ensemble sizes R to run as fused-ensemble rows (empty: none) */
  ensembles: number[];
  /** how webgpu ensembles step (stacks/ensemble.ts); default ['persistent'] */
  ensemblePaths?: EnsemblePath[];
  warmup: number;
  minSteps: number;
  maxSteps: number;
  budgetMs: number;
  seed: number;
}

/** Messages from the child, over the IPC channel. */
export type WorkerMessage =
  | { type: 'started'; start: BackendStart }
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'done'; start: BackendStart; result: CoreResult }
  | { type: 'error'; message: string };
