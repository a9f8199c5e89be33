import './register.js';

export { isRelaxedSimd, wasmThreads, wasmVariant } from './engines/choice.js';
export { jsSequenceEngine } from './engines/js.js';
export { THREAD_THRESHOLD, WasmSequenceEngine } from './engines/wasm/engine.js';
export {
  type FusedWasm,
  instantiateFusedWasm,
  loadBestFusedWasm,
  runtimeAccepts,
  type WasmVariant,
} from './engines/wasm/module.js';
export { WasmThreadPair } from './engines/wasm/threads.js';
export { fusedImplementation } from './fusedImplementation.js';
export { type KernelInfo, kernelInfo } from './info.js';
export {
  ENSEMBLE_RUN_COLUMNS,
  ENSEMBLE_STATS,
  LOSS_OUTPUTS,
  RNN_ENSEMBLE_LOSS,
  RNN_ENSEMBLE_STEP,
  RNN_FORWARD,
  RNN_LOSS,
} from './kernels/names.js';
export {
  type FusedParams,
  rnnSequenceForward,
  rnnSequenceLoss,
  type SequenceLoss,
  type SequenceLossOptions,
  type SequenceOptions,
} from './ops.js';
export type {
  Activation,
  Head,
  OmegaVariant,
  SequenceEngine,
  SequenceGradients,
  SequenceOutputs,
  SequenceProblem,
  SequenceShape,
  SequenceWeights,
  TrainingProblem,
} from './problem.js';
export { fusedStacked } from './stacked.js';
export { setWebgpuRecurrence, type WebgpuRecurrence } from './webgpu/runner.js';
