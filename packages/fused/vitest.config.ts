import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['./vitest.setup.ts'],
    // lets Node 20 run the relaxed-SIMD build too, so both builds are tested (newer Node ignores it)
    execArgv: ['--experimental-wasm-relaxed-simd'],
  },
});
