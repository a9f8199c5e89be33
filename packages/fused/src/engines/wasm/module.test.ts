import { describe, expect, it } from 'vitest';
import { type FusedExports, instantiateFusedWasm, loadBestFusedWasm, runtimeAccepts } from './module.js';

/** Runs an in-place array function of the module on `xs`, returns the results. */
function apply(x: FusedExports, f: (p: number, n: number) => void, xs: Float32Array): Float32Array {
  const p = Math.ceil(x.heapBase() / 16) * 16;
  const need = p + xs.length * 4;
  if (need > x.memory.buffer.byteLength)
    x.memory.grow(Math.ceil((need - x.memory.buffer.byteLength) / 65536));
  new Float32Array(x.memory.buffer, p, xs.length).set(xs);
  f(p, xs.length);
  return new Float32Array(x.memory.buffer, p, xs.length).slice();
}

const grid = (lo: number, hi: number, n: number) =>
  Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));

describe('the WebAssembly module', () => {
  it('loads the best build the runtime accepts', async () => {
    const best = await loadBestFusedWasm();
    expect(best).not.toBeNull();
    expect(best!.variant).toBe(runtimeAccepts('relaxed-simd') ? 'relaxed-simd' : 'simd');
  });

  for (const variant of ['simd', 'relaxed-simd'] as const) {
    it.skipIf(!runtimeAccepts(variant))(
      `${variant}: the SIMD tanh, sigmoid and exp are float32-accurate`,
      async () => {
        const { exports: x } = await instantiateFusedWasm(variant);
        const xs = grid(-12, 12, 4001);
        const tanh = apply(x, x.tanhArray, xs);
        const sig = apply(x, x.sigmoidArray, xs);
        let tanhErr = 0;
        let sigErr = 0;
        for (let i = 0; i < xs.length; i++) {
          tanhErr = Math.max(tanhErr, Math.abs(tanh[i] - Math.tanh(xs[i])));
          sigErr = Math.max(sigErr, Math.abs(sig[i] - 1 / (1 + Math.exp(-xs[i]))));
        }
        expect(tanhErr).toBeLessThan(5e-7);
        expect(sigErr).toBeLessThan(3e-7);
        const es = grid(-80, 80, 4001);
        const exp = apply(x, x.expArray, es);
        let expErr = 0;
        for (let i = 0; i < es.length; i++) expErr = Math.max(expErr, Math.abs(exp[i] / Math.exp(es[i]) - 1));
        expect(expErr).toBeLessThan(5e-7);
        // tiny arguments keep tanh(x) = x exactly
        expect(apply(x, x.tanhArray, Float32Array.of(1e-5, -3e-4, 0, 2e-7))).toEqual(
          Float32Array.of(1e-5, -3e-4, 0, 2e-7),
        );
      },
    );
  }
});
