#!/usr/bin/env bash
# The prepared real-GPU check of issue 19, for a session that is lent a GPU machine: one short run
# that times the webgpu ensembles (persistent and multi-dispatch side by side, P100 up to R = 1024),
# the larger configs, and a short slice of the Fig. 7 sweep as batched trainers on the GPU.
#
#   bash apps/bench/scripts/gpu-check.sh [out-dir]      (from the repository root, after pnpm build)
#
# Everything it writes goes under out-dir (default: $OUT, else gpu-check/). Each part has its own
# time limit so one slow part cannot eat the machine's budget; the whole is meant to fit in about
# eight minutes. SwiftShader is refused: the point is a real adapter.
set -uo pipefail
out=${1:-${OUT:-gpu-check}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
log() { echo "[gpu-check $(date +%T)] $*" | tee -a "$out/log.txt"; }

log "node $(node --version); $(nproc) cores"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/nvidia-smi.csv" 2>&1 || true

# the adapter tfjs will get (the bench prints it too); stop if it is a software one. Run from
# apps/bench, where the webgpu package resolves.
(cd apps/bench && node --input-type=module -e "
  import { create, globals } from 'webgpu';
  Object.assign(globalThis, globals);
  const adapter = await create([]).requestAdapter();
  if (!adapter) { console.log('no WebGPU adapter'); process.exit(2); }
  const info = adapter.info ?? {};
  console.log(JSON.stringify({ ...info, limits: {
    maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } }));
  process.exit(/swiftshader/i.test(JSON.stringify(info)) ? 3 : 0);
") > "$out/adapter.json" 2>&1
status=$?
log "adapter: $(cat "$out/adapter.json")"
if [ "$status" -ne 0 ]; then log "no real GPU adapter (exit $status): stopping"; exit "$status"; fi

# 1. P100 ensembles, both webgpu paths, and the single-run rows (about 3 minutes)
timeout 240 pnpm bench --configs P100 --backends webgpu --impls fused --methods SGD-C \
  --ensembles 1,16,64,256,1024 --ensemble-paths persistent,multi-dispatch --budget 8 --no-progress \
  --out "$out/p100.json" > "$out/p100.txt" 2>&1
log "P100 bench exit $?"

# 2. M and C: one run and small ensembles (tiled per-step programs; about 2 minutes)
timeout 150 pnpm bench --configs M,C --backends webgpu --impls fused --methods SGD-C --ensembles 1,16 \
  --budget 8 --no-progress --out "$out/mc.json" > "$out/mc.txt" 2>&1
log "M, C bench exit $?"

# 3. a slice of Fig. 7 on the GPU: all 81 runs of L = 50, 100, 150 (3 inits x 3 methods x 3 seeds)
#    in ONE trainer (units and lengths mixed: three dispatches a step), 2,000 updates each
timeout 150 pnpm repro temporal-order --profile paper --seeds 3 --lengths 50,100,150 --updates 2000 \
  --backend webgpu --out "$out/repro" > "$out/repro.txt" 2>&1
log "temporal-order slice exit $?"
log "done"
