#!/usr/bin/env bash
# GPU check: the adapter and its features, the WebGPU op, optional-feature (f16 weights, subgroup
# reductions) and model tests, then the benchmarks (matmul in f32 and with f16 weights, row kernels
# with and without subgroups, one Qwen2.5-0.5B-sized layer forward and backward) as JSON in
# $GPU_CHECK_OUT/gpu-bench.json.
# Usage: npm run build && scripts/gpu-check.sh [--small] [--backend vulkan|opengles]
# On a lent machine without Node.js: scripts/gpu-carry.sh here, then carry .gpu and dist and run
# `scripts/gpu-check.sh --unpack` there (unpacks node, dawn.node and the Vulkan loader from .gpu/).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE=${NODE:-node}
OUT_DIR=${GPU_CHECK_OUT:-.}
args=()
for a in "$@"; do
  if [ "$a" = "--unpack" ]; then
    mkdir -p /tmp/gpu-node node_modules/webgpu/dist/linux-x64 /tmp/vk
    xz -dc .gpu/node.xz > /tmp/gpu-node/node && chmod +x /tmp/gpu-node/node
    NODE=/tmp/gpu-node/node
    cp -r .gpu/node_modules/* node_modules/
    xz -dc .gpu/dawn.node.xz > node_modules/webgpu/dist/linux-x64/dawn.node
    for f in .gpu/*.deb; do dpkg -x "$f" /tmp/vk; done
    export LD_LIBRARY_PATH="/tmp/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    nvidia=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -f "$nvidia" ] && export VK_DRIVER_FILES="${VK_DRIVER_FILES:-$nvidia}"
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
