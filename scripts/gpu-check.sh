#!/usr/bin/env bash
# GPU check: the adapter and its features, the WebGPU op, optional-feature (f16 weights, subgroup
# reductions) and model tests, then the benchmarks (matmul in f32 and with f16 weights, row kernels
# with and without subgroups, one Qwen2.5-0.5B-sized layer forward and backward) as JSON in
# $GPU_CHECK_OUT/gpu-bench.json.
# Usage: npm run build && scripts/gpu-check.sh [--small] [--backend vulkan|opengles]
# On a lent machine without Node.js: scripts/gpu-carry.sh here, then carry .gpu and dist and run
# `scripts/gpu-check.sh --unpack` there (scripts/gpu-unpack.sh: node, dawn.node and the loaders from
# .gpu/), or scripts/gpu-lease.sh, which runs this check and the Qwen runs in one call.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE=${NODE:-node}
OUT_DIR=${GPU_CHECK_OUT:-.}
args=()
for a in "$@"; do
  if [ "$a" = "--unpack" ]; then
    # shellcheck source=gpu-unpack.sh
    . scripts/gpu-unpack.sh
  else
    args+=("$a")
  fi
done
echo "== node $("$NODE" --version)"
echo "== WebGPU op, optional-feature and model tests"
"$NODE" --test --test-concurrency=1 dist/test/backend/webgpu-backend.test.js dist/test/backend/webgpu-features.test.js \
  dist/test/models/webgpu-model.test.js 2>&1 |
  grep -E '^# (tests|pass|fail|skipped)|^ *# (adapter|max|loss|largest)|# SKIP|not ok|error:' || true
echo "== benchmarks"
"$NODE" scripts/gpu-bench.mjs --out "$OUT_DIR/gpu-bench.json" ${args[@]+"${args[@]}"}
