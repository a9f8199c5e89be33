// Entry points of the fused RNN module. Memory is managed from JavaScript: it lays out a plan and
// its buffers above __heap_base (see src/wasm/plan.ts) and calls these with the plan's address.
export { gemmNN, gemmTN, gemmTNScratch, packB, packBT, packedSize } from './gemm';
export { padRows, sigmoidArray, tanhArray, timeToBatch, unpadRows } from './layout';
export {
  backward,
  forward,
  forwardStates,
  head,
  omega,
  prepareInputs,
  prepareWeights,
  train,
  weightGradients,
} from './sequence';

export function heapBase(): usize {
  return __heap_base;
}
