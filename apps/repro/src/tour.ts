import type { BackendName } from './runner/backend.js';

export async function tour(_options: { backend: BackendName; out: string; workers?: number }): Promise<void> {
  throw new Error('tour: not yet');
}
