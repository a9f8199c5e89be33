// Entry points of the fused RNN module. Memory is managed from JavaScript: it lays out a plan and
// its buffers above __heap_base (see src/engines/wasm/plan.ts) and calls these with the plan's address.
export { gemmNN, gemmNNScratch, gemmTN, gemmTNScratch, packB, packBT, packedSize } from './gemm';
export { expArray, padRows, sigmoidArray, tanhArray, timeToBatch, unpadRows } from './layout';
export {
  backwardRows,
  forward,
  forwardRows,
  gradientColumns,
  headSteps,
  omegaNormaliser,
  omegaProduct,
  omegaScaleRows,
  omegaValidRows,
  prepareInputs,
  prepareWeights,
  train,
} from './sequence';

export function heapBase(): usize {
  return __heap_base;
}
