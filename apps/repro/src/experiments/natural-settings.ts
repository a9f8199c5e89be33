import { numberFlag } from './temporal-order.js';
import type { PlanOptions } from './types.js';

/** A natural-task profile: model size, segment length, epochs and how much data a run reads. */
export interface NaturalSettings {
  hidden: number;
  steps: number;
  batch: number;
  epochs: number;
  /** 0 = all of the split */
  trainLimit: number;
  evalLimit: number;
  seeds: number;
}

/** A profile's settings with --epochs, --train-limit, --eval-limit (0 = all) and --seeds applied. */
export function naturalFlags(
  options: PlanOptions,
  s: NaturalSettings,
): { epochs: number; seeds: number; trainLimit: number; evalLimit: number } {
  const epochs =
    numberFlag(options.flags.epochs, 'epochs', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1') ??
    s.epochs;
  const limit = (name: string, fallback: number) =>
    numberFlag(
      options.flags[name],
      name,
      (n) => Number.isInteger(n) && n >= 0,
      'a whole number >= 0 (0 = all)',
    ) ?? fallback;
  return {
    epochs,
    seeds: options.seeds ?? s.seeds,
    trainLimit: limit('train-limit', s.trainLimit),
    evalLimit: limit('eval-limit', s.evalLimit),
  };
}
