#!/bin/sh
# Runs one shard of an experiment. K (0-based) and N come from the scheduler:
#   Slurm job array:          SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT
#   Kubernetes Indexed Job:   JOB_COMPLETION_INDEX, and SHARDS = the Job's completions
#   anything else:            SHARD_INDEX and SHARDS
# Re-running a shard (a requeue, a pod restart) resumes it: finished runs are skipped and the
# runs in progress continue from their checkpoints under $OUT.
set -eu
app=$(cd "$(dirname "$0")/.." && pwd)
: "${EXPERIMENT:?set EXPERIMENT (cliff, temporal-order, generalize, synthetic, ptb, music)}"
: "${OUT:?set OUT to a folder every shard can write (a shared file system or volume)}"
PROFILE=${PROFILE:-paper}
if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
  K=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))
  N=${SLURM_ARRAY_TASK_COUNT:?SLURM_ARRAY_TASK_COUNT is not set}
elif [ -n "${JOB_COMPLETION_INDEX:-}" ]; then
  K=$JOB_COMPLETION_INDEX
  N=${SHARDS:?set SHARDS to spec.completions of the Job}
else
  K=${SHARD_INDEX:?set SHARD_INDEX and SHARDS, or run under Slurm or a Kubernetes Indexed Job}
  N=${SHARDS:?set SHARDS}
fi
# shellcheck disable=SC2086 # REPRO_ARGS holds extra flags, split on purpose
exec node "$app/dist/cli.js" "$EXPERIMENT" --profile "$PROFILE" --shard "$K/$N" --out "$OUT" \
  ${WORKERS:+--workers "$WORKERS"} ${BACKEND:+--backend "$BACKEND"} ${REPRO_ARGS:-}
