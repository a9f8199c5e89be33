import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  // Vite would resolve tfjs-core to its ESM build (the "module" field: no gradients, no chained
  // ops) while packages loaded by Node get the CJS build: two copies sharing one engine. Point
  // every import at the build Node users get, so tests run one copy, as users do.
  resolve: {
    alias: [{ find: /^@tensorflow\/tfjs-core$/, replacement: require.resolve('@tensorflow/tfjs-core') }],
  },
  test: {
    include: ['src/**/*.test.ts'],
    setupFiles: ['./vitest.setup.ts'],
    // One process for all files: tfjs and its wasm backend load once, not once per file.
    isolate: false,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
