/**
 * Which RNN implementation a run uses: the fused one (@cliffguard/fused registers 'fused' on
 * import) when it supports the model on this backend, else the op-by-op reference.
 */
import type { RnnConfig } from '@cliffguard/rnn';

let fusedLoaded: Promise<boolean> | undefined;

/** Imports @cliffguard/fused once; false when it is not built or fails to load. */
export function loadFused(): Promise<boolean> {
  if (process.env.CLIFFGUARD_REPRO_IMPLEMENTATION === 'reference') return Promise.resolve(false);
  fusedLoaded ??= import('@cliffguard/fused').then(
    () => true,
    () => false,
  );
  return fusedLoaded;
}

/** 'fused' when registered and able to run `config` on `backend`, else 'reference'. */
export async function pickImplementation(config: RnnConfig, backend: string): Promise<string> {
  const rnn = await import('@cliffguard/rnn');
  if (!(await loadFused())) return 'reference';
  if (!rnn.listImplementations().includes('fused')) return 'reference';
  return rnn.getImplementation('fused').supports(config, backend) ? 'fused' : 'reference';
}
