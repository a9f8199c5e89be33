import { describe, expect, it } from 'vitest';
import { builtinConfigs } from '../configs.js';
import { cliffguardStack } from './cliffguard.js';

describe('cliffguard stacks', () => {
  it('run every method on every backend (SGD-C and SGD-CR clip on the device on webgpu, no readback)', () => {
    const tiny = builtinConfigs.tiny;
    for (const method of ['SGD', 'SGD-C', 'SGD-CR'] as const) {
      const stack = cliffguardStack('reference', method);
      for (const backend of ['cpu', 'wasm', 'webgpu']) expect(stack.unavailable(tiny, backend)).toBeNull();
    }
    // what is missing is still named
    expect(cliffguardStack('nope', 'SGD').unavailable(tiny, 'cpu')).toMatch(/no RNN implementation 'nope'/);
  });
});
