#!/usr/bin/env bash
# Qwen2.5 on a GPU, within about 8 minutes: init-model 0.5B and 3B (random weights, hub layout),
# two GRPO steps of examples/countdown-qwen2.5-0.5b.yaml shrunk to fit the time (full fine-tune of
# the 0.5B model on WebGPU), two GRPO steps of examples/countdown-qwen2.5-3b.yaml shrunk likewise with
# LoRA (r 16, alpha 32, every linear layer) on an f16 base, then a summary as JSON: generation
# tokens/s, update TFLOP/s, peak device memory (nvidia-smi, sampled) and the adapter's features.
# Usage: npm run build && scripts/gpu-qwen-run.sh [--device webgpu|cpu] [--layers N] [--skip-3b]
#          [--train-model DIR] [--lora-model DIR] [--small] [--init-only | --no-init]
#   --small: the CPU dry run's batch sizes (2 prompts x 2 samples, 16 tokens) on any device, e.g. a
#   software WebGPU adapter with --layers 1.
#   --init-only writes the models and the data and stops; --no-init uses those already in $WORK (so
#   a lease can write them on the CPUs while the GPU runs scripts/gpu-check.sh: scripts/gpu-lease.sh).
#   TRAIN_TIMEOUT=S stops each training run after S seconds (the summary keeps the steps it logged).
#   A dry run of the plumbing without a GPU (its figures mean nothing; the CPU backend cannot train a
#   model with Qwen's 151,936-row vocabulary, so another model folder stands in for the GRPO steps):
#   scripts/gpu-qwen-run.sh --device cpu --layers 1 --train-model assets/models/countdown-base --lora-model assets/models/countdown-base
# Output: $GPU_CHECK_OUT/gpu-qwen.json (default .), models and run folders under $WORK (default /tmp/tz-gpu-qwen).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE=${NODE:-node}
OUT_DIR=${GPU_CHECK_OUT:-.}
WORK=${WORK:-/tmp/tz-gpu-qwen}
device=webgpu
layers=()
skip3b=0
train_model=
lora_model=
stage=all
small=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --layers) layers=(--layers "$2"); shift 2 ;;
    --skip-3b) skip3b=1; shift ;;
    --train-model) train_model=$2; shift 2 ;;
    --lora-model) lora_model=$2; shift 2 ;;
    --small) small=1; shift ;;
    --init-only) stage=init; shift ;;
    --no-init) stage=train; shift ;;
    *) echo "gpu-qwen-run: unknown option $1" >&2; exit 2 ;;
  esac
done
tz() { "$NODE" dist/src/cli/main.js "$@"; }
now() { date +%s%N; }
since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); } # milliseconds

if [ "$stage" != train ]; then
  rm -rf "$WORK" && mkdir -p "$WORK"
  # The two models are written side by side (init-model runs on one core each).
  init_3b() {
    echo "== init-model qwen2.5-3b"
    local t0; t0=$(now); tz init-model --config qwen2.5-3b ${layers[@]+"${layers[@]}"} --out "$WORK/Qwen2.5-3B" >/dev/null
    echo "$(since "$t0")" > "$WORK/init-3b.ms"
  }
  pid3=
  if [ "$skip3b" = 0 ]; then init_3b & pid3=$!; fi
  echo "== init-model qwen2.5-0.5b"
  t0=$(now); tz init-model --config qwen2.5-0.5b ${layers[@]+"${layers[@]}"} --out "$WORK/Qwen2.5-0.5B" >/dev/null
  echo "$(since "$t0")" > "$WORK/init-0.5b.ms"
  echo "== data countdown"
  tz data countdown --out "$WORK/countdown" --train-size 1024 --test-size 64 >/dev/null # 2 steps need few rows
  if [ -n "$pid3" ]; then wait "$pid3"; fi
  [ "$stage" = init ] && exit 0
fi
mkdir -p "$OUT_DIR"
for f in "$WORK/Qwen2.5-0.5B/config.json" "$WORK/countdown/train.parquet"; do
  [ -f "$f" ] || { echo "gpu-qwen-run: $f is missing: run with --init-only first, or without --no-init" >&2; exit 2; }
done

