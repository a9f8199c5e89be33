/**
 * The Slurm job-array script and the Kubernetes Indexed Job entry point, run here with the
 * environment each scheduler gives its tasks: the shards, merged, equal the unsharded run.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appRoot } from './core/paths.js';
import { cli, comparable, freshDir, results } from './test-helpers.js';

const deploy = join(appRoot, 'deploy');

function sh(script: string, env: Record<string, string>) {
  const out = spawnSync(script, [], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1', ...env },
    timeout: 120_000,
  });
  return { status: out.status, output: out.stdout + out.stderr };
}

describe('scheduler scripts', () => {
  const whole = freshDir();
  const reference = () => {
    cli(['cliff', '--out', whole, '--workers', '1', '--backend', 'cpu']);
    return comparable(results(join(whole, 'cliff', 'quick', 'results.jsonl')));
  };

  it('slurm-array.sbatch: every array task runs its shard; merge-and-report.sh combines them', () => {
    const out = freshDir();
    const env = { EXPERIMENT: 'cliff', PROFILE: 'quick', OUT: out, BACKEND: 'cpu' };
    // an array --array=3-5: ids 3..5, min 3, count 3
    for (const id of [3, 4, 5]) {
      const r = sh(join(deploy, 'slurm-array.sbatch'), {
        ...env,
        SLURM_ARRAY_TASK_ID: String(id),
        SLURM_ARRAY_TASK_MIN: '3',
        SLURM_ARRAY_TASK_COUNT: '3',
        SLURM_CPUS_PER_TASK: '1',
      });
      expect(r.status, r.output).toBe(0);
      expect(r.output).toContain(`shard ${id - 3}/3`);
    }
    const merged = sh(join(deploy, 'merge-and-report.sh'), env);
    expect(merged.status, merged.output).toBe(0);
    expect(readFileSync(join(out, 'cliff', 'quick', 'report', 'report.md'), 'utf8')).toMatch(
      /8 of 8 planned runs/,
    );
    expect(comparable(results(join(out, 'cliff', 'quick', 'results.jsonl')))).toEqual(reference());
  });

  it('the Indexed Job entry point maps JOB_COMPLETION_INDEX and SHARDS to --shard', () => {
    const manifest = readFileSync(join(deploy, 'k8s-indexed-job.yaml'), 'utf8');
    expect(manifest).toMatch(/completionMode: Indexed/);
    expect(manifest).toContain('deploy/run-shard.sh');
    const completions = /completions: (\d+)/.exec(manifest)![1];
    expect(manifest).toContain(`value: "${completions}" # = spec.completions`);
    const out = freshDir();
    for (const index of [0, 1]) {
      const r = sh(join(deploy, 'run-shard.sh'), {
        EXPERIMENT: 'cliff',
        PROFILE: 'quick',
        OUT: out,
        BACKEND: 'cpu',
        WORKERS: '1',
        JOB_COMPLETION_INDEX: String(index),
        SHARDS: '2',
      });
      expect(r.status, r.output).toBe(0);
    }
    const merged = cli(['merge', '--experiment', 'cliff', '--out', out]);
    expect(merged.status, merged.stderr).toBe(0);
    expect(comparable(results(join(out, 'cliff', 'quick', 'results.jsonl')))).toEqual(reference());
    const missing = sh(join(deploy, 'run-shard.sh'), {
      EXPERIMENT: 'cliff',
      OUT: out,
      JOB_COMPLETION_INDEX: '0',
      SHARDS: '',
    });
    expect(missing.status).not.toBe(0);
    expect(missing.output).toMatch(/SHARDS/);
  });
});
