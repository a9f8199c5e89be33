import { createRequire } from 'node:module';
import { defineConfig, mergeConfig, type ViteUserConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * The vitest configuration every cliffguard package starts from.
 *
 * Vite resolves `@tensorflow/tfjs-core` to its ESM build (package.json "module"), while workspace
 * packages loaded from dist/ by Node get the CJS build: two copies of tfjs-core sharing one engine,
 * where `instanceof tf.Optimizer` and the gradient registry disagree. The alias makes every import
 * the build Node users get, so tests run one copy, as users do.
 */
export function cliffguardVitestConfig(overrides: ViteUserConfig = {}): ViteUserConfig {
  const base = defineConfig({
    resolve: {
      alias: [{ find: /^@tensorflow\/tfjs-core$/, replacement: require.resolve('@tensorflow/tfjs-core') }],
    },
    test: {
      include: ['src/**/*.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 120_000,
    },
  });
  return mergeConfig(base, overrides);
}
