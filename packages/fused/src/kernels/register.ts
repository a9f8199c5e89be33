/** The array-level kernels' configs for a backend, and their registration with the loss gradient. */
import {
  getGradient,
  getKernel,
  type KernelConfig,
  registerGradient,
  registerKernel,
} from '@tensorflow/tfjs-core';
import type { SequenceEngine } from '../problem.js';
import { ensembleStepKernel } from './ensembleStep.js';
import { forwardKernel } from './forward.js';
import { lossGradient } from './gradient.js';
import { lossKernel } from './loss.js';
import { RNN_ENSEMBLE_STEP, RNN_FORWARD, RNN_LOSS } from './names.js';

/** Kernel configs for a backend whose data can be read synchronously (cpu, wasm). */
export function arrayKernels(backendName: string, engine: () => SequenceEngine): KernelConfig[] {
  return [
    { kernelName: RNN_FORWARD, backendName, kernelFunc: forwardKernel(engine) },
    { kernelName: RNN_LOSS, backendName, kernelFunc: lossKernel(engine) },
    { kernelName: RNN_ENSEMBLE_STEP, backendName, kernelFunc: ensembleStepKernel(engine) },
  ];
}

/** Registers kernels not yet registered for their backend, and the gradient once. */
export function registerFusedKernels(configs: KernelConfig[]): void {
  for (const c of configs) if (!getKernel(c.kernelName, c.backendName)) registerKernel(c);
  if (!getGradient(RNN_LOSS)) registerGradient(lossGradient);
}
