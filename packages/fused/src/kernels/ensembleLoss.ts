/**
 * CliffguardRnnEnsembleLoss (RNN_ENSEMBLE_LOSS), webgpu only: the loss pass of R stacked runs, whose
 * programs run in webgpu/kernels.ts. There is no array-level kernel: on cpu and wasm an ensemble
 * takes the whole step in one CliffguardRnnEnsembleStep call (ensembleStep.ts).
 */
import type { Activation, Head } from '../problem.js';

/** Attributes of CliffguardRnnEnsembleLoss: `omega` when any run uses Ω. */
export interface EnsembleLossAttrs {
  activation: Activation;
  head: Head;
  omega: boolean;
}
