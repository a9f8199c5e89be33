#!/bin/sh
# After every shard finished: merge the shard files into results.jsonl and render the report.
set -eu
app=$(cd "$(dirname "$0")/.." && pwd)
: "${EXPERIMENT:?set EXPERIMENT}"
: "${OUT:?set OUT}"
PROFILE=${PROFILE:-paper}
node "$app/dist/cli.js" merge --experiment "$EXPERIMENT" --profile "$PROFILE" --out "$OUT"
# shellcheck disable=SC2086
node "$app/dist/cli.js" report "$EXPERIMENT" --profile "$PROFILE" --out "$OUT" ${REPRO_ARGS:-}
