import type { BenchConfig } from '../configs.js';
import type { BatchData, InitialWeights } from '../data.js';

/** The paper's training methods: plain SGD, SGD with clipping, clipping plus the Ω regulariser. */
export type Method = 'SGD' | 'SGD-C' | 'SGD-CR';
export const METHODS: Method[] = ['SGD', 'SGD-C', 'SGD-CR'];

/** One training stack built and ready to step. */
export interface RunningStack {
  /** One training step; resolves to that step's loss (read back, so the step is finished). */
  step(): Promise<number>;
  /** Frees every tensor the stack made. */
  dispose(): void;
}

/**
 * A way of training the model: an implementation or a whole stack (cliffguard's reference,
 * fused, stock tfjs-layers) with one method.
 */
export interface StackFactory {
  /** which implementation or stack: 'reference', 'fused', 'tfjs-layers', ... */
  impl: string;
  method: Method;
  /** runs trained together per step (an ensemble); 1 when absent */
  runs?: number;
  /** null when it can run `config` on `backend`, else the reason it cannot. */
  unavailable(config: BenchConfig, backend: string): string | null;
  /** Builds the model from `weights` and the batch from `data`. */
  create(config: BenchConfig, data: BatchData, weights: InitialWeights): Promise<RunningStack>;
}

/**
 * How a webgpu ensemble steps: 'persistent' (the default where it fits: the persistent sequence
 * program, the packed update and the record's copy) or 'multi-dispatch' (the programs before it,
 * one per stage, kept for side-by-side timings; row impl 'fused-ensemble-multi').
 */
export type EnsemblePath = 'persistent' | 'multi-dispatch';
export const ENSEMBLE_PATHS: readonly EnsemblePath[] = ['persistent', 'multi-dispatch'];
