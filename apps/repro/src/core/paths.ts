import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Shard } from './ids.js';

/** apps/repro (this file is apps/repro/{src,dist}/core/paths.*) */
export const appRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const repoRoot = resolve(appRoot, '..', '..');

/** Where results go unless --out says otherwise (ignored by git; commit copies under results/). */
export const defaultOutDir = join(appRoot, 'out');

/** --data, else $CLIFFGUARD_DATA, else ../shared/data relative to the repository root. */
export function resolveDataDir(flag?: string): string {
  if (flag) return resolve(flag);
  if (process.env.CLIFFGUARD_DATA) return resolve(process.env.CLIFFGUARD_DATA);
  return resolve(repoRoot, '..', 'shared', 'data');
}

export function requireDataDir(dir: string, sub: string): string {
  const path = join(dir, sub);
  if (!existsSync(path)) {
    throw new Error(
      `data not found at ${path}: pass --data DIR or set CLIFFGUARD_DATA to the folder holding ptb/ and music/`,
    );
  }
  return path;
}

export interface ExperimentPaths {
  dir: string;
  results: string;
  checkpoints: string;
  report: string;
  lock: string;
}

/** <out>/<experiment>/<profile>/: results(.shard-K-of-N).jsonl, checkpoints/, report/ */
export function experimentPaths(
  outDir: string,
  experiment: string,
  profile: string,
  shard?: Shard,
): ExperimentPaths {
  const dir = join(resolve(outDir), experiment, profile);
  const suffix = shard ? `.shard-${shard.index}-of-${shard.count}` : '';
  return {
    dir,
    results: join(dir, `results${suffix}.jsonl`),
    checkpoints: join(dir, 'checkpoints'),
    report: join(dir, 'report'),
    lock: join(dir, `.lock${suffix}`),
  };
}
