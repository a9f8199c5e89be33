import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where tests find the real data sets: `$CLIFFGUARD_DATA`, else `../shared/data`
 * relative to the repository root (the checkout's sibling folder).
 */
export function dataDir(): string {
  const fromEnv = process.env.CLIFFGUARD_DATA;
  if (fromEnv) return resolve(fromEnv);
  // dist/data.js -> packages/testing -> repo root -> ../shared/data
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const candidate = resolve(repoRoot, '..', 'shared', 'data');
  if (!existsSync(candidate)) {
    throw new Error(
      `test data not found at ${candidate}; set CLIFFGUARD_DATA to the folder holding ptb/ and music/`,
    );
  }
  return candidate;
}
