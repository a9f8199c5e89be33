/**
 * Which stacks a run measures: implementations × methods, plus stock tfjs-layers.
 * Browser-safe.
 */
import type { Method, StackFactory } from './stack.js';
import { METHODS } from './stack.js';

/** The method of the ensemble rows: each run clipped, as in the paper's SGD-C. */
export const ENSEMBLE_METHOD: Method = 'SGD-C';

/** The implementations and stacks the bench knows by name. */
export const IMPLS = ['reference', 'fused', 'tfjs-layers'] as const;

/** Checks implementation names; an unknown name is an error listing the valid ones. */
export function checkImpls(names: string[]): string[] {
  if (names.length === 0) throw new Error(`no implementation given; valid: ${IMPLS.join(', ')}`);
  for (const n of names) {
    if (!(IMPLS as readonly string[]).includes(n)) {
      throw new Error(`unknown implementation "${n}"; valid implementations: ${IMPLS.join(', ')}`);
    }
  }
  return names;
}

/** Checks method names; an unknown name is an error listing the valid ones. */
export function checkMethods(names: string[]): Method[] {
  if (names.length === 0) throw new Error(`no method given; valid: ${METHODS.join(', ')}`);
  for (const n of names) {
    if (!(METHODS as string[]).includes(n)) {
      throw new Error(`unknown method "${n}"; valid methods: ${METHODS.join(', ')}`);
    }
  }
  return names as Method[];
}

import type { EnsemblePath } from './stack.js';

/**
 * The stack factories for `impls` × `methods`. tfjs-layers has no clipping or Ω, so it
 * contributes one 'SGD' stack whatever the methods.
 */
export async function selectStacks(
  impls: string[],
  methods: Method[],
  ensembles: number[] = [],
  ensemblePaths: readonly EnsemblePath[] = ['persistent'],
): Promise<StackFactory[]> {
  const stacks: StackFactory[] = [];
  for (const impl of impls) {
    if (impl === 'tfjs-layers') {
      // imported on use: checking a request should not load tfjs
      const { tfjsLayersStack } = await import('./layers.js');
      stacks.push(tfjsLayersStack);
      continue;
    }
    const { cliffguardStack, loadFused } = await import('./cliffguard.js');
    const problem = impl === 'fused' ? await loadFused() : null;
    for (const method of methods) stacks.push(cliffguardStack(impl, method, problem));
  }
  if (ensembles.length > 0) {
    const { ensembleStack } = await import('./ensemble.js');
    for (const runs of ensembles) {
      for (const path of ensemblePaths) stacks.push(await ensembleStack(runs, ENSEMBLE_METHOD, path));
    }
  }
  return stacks;
}

/** Flags of the stacks on `backend` (the fused kernels' engine), when the run uses them. */
export async function stackFlags(impls: string[], backend: string): Promise<Record<string, string>> {
  if (!impls.includes('fused')) return {};
  const { fusedEngine } = await import('./cliffguard.js');
  const engine = await fusedEngine(backend);
  return engine ? { fused_engine: engine } : {};
}
