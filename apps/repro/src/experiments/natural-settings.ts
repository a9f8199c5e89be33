import type { PlanOptions } from '../core/types.js';
import { numberFlag } from './temporal-order.js';

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
  /** epochs without a better validation error before a run stops */
  patience: number;
  /** a better validation error must be lower by this fraction of the best (absent: any lower one) */
  minImprovement?: number;
}

/** A profile's settings with --epochs, --batch, --patience, --omega, --train-limit, --eval-limit (0 = all) and --seeds applied. */
export function naturalFlags(
  options: PlanOptions,
  s: NaturalSettings,
): {
  epochs: number;
  seeds: number;
  trainLimit: number;
  evalLimit: number;
  patience: number;
  omega: 'paper' | 'code';
  batch: number;
} {
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
  const patience =
    numberFlag(
      options.flags.patience,
      'patience',
      (n) => Number.isInteger(n) && n >= 1,
      'a whole number >= 1',
    ) ?? s.patience;
  const omega = options.flags.omega ?? 'code';
  if (omega !== 'paper' && omega !== 'code') {
    throw new Error(`--omega expects 'paper' or 'code', got '${omega}'`);
  }
  const batch =
    numberFlag(options.flags.batch, 'batch', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1') ??
    s.batch;
  return {
    epochs,
    batch,
    patience,
    omega,
    seeds: options.seeds ?? s.seeds,
    trainLimit: limit('train-limit', s.trainLimit),
    evalLimit: limit('eval-limit', s.evalLimit),
  };
}

/** The flags ptb and music share. */
export const NATURAL_OPTIONS = [
  { name: 'epochs', value: '<n>', description: "the most training epochs (default: the profile's)" },
  {
    name: 'batch',
    value: '<n>',
    description: "sequences (music) or lanes (ptb) per minibatch (default: the profile's)",
  },
  {
    name: 'patience',
    value: '<n>',
    description: "stop after n epochs without a better validation error (default: the profile's)",
  },
  {
    name: 'omega',
    value: 'code|paper',
    description:
      "Ω's normalisation for SGD-CR: the authors' mean over (t, b) (default) or eq. 9's sum over time",
  },
];

/**
 * A profile's real settings in words (the `--help` budget and the README's profile table), made
 * from the settings themselves so that the two cannot disagree.
 */
export function describeNatural(
  s: NaturalSettings,
  what: { runs: number; unit: 'symbols' | 'pieces'; window: string; hidden: string; time: string },
): string {
  const count = (n: number) => n.toLocaleString('en-US');
  const over = s.trainLimit ? `the first ${count(s.trainLimit)} ${what.unit}` : `whole train splits`;
  const on = s.evalLimit ? `the first ${count(s.evalLimit)} ${what.unit} of each split` : 'whole splits';
  return (
    `${what.runs} runs: ${what.hidden} sigmoid units, ${s.steps}-step ${what.window}, batch ${s.batch}, ` +
    `at most ${s.epochs} epochs over ${over} (stop after ${s.patience} without a ${s.minImprovement ? `${100 * s.minImprovement}% ` : ''}better validation error), ` +
    `evaluated on ${on}: ${what.time}`
  );
}
