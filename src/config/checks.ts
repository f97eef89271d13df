/**
 * Cross-field rules, run on a config whose every leaf already has the right type. Errors are
 * the checks veRL asserts at startup or deep inside a worker (docs/verl-compat.md#trainer-setup, #update-loops, #newer-algorithms), moved before any
 * work; warnings are legal configs that probably do not do what the user means.
 */
import { normalizeServerUrl } from '../generation/remote-client.js';
import { klInReward, usesCritic, usesReferencePolicy } from './derived.js';
import type { ConfigProblem } from './errors.js';
import type { TinyZeroConfig } from './types.js';

const A = 'actor_rollout_ref.actor';
const R = 'actor_rollout_ref.rollout';
const REF = 'actor_rollout_ref.ref';

export function crossFieldErrors(c: TinyZeroConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const err = (key: string, value: number | boolean | string | null, message: string): void => {
    out.push({ key, value, message });
  };
  const actor = c.actor_rollout_ref.actor;
  const rollout = c.actor_rollout_ref.rollout;
  const ref = c.actor_rollout_ref.ref;
  const n = rollout.n;
  const tbs = c.data.train_batch_size;
  const seqLen = rollout.prompt_length + rollout.response_length;

  for (const [where, m] of [['actor_rollout_ref.model', c.actor_rollout_ref.model], ['critic.model', c.critic.model]] as const) {
    if (m.lora_rank > 0 && (m.lora_alpha === 0 || !Number.isFinite(m.lora_alpha))) {
      err(`${where}.lora_alpha`, m.lora_alpha, 'must be a non-zero number when lora_rank > 0 (updates are scaled by lora_alpha / lora_rank)');
    }
    if (m.lora_rank > 0 && typeof m.target_modules === 'string' && m.target_modules !== 'all-linear') {
      err(`${where}.target_modules`, m.target_modules, 'must be all-linear or a list of module names such as [q_proj,v_proj]');
    }
  }

  // Mini-batches split the step's responses evenly (veRL: real_train_batch_size % minimal_bsz).
  if ((tbs * n) % (actor.ppo_mini_batch_size * n) !== 0) {
    err(`${A}.ppo_mini_batch_size`, actor.ppo_mini_batch_size,
      `data.train_batch_size × rollout.n (${tbs} × ${n}) must be divisible by ppo_mini_batch_size × rollout.n (${actor.ppo_mini_batch_size} × ${n})`);
  }
  microBatch(out, A, actor.ppo_mini_batch_size, actor.ppo_micro_batch_size, actor.use_dynamic_bsz);
  if (actor.use_dynamic_bsz && actor.ppo_max_token_len_per_gpu < seqLen) tokenCap(out, `${A}.ppo_max_token_len_per_gpu`, actor.ppo_max_token_len_per_gpu, seqLen);

  if (rollout.log_prob_micro_batch_size === null && !rollout.log_prob_use_dynamic_bsz) needMicro(out, `${R}.log_prob_micro_batch_size`);
  if (rollout.log_prob_use_dynamic_bsz && rollout.log_prob_max_token_len_per_gpu < seqLen) {
    tokenCap(out, `${R}.log_prob_max_token_len_per_gpu`, rollout.log_prob_max_token_len_per_gpu, seqLen);
  }
  if (usesReferencePolicy(c)) {
    if (ref.log_prob_micro_batch_size === null && !ref.log_prob_use_dynamic_bsz) needMicro(out, `${REF}.log_prob_micro_batch_size`);
    if (ref.log_prob_use_dynamic_bsz && ref.log_prob_max_token_len_per_gpu < seqLen) {
      tokenCap(out, `${REF}.log_prob_max_token_len_per_gpu`, ref.log_prob_max_token_len_per_gpu, seqLen);
    }
  }

  if (usesCritic(c)) {
    const cr = c.critic;
    if ((tbs * n) % (cr.ppo_mini_batch_size * n) !== 0) {
      err('critic.ppo_mini_batch_size', cr.ppo_mini_batch_size,
        `data.train_batch_size × rollout.n (${tbs} × ${n}) must be divisible by critic.ppo_mini_batch_size × rollout.n (${cr.ppo_mini_batch_size} × ${n})`);
    }
    microBatch(out, 'critic', cr.ppo_mini_batch_size, cr.ppo_micro_batch_size, cr.use_dynamic_bsz);
    if (cr.forward_micro_batch_size === null && !cr.use_dynamic_bsz) needMicro(out, 'critic.forward_micro_batch_size');
    if (cr.use_dynamic_bsz) {
      if (cr.ppo_max_token_len_per_gpu < seqLen) tokenCap(out, 'critic.ppo_max_token_len_per_gpu', cr.ppo_max_token_len_per_gpu, seqLen);
      if (cr.forward_max_token_len_per_gpu < seqLen) tokenCap(out, 'critic.forward_max_token_len_per_gpu', cr.forward_max_token_len_per_gpu, seqLen);
    }
  }

  if (c.algorithm.adv_estimator === 'rloo' && n < 2) {
    err(`${R}.n`, n, "adv_estimator 'rloo' needs rollout.n ≥ 2 (its baseline is the mean of the other samples)");
  }
  const fg = c.algorithm.filter_groups;
  if (fg.enable) {
    if (fg.metric === null) err('algorithm.filter_groups.metric', null, "filter_groups.enable needs a metric: 'acc' | 'score' | 'seq_reward' | 'seq_final_reward'");
    const gen = c.data.gen_batch_size;
    if (gen !== null && gen < tbs) err('data.gen_batch_size', gen, `must be ≥ data.train_batch_size (${tbs}) with filter_groups`);
  }
  const ob = c.reward_model.overlong_buffer;
  if (ob.enable && (ob.len < 1 || ob.len > rollout.response_length)) {
    err('reward_model.overlong_buffer.len', ob.len, `must be in 1..rollout.response_length (${rollout.response_length}) when overlong_buffer.enable`);
  }
  remoteRolloutErrors(c, err);
  if (c.reward_model.enable) {
    err('reward_model.enable', true, 'model-based reward models are not supported; rewards come from the task (data_source) rule functions');
  }
  return out;
}

