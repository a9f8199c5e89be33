import type { ExperimentDef } from '../core/types.js';
import { cliff } from './cliff.js';
import { generalize } from './generalize.js';
import { music } from './music.js';
import { ptb } from './ptb.js';
import { synthetic } from './synthetic.js';
import { temporalOrder } from './temporal-order.js';

/** Every experiment, in the order `all` runs them. */
export const EXPERIMENTS: ExperimentDef[] = [cliff, temporalOrder, generalize, synthetic, ptb, music];

export function experimentNames(): string[] {
  return EXPERIMENTS.map((e) => e.name);
}

export async function getExperiment(name: string): Promise<ExperimentDef> {
  const def = EXPERIMENTS.find((e) => e.name === name);
  if (!def)
    throw new Error(`unknown experiment '${name}'; expected one of: ${experimentNames().join(', ')}, all`);
  return def;
}
