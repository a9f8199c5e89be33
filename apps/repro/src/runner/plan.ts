import { hashOf } from '../core/ids.js';
import type { ExperimentDef, PlanOptions, RunSpec } from '../core/types.js';

/** The runs of an experiment under a profile, with stable ids and the protocol's hash. */
export function planRuns(
  def: ExperimentDef,
  options: PlanOptions,
): { protocol: Record<string, unknown>; runs: RunSpec[] } {
  const plan = def.plan(options);
  const protocol = hashOf({ experiment: def.name, profile: options.profile, ...plan.protocol });
  const runs = plan.runs.map((r) => ({
    id: `${def.name}:${r.key}:s${r.seed}`,
    experiment: def.name,
    profile: options.profile,
    protocol,
    config: r.config,
    seed: r.seed,
  }));
  const seen = new Set<string>();
  for (const r of runs) {
    if (seen.has(r.id)) throw new Error(`experiment ${def.name} planned run id ${r.id} twice`);
    seen.add(r.id);
  }
  return { protocol: plan.protocol, runs };
}
