import { describe, expect, it } from 'vitest';
import { builtinConfigs } from '../configs.js';
import { cliffguardStack } from './cliffguard.js';

describe('cliffguard stacks', () => {
  it('list SGD-C and SGD-CR as not run where a synchronous readback is impossible (webgpu in Node)', () => {
    const tiny = builtinConfigs.tiny;
    for (const method of ['SGD-C', 'SGD-CR'] as const) {
      const stack = cliffguardStack('reference', method);
      expect(stack.unavailable(tiny, 'webgpu')).toMatch(
        new RegExp(`^${method} needs one synchronous readback per step .*webgpu cannot`),
      );
      expect(stack.unavailable(tiny, 'cpu')).toBeNull();
      expect(stack.unavailable(tiny, 'wasm')).toBeNull();
    }
    // plain SGD reads nothing back: it runs on webgpu
    expect(cliffguardStack('reference', 'SGD').unavailable(tiny, 'webgpu')).toBeNull();
  });
});
