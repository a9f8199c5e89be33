/**
 * Side effects of importing @cliffguard/fused: the fused kernels are registered for the 'cpu' and
 * 'wasm' backends (JavaScript and WebAssembly engines) and 'webgpu' (WGSL), with their gradient, and `fusedImplementation` is registered in
 * @cliffguard/rnn under the name 'fused'.
 */
import { registerImplementation } from '@cliffguard/rnn';
import { cpuBackendEngine, wasmBackendEngine } from './engines/choice.js';
import { fusedImplementation } from './fusedImplementation.js';
import { arrayKernels, registerFusedKernels } from './kernels/register.js';
import { webgpuKernels } from './webgpu/kernels.js';

registerFusedKernels([
  ...arrayKernels('cpu', cpuBackendEngine),
  ...arrayKernels('wasm', wasmBackendEngine),
  ...webgpuKernels(),
]);
registerImplementation(fusedImplementation);
