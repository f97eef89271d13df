/**
 * Keys accepted so TinyZero's scripts parse but with no effect in this single-process CPU/WebGPU
 * design, each with the reason. The trainer warns when one is set away from its default.
 */
export interface IgnoredKey {
  /** dotted path; a trailing `.*` covers a whole section */
  key: string;
  reason: string;
}

const FSDP = 'one process holds the whole model: no FSDP sharding, wrapping or offload';
const SP = 'no sequence parallelism: one process';
const VLLM = 'vLLM engine setting; generation uses the built-in KV-cache generator';
const PYTHON = 'no Python code is imported or run';

export const IGNORED_KEYS: readonly IgnoredKey[] = [
  { key: 'data.tokenizer', reason: 'unused in veRL too: the tokenizer comes from actor_rollout_ref.model.path' },
  { key: 'data.return_raw_input_ids', reason: 'only for a model reward model with another tokenizer (not supported)' },
  { key: 'data.return_raw_chat', reason: 'only for a model reward model chat-template switch (not supported)' },
  { key: 'actor_rollout_ref.hybrid_engine', reason: 'actor and rollout always share one set of weights here' },
  { key: 'actor_rollout_ref.model.external_lib', reason: PYTHON },
  { key: 'actor_rollout_ref.model.trust_remote_code', reason: PYTHON },
  { key: 'actor_rollout_ref.actor.strategy', reason: FSDP },
  { key: 'actor_rollout_ref.actor.fsdp_config.*', reason: FSDP },
  { key: 'actor_rollout_ref.actor.ulysses_sequence_parallel_size', reason: SP },
  { key: 'actor_rollout_ref.ref.fsdp_config.*', reason: FSDP },
  { key: 'actor_rollout_ref.ref.ulysses_sequence_parallel_size', reason: SP },
  { key: 'actor_rollout_ref.rollout.dtype', reason: 'the engine computes in float32' },
  { key: 'actor_rollout_ref.rollout.gpu_memory_utilization', reason: VLLM },
  { key: 'actor_rollout_ref.rollout.enforce_eager', reason: VLLM },
  { key: 'actor_rollout_ref.rollout.free_cache_engine', reason: 'the KV cache is always freed after each generation' },
  { key: 'actor_rollout_ref.rollout.load_format', reason: VLLM },
  { key: 'actor_rollout_ref.rollout.tensor_model_parallel_size', reason: 'no tensor parallelism: one process' },
  { key: 'actor_rollout_ref.rollout.max_num_batched_tokens', reason: `${VLLM}; chunk generation with rollout.micro_batch_size` },
  { key: 'actor_rollout_ref.rollout.max_num_seqs', reason: `${VLLM}; chunk generation with rollout.micro_batch_size` },
  { key: 'critic.strategy', reason: FSDP },
  { key: 'critic.model.external_lib', reason: PYTHON },
  { key: 'critic.model.trust_remote_code', reason: PYTHON },
  { key: 'critic.model.fsdp_config.*', reason: FSDP },
  { key: 'critic.ulysses_sequence_parallel_size', reason: SP },
  { key: 'reward_model.strategy', reason: 'model reward models are not supported (reward_model.enable must be false)' },
  { key: 'reward_model.model.*', reason: 'model reward models are not supported' },
  { key: 'reward_model.micro_batch_size', reason: 'model reward models are not supported' },
  { key: 'reward_model.max_length', reason: 'model reward models are not supported' },
  { key: 'reward_model.ulysses_sequence_parallel_size', reason: 'model reward models are not supported' },
  { key: 'reward_model.use_dynamic_bsz', reason: 'model reward models are not supported' },
  { key: 'reward_model.forward_max_token_len_per_gpu', reason: 'model reward models are not supported' },
  { key: 'trainer.nnodes', reason: 'one process on one machine; use trainer.threads for CPU parallelism' },
  { key: 'trainer.n_gpus_per_node', reason: 'one process on one machine; use trainer.threads for CPU parallelism' },
  { key: 'trainer.default_hdfs_dir', reason: 'no HDFS copy; checkpoints go to trainer.default_local_dir' },
];

/** The ignored-key entry covering a dotted path, if any. */
export function ignoredKey(path: string): IgnoredKey | undefined {
  return IGNORED_KEYS.find((k) => (k.key.endsWith('.*') ? path.startsWith(k.key.slice(0, -1)) : path === k.key));
}
