/**
 * Side effects of importing @cliffguard/fused: the fused kernels are registered for the 'cpu' and
 * 'wasm' backends (JavaScript and WebAssembly engines) and 'webgpu' (WGSL), with their gradient, and `fusedImplementation` is registered in
 * @cliffguard/rnn under the name 'fused'.
 */
import { registerImplementation } from '@cliffguard/rnn';
import { cpuBackendEngine, wasmBackendEngine } from './engines.js';
import { fusedImplementation } from './fusedImplementation.js';
import { arrayKernels, registerFusedKernels } from './kernels.js';
import { webgpuKernels } from './webgpuKernels.js';

registerFusedKernels([
  ...arrayKernels('cpu', cpuBackendEngine),
  ...arrayKernels('wasm', wasmBackendEngine),
  ...webgpuKernels(),
]);
registerImplementation(fusedImplementation);