/** rollout.name and server_urls agree, the URLs parse, and the servers' kind can load the weights this run trains. */
function remoteRolloutErrors(c: TinyZeroConfig, err: (key: string, value: number | boolean | string | null, message: string) => void): void {
  const r = c.actor_rollout_ref.rollout;
  const urls = r.server_urls;
  if (r.name === 'sglang' && urls.length === 0) {
    err(`${R}.name`, r.name, `generates on SGLang servers: set ${R}.server_urls=[http://host:port,...] (docs/distributed.md)`);
  }
  if (r.name === 'hf' && urls.length > 0) {
    err(`${R}.server_urls`, urls.join(','), `the hf rollout is the built-in generator; servers need ${R}.name=vllm or sglang`);
  }
  const seen = new Set<string>();
  for (const raw of urls) {
    try {
      const url = normalizeServerUrl(raw);
      if (seen.has(url)) err(`${R}.server_urls`, raw, 'is listed twice');
      seen.add(url);
    } catch (e) {
      err(`${R}.server_urls`, raw, (e as Error).message);
    }
  }
  if (urls.length === 0 || r.name === 'hf') return;
  const lora = c.actor_rollout_ref.model.lora_rank > 0;
  if (r.name === 'vllm' && !lora) {
    err(`${R}.name`, r.name, "vLLM's OpenAI server has no endpoint that reloads full weights from disk, so a full fine-tune cannot update it; " +
      `train LoRA (actor_rollout_ref.model.lora_rank > 0, pushed with /v1/load_lora_adapter) or use ${R}.name=sglang (docs/distributed.md)`);
  }
  if (r.name === 'sglang' && lora) {
    err(`${R}.name`, r.name, `LoRA adapters are pushed with vLLM's /v1/load_lora_adapter; with LoRA use ${R}.name=vllm (vLLM or tinyzero serve), or train without LoRA on SGLang (docs/distributed.md)`);
  }
}

function microBatch(out: ConfigProblem[], at: string, mini: number, micro: number | null, dynamic: boolean): void {
  if (micro === null) {
    if (!dynamic) needMicro(out, `${at}.ppo_micro_batch_size`);
    return;
  }
  // veRL asserts this even with dynamic bsz: the ratio is the gradient-accumulation count
  if (mini % micro !== 0) {
    out.push({ key: `${at}.ppo_micro_batch_size`, value: micro, message: `must divide ${at}.ppo_mini_batch_size (${mini})` });
  }
}

function needMicro(out: ConfigProblem[], key: string): void {
  out.push({ key, value: null, message: 'needs a micro-batch size unless the matching use_dynamic_bsz is true' });
}

function tokenCap(out: ConfigProblem[], key: string, value: number, seqLen: number): void {
  out.push({ key, value, message: `must be ≥ prompt_length + response_length (${seqLen}): one sequence must fit a micro-batch` });
}

export function crossFieldWarnings(c: TinyZeroConfig): string[] {
  const out: string[] = [];
  const actor = c.actor_rollout_ref.actor;
  const rollout = c.actor_rollout_ref.rollout;
  const est = c.algorithm.adv_estimator;
  if ((est === 'grpo' || est === 'reinforce_plus_plus_baseline') && rollout.n < 2) {
    out.push(`${est} with rollout.n=1: every group has one sample (${est === 'grpo' ? 'advantage = raw score' : 'advantage = 0, nothing is learned'}); set rollout.n > 1`);
  }
  if (est === 'grpo' && !actor.use_kl_loss && klInReward(c) && usesReferencePolicy(c)) {
    out.push('grpo without actor.use_kl_loss: the per-token KL penalty is summed into the outcome score before group normalisation (docs/verl-compat.md#grpo-kl-in-score); GRPO usually sets actor.use_kl_loss=True');
  }
  if (actor.use_kl_loss && c.algorithm.use_kl_in_reward === true) {
    out.push('both algorithm.use_kl_in_reward and actor.use_kl_loss are on: KL is penalised twice');
  }
  if (c.trainer.critic_warmup > 0 && !usesCritic(c)) {
    out.push(`trainer.critic_warmup=${c.trainer.critic_warmup} has no effect: adv_estimator '${est}' uses no critic`);
  }
  if (c.trainer.val_only && !c.trainer.val_before_train) {
    out.push('trainer.val_only=True only acts with trainer.val_before_train=True (as in veRL); training will run');
  }
  if (rollout.n > 1 && (!rollout.do_sample || rollout.temperature === 0)) {
    out.push(`rollout.n=${rollout.n} with greedy decoding: the n responses of a prompt are identical`);
  }
  if (actor.loss_scale_factor !== null && actor.loss_agg_mode !== 'seq-mean-token-sum-norm') {
    out.push(`actor.loss_scale_factor is used only by loss_agg_mode 'seq-mean-token-sum-norm' (now '${actor.loss_agg_mode}')`);
  }
  if (rollout.prompt_length !== c.data.max_prompt_length || rollout.response_length !== c.data.max_response_length) {
    out.push('rollout.prompt_length/response_length differ from data.max_prompt_length/max_response_length; veRL links them');
  }
  return out;
}
