/** Model weights as checkpoint data (base64 float32: exact, compact). */
import type { Weights } from '@cliffguard/rnn';
import { decodeFloat32, encodeFloat32 } from '../core/checkpoint.js';

export type SavedWeights = Record<string, { shape: number[]; data: string }>;

export function saveWeights(weights: Weights): SavedWeights {
  const out: SavedWeights = {};
  for (const [k, w] of Object.entries(weights)) {
    out[k] = { shape: [...w.shape], data: encodeFloat32(Float32Array.from(w.values)) };
  }
  return out;
}

export function loadWeights(saved: SavedWeights): Weights {
  const out: Weights = {};
  for (const [k, w] of Object.entries(saved)) out[k] = { shape: w.shape, values: decodeFloat32(w.data) };
  return out;
}