# Peak device memory as the driver sees it (the whole process, Dawn's pools included), per run.
smi_pid=
mem_start() {
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader,nounits -lms 500 > "$1" 2>/dev/null &
    smi_pid=$!
  fi
}
mem_stop() { if [ -n "$smi_pid" ]; then kill "$smi_pid" 2>/dev/null || true; smi_pid=; fi; }
trap mem_stop EXIT
# One training run: its exit status is reported, not fatal, so a run stopped by TRAIN_TIMEOUT still
# leaves its logged steps to the summary.
train() {
  local rc=0
  if [ -n "${TRAIN_TIMEOUT:-}" ]; then
    timeout "$TRAIN_TIMEOUT" "$NODE" dist/src/cli/main.js train "$@" > "$WORK/train.log" 2>&1 || rc=$?
  else
    "$NODE" dist/src/cli/main.js train "$@" > "$WORK/train.log" 2>&1 || rc=$?
  fi
  grep -v '^\[progress\]' "$WORK/train.log" | tail -n 20
  [ "$rc" = 0 ] || echo "gpu-qwen-run: train exited with status $rc"
}
data=(data.train_files="$WORK/countdown/train.parquet" data.val_files="$WORK/countdown/test.parquet")
# A token budget of 1,024 (the examples set 2,048, in a WebGPU buffer's 2 GiB: their comment says
# why) keeps a micro-batch's logits at 0.6 GB; the log-prob passes' budgets follow the actor's.
common=(algorithm.adv_estimator=grpo actor_rollout_ref.actor.ppo_max_token_len_per_gpu=1024 trainer.total_training_steps=2 trainer.save_freq=-1 trainer.test_freq=-1
  trainer.val_before_train=false trainer.logger='[console,jsonl]' trainer.device="$device")

model05=${train_model:-$WORK/Qwen2.5-0.5B}
echo "== 2 GRPO steps, full fine-tune of $model05 ($device)"
run05="$WORK/run-0.5b"
if [ "$device" = cpu ] || [ "$small" = 1 ]; then shrink=(data.train_batch_size=2 actor_rollout_ref.rollout.n=2 data.max_response_length=16 actor_rollout_ref.actor.ppo_mini_batch_size=2)
else shrink=(data.train_batch_size=16 actor_rollout_ref.rollout.n=4 data.max_response_length=256 actor_rollout_ref.actor.ppo_mini_batch_size=16); fi
rm -rf "$run05"
mem_start "$WORK/smi-0.5b.csv"
t0=$(now)
train --config examples/countdown-qwen2.5-0.5b.yaml \
  actor_rollout_ref.model.path="$model05" critic.model.path="$model05" "${data[@]}" "${common[@]}" \
  "${shrink[@]}" actor_rollout_ref.actor.ppo_micro_batch_size=2 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size=8 actor_rollout_ref.ref.log_prob_micro_batch_size=8 \
  trainer.default_local_dir="$run05"
train05=$(since "$t0")
mem_stop

# 3B with LoRA, as veRL's LoRA keys: the reference policy is the same f16 base with the adapters off.
lora=(--lora-skipped "--skip-3b was given")
if [ "$skip3b" = 0 ]; then
  model3=${lora_model:-$WORK/Qwen2.5-3B}
  echo "== 2 GRPO steps, LoRA r 16 on an f16 $model3 ($device)"
  run3="$WORK/run-3b-lora"
  if [ "$device" = cpu ] || [ "$small" = 1 ]; then shrink3=(data.train_batch_size=2 actor_rollout_ref.rollout.n=2 data.max_response_length=16 actor_rollout_ref.actor.ppo_mini_batch_size=2 actor_rollout_ref.actor.ppo_micro_batch_size=2)
  else shrink3=(data.train_batch_size=8 actor_rollout_ref.rollout.n=4 data.max_response_length=128 actor_rollout_ref.actor.ppo_mini_batch_size=8 actor_rollout_ref.actor.ppo_micro_batch_size=4); fi
  rm -rf "$run3"
  mem_start "$WORK/smi-3b.csv"
  t0=$(now)
  train --config examples/countdown-qwen2.5-3b.yaml \
    actor_rollout_ref.model.path="$model3" critic.model.path="$model3" "${data[@]}" "${common[@]}" "${shrink3[@]}" \
    actor_rollout_ref.model.lora_rank=16 actor_rollout_ref.model.lora_alpha=32 trainer.frozen_weight_dtype=f16 \
    actor_rollout_ref.rollout.log_prob_micro_batch_size=8 \
    actor_rollout_ref.ref.log_prob_micro_batch_size=8 trainer.default_local_dir="$run3"
  lora=(--lora-run "$run3" --lora-model "$model3" --lora-mem-log "$WORK/smi-3b.csv" --train-3b-ms "$(since "$t0")")
  mem_stop
fi

ms() { if [ -f "$1" ]; then cat "$1"; else echo null; fi; }
"$NODE" scripts/gpu-qwen-summary.mjs --device "$device" --run "$run05" --model "$model05" --mem-log "$WORK/smi-0.5b.csv" \
  --init-05b-ms "$(ms "$WORK/init-0.5b.ms")" --init-3b-ms "$(ms "$WORK/init-3b.ms")" --train-05b-ms "$train05" \
  "${lora[@]}" --out "$OUT_DIR/gpu-qwen.json"
