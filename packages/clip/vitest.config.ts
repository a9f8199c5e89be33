import { cliffguardVitestConfig } from '@cliffguard/testing/vitest';

export default cliffguardVitestConfig({
  test: {
    setupFiles: ['./vitest.setup.ts'],
    // One process for all files: tfjs and its wasm backend load once, not once per file.
    isolate: false,
    fileParallelism: false,
  },
});
