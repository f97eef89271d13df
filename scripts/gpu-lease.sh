#!/usr/bin/env bash
# Everything a lent GPU machine without Node.js runs, in one call, within about 9 minutes:
# unpacks .gpu/ (scripts/gpu-unpack.sh), writes the random Qwen2.5 models and the data on the CPUs
# while the GPU runs scripts/gpu-check.sh, then scripts/gpu-decode-probe.mjs and
# scripts/gpu-step-profile.mjs on the 0.5B model, then scripts/gpu-qwen-run.sh on those models
# (8 files come back, the most a call returns; lease.log holds nvidia-smi's view and the adapter's). Each
# part has its own time limit, so one that overruns still leaves the others' results. Logs and JSON
# go to $OUT (the device tool's folder; default ./gpu-out).
# Here, first: npm run build && scripts/gpu-carry.sh; then the device call carries .gpu and dist and
# runs `scripts/gpu-lease.sh`. Limits in seconds: INIT_LIMIT (200), CHECK_LIMIT (150), PROBE_LIMIT
# (60 per probe), STEP_LIMIT (90), TRAIN_LIMIT (130 per training run). LEASE_QWEN_ARGS=--skip-3b
# leaves out the 3B model (its init-model alone takes 150 s); PROBE_BEFORE_DIST=DIR and
# STEP_BEFORE_DIST=DIR (another build's dist, carried too) make the decoding probe and the step
# profile before/after pairs; PROBE_VARIANT_ARGS adds to each pair a run of this build with those
# probe arguments (e.g. '--batch-limit 256'); PAIR_ROUNDS (2) is how many times each pair runs. A rehearsal without a GPU (it
# unpacks into node_modules/ and /tmp like the real one; run it in a copy of the repository without
# node_modules):
#   LEASE_CHECK_ARGS=--small LEASE_QWEN_ARGS='--layers 1 --small' OUT=/tmp/lease-out scripts/gpu-lease.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export GPU_CHECK_OUT=$OUT WORK=/tmp/tz-gpu-qwen
. scripts/gpu-unpack.sh
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1 | tee "$OUT/lease.log"
# No adapter, no point in the rest: say what the loader saw and stop (the lease's time is short).
if ! VK_LOADER_DEBUG=error,warn "$NODE" --input-type=module -e "
  const { createNodeWebGpuBackend } = await import('./dist/src/backend/webgpu/node.js');
  const be = await createNodeWebGpuBackend();
  if (!be) process.exit(1);
  console.log('adapter:', JSON.stringify({ ...be.adapter, limits: undefined }));
  be.destroy();" 2>&1 | tee -a "$OUT/lease.log"; then
  echo "gpu-lease: no WebGPU adapter; the driver's files:"
  ls -la /usr/local/nvidia/lib64 2>&1 | grep -iE 'vulkan|glx|egl|dispatch' | head -20
  for l in /usr/local/nvidia/lib64/libGLX_nvidia.so.0 /usr/local/nvidia/lib64/libEGL_nvidia.so.0; do ldd "$l" 2>&1 | grep -E 'not found|=>' | head -20; done
  ls -la /dev/nvidia* 2>&1 | head; cat "${VK_DRIVER_FILES:-/dev/null}"
  exit 3
fi
t0=$(date +%s)
timeout "${INIT_LIMIT:-200}" scripts/gpu-qwen-run.sh --init-only ${LEASE_QWEN_ARGS:-} > "$OUT/init.log" 2>&1 &
init_pid=$!
timeout "${CHECK_LIMIT:-150}" scripts/gpu-check.sh ${LEASE_CHECK_ARGS:-} 2>&1 | tee "$OUT/gpu-check.log"
echo "== gpu-check done at $(( $(date +%s) - t0 )) s; waiting for init-model"
wait "$init_pid"; echo "init exited $? at $(( $(date +%s) - t0 )) s"; tail -n 5 "$OUT/init.log"
# Runs the function $1 once, or, with $2 (another build's dist, carried) set, as a before/after pair
# PAIR_ROUNDS times in alternation, adding a run with the arguments $4 to each pair where given; every
# run's JSON goes to /tmp/$3 and then all of them, as { runs }, to $OUT/$3.json.
paired() {
  local run=$1 before=$2 name=$3 variant=$4
  mkdir -p "/tmp/$name"
  if [ -n "$before" ]; then
    for i in $(seq "${PAIR_ROUNDS:-2}"); do
      echo "== $name $i, before ($before)"; $run --dist "$before" --out "/tmp/$name/before-$i.json"
      echo "== $name $i, after"; $run --out "/tmp/$name/after-$i.json"
      if [ -n "$variant" ]; then echo "== $name $i, after with $variant"; $run $variant --out "/tmp/$name/variant-$i.json"; fi
    done
  else
    $run --out "/tmp/$name/after-1.json"
  fi
  "$NODE" -e "
    const fs = require('node:fs');
    const runs = fs.readdirSync('/tmp/$name').sort().map((f) => ({ file: f, ...JSON.parse(fs.readFileSync('/tmp/$name/' + f, 'utf8')) }));
    fs.writeFileSync('$OUT/$name.json', JSON.stringify({ runs }, null, 2) + '\n');" || true
}
# Where a decoding step's time goes (host issuing against device work, and kernel by kernel), on
# the 0.5B model.
probe() {
  timeout "${PROBE_LIMIT:-60}" "$NODE" scripts/gpu-decode-probe.mjs --model "$WORK/Qwen2.5-0.5B" --batch 64 --prompt-len 40 \
    --new-tokens 48 "$@" 2>&1 | grep -E 'IssueMs|WaitMs|tokensPerSecond|deviceMsPerStep|Error' || true
}
paired probe "${PROBE_BEFORE_DIST:-}" decode-probe "${PROBE_VARIANT_ARGS:-}"
# Where an update's device time goes: one micro-batch of 4 x 256 tokens of the 0.5B model, forward,
# log-probs through the chunked output layer, backward, gradient norm and AdamW, kernel by kernel.
profile() {
  timeout "${STEP_LIMIT:-90}" "$NODE" scripts/gpu-step-profile.mjs --model "$WORK/Qwen2.5-0.5B" --batch 4 --seq 256 --fused \
    "$@" 2>&1 | grep -E '"(bestStepMs|tflops|profiledDeviceMs|peakBytesInUse)"|Error' || true
}
paired profile "${STEP_BEFORE_DIST:-}" step-profile ""
TRAIN_TIMEOUT=${TRAIN_LIMIT:-130} scripts/gpu-qwen-run.sh --no-init ${LEASE_QWEN_ARGS:-} 2>&1 | tee "$OUT/gpu-qwen.log"
echo "== lease done at $(( $(date +%s) - t0 )) s"
