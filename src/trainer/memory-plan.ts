/**
 * The memory plan: before any weight is loaded, what a run needs on its backend (weights by dtype,
 * gradients, AdamW moments, the largest micro-batch's activations, the rollout's KV cache), as a
 * pure function of the model config, the run config and the backend's limits. The trainer prints
 * it at start-up and refuses a run that cannot fit, saying what would.
 *
 * The phases of a step do not overlap in time (generation, then log-probs, then the update), so
 * the peak is what stays resident (weights, gradients, moments) plus the largest phase. Activation
 * figures count what the autograd graph keeps per token and the backward's transients; the plan is
 * meant to be within tens of percent, and errs high.
 */
import type { TinyZeroConfig } from '../config/types.js';
import { usesCritic, usesReferencePolicy } from '../config/derived.js';
import type { ModelConfig } from '../models/config.js';
import { countParameters } from '../models/load.js';
import { fusedChunkRows } from './forward.js';

export interface BackendLimits {
  name: string;
  /** Most bytes the backend holds at once (the CPU's 4 GiB wasm memory); undefined when unknown. */
  capacityBytes?: number;
  /** Largest single buffer (WebGPU: the smaller of maxBufferSize and maxStorageBufferBindingSize); undefined when unlimited or unknown. */
  maxBufferBytes?: number;
  /** The adapter limit maxBufferBytes comes from (default maxBufferSize). */
  maxBufferLimit?: string;
  /** What frozen weights are stored in. */
  weightDtype: 'f32' | 'f16';
}

export interface PlanRow {
  item: string;
  bytes: number;
}

export interface MemoryPlan {
  rows: PlanRow[];
  /** Resident bytes plus the largest phase. */
  peakBytes: number;
  /** The largest single tensor (checked against maxBufferBytes). */
  largestBufferBytes: number;
  /** Null when it fits; otherwise the reason in one line. */
  problem: string | null;
}

/** Parameters of the Linear weights LoRA can adapt (all-linear: everything but the output layer), and of one adapter set. */
function loraParams(c: ModelConfig, rank: number, targets: string | string[]): number {
  const { hidden_size: h, intermediate_size: i, num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D } = c;
  const shapes: Record<string, [number, number]> = {
    q_proj: [h, H * D], k_proj: [h, Hkv * D], v_proj: [h, Hkv * D], o_proj: [H * D, h],
    gate_proj: [h, i], up_proj: [h, i], down_proj: [i, h],
  };
  const names = targets === 'all-linear' ? Object.keys(shapes) : (Array.isArray(targets) ? targets : [targets]);
  let per = 0;
  for (const n of names) {
    const s = shapes[n];
    if (s) per += rank * (s[0] + s[1]);
  }
  return per * c.num_hidden_layers;
}

/**
 * Parameters stored in the frozen weight dtype when frozen: the matrices (embeddings, projections,
 * lm_head). A value model has no lm_head, and its head stays f32.
 */
function matrixParams(c: ModelConfig, head: 'lm' | 'value' = 'lm'): number {
  const { hidden_size: h, intermediate_size: i, num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D, vocab_size: V } = c;
  const layer = h * H * D + 2 * h * Hkv * D + H * D * h + 3 * h * i;
  return V * h * (head === 'lm' && !c.tie_word_embeddings ? 2 : 1) + c.num_hidden_layers * layer;
}

/** Output widths of the Linear layers of one decoder layer, by HF module name. */
function linearWidths(c: ModelConfig): Record<string, number> {
  const { hidden_size: h, intermediate_size: i, num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D } = c;
  return { q_proj: H * D, k_proj: Hkv * D, v_proj: Hkv * D, o_proj: h, gate_proj: i, up_proj: i, down_proj: h };
}

/**
 * Floats kept per token per layer by a training forward (every op's output lives until the
 * micro-batch's backward is done): the norms, q/k/v (twice with Qwen2's biases) and their rotated
 * copies, attention, the MLP's gate, up and SwiGLU product (silu(gate) is not kept: the fused
 * swiglu recomputes it in its backward), residuals; with LoRA, per adapted layer
 * the rank-r intermediate twice (before and after the scale), the update and the sum.
 */
function activationFloatsPerToken(c: ModelConfig, loraRank: number, targets: string | string[]): number {
  const { hidden_size: h, intermediate_size: i, num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D } = c;
  const qkv = H * D + 2 * Hkv * D;
  const bias = c.model_type === 'qwen2' || c.attention_bias ? 2 : 1;
  const attn = qkv * bias + (H * D + Hkv * D) + H * D;
  const mlp = 3 * i;
  let lora = 0;
  if (loraRank > 0) {
    const widths = linearWidths(c);
    const names = targets === 'all-linear' ? Object.keys(widths) : Array.isArray(targets) ? targets : [targets];
    for (const n of names) if (widths[n] !== undefined) lora += 2 * loraRank + 2 * widths[n]!;
  }
  return 6 * h + attn + mlp + lora;
}

/**
 * The largest micro-batch of a pass: the token positions its forward runs (`tokens`) and the rows of
 * its vocabulary-wide head (`headRows`). Padded, a micro-batch of r rows runs r x S positions and
 * r x R head rows. Packed (use_remove_padding), only valid tokens run and the head only on the
 * positions that predict a response token; a fixed-size micro-batch can still be all valid, but with
 * a token budget (use_dynamic_bsz) no micro-batch holds more valid tokens than the budget
 * (micro-batches.ts), and each head row is one of them. Padded with a budget, the rows are balanced
 * by valid tokens yet run padded: a micro-batch can take as many rows as have a valid token each
 * (at least one) within the budget, up to the whole pass.
 */
export interface MicroBatchSize {
  tokens: number;
  headRows: number;
  label: string;
}

export function microBatchSize(passRows: number, fixedRows: number | null, budget: number, removePadding: boolean,
  P: number, R: number): MicroBatchSize {
  const S = P + R;
  if (fixedRows !== null) return { tokens: fixedRows * S, headRows: fixedRows * R, label: `${fixedRows} rows` };
  if (removePadding) {
    return { tokens: Math.min(budget, passRows * S), headRows: Math.min(budget, passRows * R), label: `<= ${Math.min(budget, passRows * S)} packed tokens` };
  }
  const rows = Math.min(passRows, budget);
  return { tokens: rows * S, headRows: rows * R, label: `<= ${rows} rows` };
}

/** Bytes of a log-prob forward: without gradients each layer's intermediates are freed after it (models/llama.ts), so one layer counts. */
function logProbBytes(model: ModelConfig, layerFloats: number, mb: MicroBatchSize, headWidth = model.vocab_size): number {
  return mb.tokens * (layerFloats + model.hidden_size * 2 * model.num_hidden_layers) * 4 + mb.headRows * headWidth * 4 * 2;
}

/**
 * Floats per token of the gradients a layer's backward holds at once beside the saved activations,
 * the larger of its two blocks: in the MLP the gradients of gate and up (i wide each), in attention
 * those of q, k and v; in both, the residual stream's gradient and the one being formed (h each).
 */
function backwardFloatsPerToken(c: ModelConfig): number {
  const { hidden_size: h, intermediate_size: i, num_attention_heads: H, num_key_value_heads: Hkv, head_dim: D } = c;
  return Math.max(2 * i, H * D + 2 * Hkv * D) + 2 * h;
}

/**
 * Floats of the largest weight gradient formed whole before it is added into the weight's `.grad`:
 * an adapter factor with LoRA, else the vocabulary table. A tied table's two gradients (the lm_head's,
 * held until the embedding's backward, and the embedding's scatter into a zeroed table) meet with
 * their sum, so three tables are counted.
 */
function weightGradientFloats(c: ModelConfig, loraRank: number, targets: string | string[], head: 'lm' | 'value' = 'lm'): number {
  if (loraRank > 0) {
    const widths = linearWidths(c);
    const names = targets === 'all-linear' ? Object.keys(widths) : Array.isArray(targets) ? targets : [targets];
    const inWidths: Record<string, number> = { o_proj: c.num_attention_heads * c.head_dim, down_proj: c.intermediate_size };
    return loraRank * Math.max(0, ...names.filter((n) => widths[n] !== undefined).map((n) => Math.max(widths[n]!, inWidths[n] ?? c.hidden_size)));
  }
  const table = c.vocab_size * c.hidden_size;
  // A value model's embedding is its only table (its scatter-added gradient; the value head is one column).
  return Math.max(head === 'lm' && c.tie_word_embeddings ? 3 * table : table, c.hidden_size * c.intermediate_size);
}

/**
 * Bytes of a training micro-batch above the weights and gradients at its peak, in its backward: what
 * the autograd graph keeps until the backward is done (every op's output, the logits), plus the
 * backward's own transients (a layer's gradients, the logits' gradient, the largest weight gradient
 * before it is accumulated). Each transient is counted as if all were alive together, so the figure
 * errs high (test/trainer/memory-plan-packed.test.ts measures by how much).
 */
export function updateActivationBytes(model: ModelConfig, mb: MicroBatchSize, loraRank: number, targets: string | string[], checkpointing = false,
  head: 'lm' | 'value' = 'lm'): number {
  const layer = activationFloatsPerToken(model, loraRank, targets);
  // With enable_gradient_checkpointing the graph keeps each layer's output, and in the backward one
  // layer's recomputed intermediates at a time, and its input's gradient (a copy, as a leaf's .grad).
  const layers = checkpointing ? model.hidden_size * (model.num_hidden_layers + 1) + layer : layer * model.num_hidden_layers;
  const perToken = layers + model.hidden_size * 2 + backwardFloatsPerToken(model);
  // The head's outputs and their gradient: vocabulary-wide logits, or one value a row.
  const headWidth = head === 'lm' ? model.vocab_size : 1;
  return mb.tokens * perToken * 4 + mb.headRows * headWidth * 4 * 2 + weightGradientFloats(model, loraRank, targets, head) * 4;
}

/** The keys that size an update's micro-batches, the actor's and the critic's alike. */
type UpdateBatchKeys = Pick<TinyZeroConfig['critic'], 'ppo_mini_batch_size' | 'ppo_micro_batch_size' | 'use_dynamic_bsz' | 'ppo_max_token_len_per_gpu'>;

export function memoryPlan(model: ModelConfig, critic: ModelConfig | null, config: TinyZeroConfig, limits: BackendLimits): MemoryPlan {
  const arr = config.actor_rollout_ref;
  const n = arr.rollout.n;
  const P = arr.rollout.prompt_length, R = arr.rollout.response_length, S = P + R;
  const half = limits.weightDtype === 'f16' ? 2 : 4;
  const rank = arr.model.lora_rank;
  const all = countParameters(model, 'lm');
  const matrices = matrixParams(model);
  const rows: PlanRow[] = [];
  let trainable: number;
  if (rank > 0) {
    const adapters = loraParams(model, rank, arr.model.target_modules);
    rows.push({ item: `actor base (frozen, ${limits.weightDtype} matrices)`, bytes: matrices * half + (all - matrices) * 4 });
    rows.push({ item: `actor LoRA adapters (r=${rank}, f32)`, bytes: adapters * 4 });
    trainable = adapters;
  } else {
    rows.push({ item: 'actor weights (f32)', bytes: all * 4 });
    trainable = all;
  }
  rows.push({ item: 'actor gradients (f32)', bytes: trainable * 4 });
  rows.push({ item: 'actor AdamW moments (f32)', bytes: trainable * 8 });
  if (usesReferencePolicy(config)) {
    rows.push({ item: rank > 0 ? 'reference (the base, adapters off)' : `reference (frozen, ${limits.weightDtype} matrices)`,
      bytes: rank > 0 ? 0 : matrices * half + (all - matrices) * 4 });
  }
  if (critic && usesCritic(config)) {
    const cp = countParameters(critic, 'value');
    const criticRank = config.critic.model.lora_rank;
    if (criticRank > 0) {
      // The backbone frozen, the adapters and the value head (hidden + 1, PEFT's modules_to_save) trained.
      const cm = matrixParams(critic, 'value');
      const trained = loraParams(critic, criticRank, config.critic.model.target_modules) + critic.hidden_size + 1;
      rows.push({ item: `critic base (frozen, ${limits.weightDtype} matrices)`, bytes: cm * half + (cp - cm - critic.hidden_size - 1) * 4 });
      rows.push({ item: `critic LoRA adapters (r=${criticRank}) + value head, f32`, bytes: trained * 4 });
      rows.push({ item: 'critic gradients, moments (f32)', bytes: trained * 12 });
    } else {
      rows.push({ item: 'critic weights, gradients, moments (f32)', bytes: cp * 16 });
    }
  }
  // The CPU matmul packs B into at most 64 MiB of f32 panels (plus a transposed copy of A, at most an activation's size).
  if (limits.name === 'cpu') rows.push({ item: 'matmul scratch (packed panels)', bytes: 64 * 2 ** 20 });
  const resident = rows.reduce((s, r) => s + r.bytes, 0);

  // Phases: the rollout (KV cache + one step's logits), the log-prob forwards, the update.
  // rollout.micro_batch_size and ppo_micro_batch_size count prompts (x n rows), log_prob_micro_batch_size rows
  // (docs/verl-compat.md#forward-batch-units).
  const prompts = Math.max(config.data.train_batch_size, config.data.gen_batch_size ?? 0);
  const genRows = Math.min(arr.rollout.micro_batch_size ?? prompts, prompts) * n;
  const kv = genRows * S * model.num_hidden_layers * 2 * model.num_key_value_heads * model.head_dim * 4;
  const genLogits = genRows * model.vocab_size * 4 * 2;
  const allRows = config.data.train_batch_size * n;
  const layerFloats = activationFloatsPerToken(model, 0, 'all-linear');
  // use_fused_kernels: the output layer's logits (and their gradient) exist a chunk of rows at a time.
  const headInChunks = (mb: MicroBatchSize): MicroBatchSize => {
    const chunk = fusedChunkRows(model.vocab_size);
    return arr.model.use_fused_kernels && mb.headRows > chunk ? { ...mb, headRows: chunk, label: `${mb.label}, logits ${chunk} rows at a time` } : mb;
  };
  // The log-prob passes (old and reference): the larger of the two.
  const lpPasses = [arr.rollout, ...(usesReferencePolicy(config) ? [arr.ref] : [])].map((c) =>
    microBatchSize(allRows, c.log_prob_use_dynamic_bsz ? null : Math.min(allRows, c.log_prob_micro_batch_size ?? allRows),
      c.log_prob_max_token_len_per_gpu, arr.model.use_remove_padding, P, R));
  const lp = headInChunks(lpPasses.reduce((a, b) => (logProbBytes(model, layerFloats, b) > logProbBytes(model, layerFloats, a) ? b : a)));
  const logProb = logProbBytes(model, layerFloats, lp);
  /** An update's largest micro-batch from its keys (the actor's or the critic's: both count prompts, x n rows). */
  const updateMicro = (c: UpdateBatchKeys, removePadding: boolean): MicroBatchSize => microBatchSize(c.ppo_mini_batch_size * n,
    c.use_dynamic_bsz ? null : Math.min(c.ppo_micro_batch_size ?? c.ppo_mini_batch_size, c.ppo_mini_batch_size) * n,
    c.ppo_max_token_len_per_gpu, removePadding, P, R);
  const micro = headInChunks(updateMicro(arr.actor, arr.model.use_remove_padding));
  const train = updateActivationBytes(model, micro, rank, arr.model.target_modules, arr.model.enable_gradient_checkpointing);
  rows.push({ item: `rollout KV cache (${genRows} rows x ${S} tokens) + logits`, bytes: kv + genLogits });
  rows.push({ item: `log-prob forward (${lp.label})`, bytes: logProb });
  rows.push({ item: `update activations (micro-batch of ${micro.label}${arr.model.enable_gradient_checkpointing ? ', checkpointed' : ''})`, bytes: train });
  // The critic's update, a phase of its own: its micro-batches are set by its own keys (veRL's
  // critic budget is 32,768 tokens, twice the actor's) and its head is one value a token.
  let criticTrain = 0, criticValues = 0;
  if (critic && usesCritic(config)) {
    const c = config.critic;
    const cm = updateMicro(c, c.model.use_remove_padding);
    criticTrain = updateActivationBytes(critic, cm, c.model.lora_rank, c.model.target_modules, c.model.enable_gradient_checkpointing, 'value');
    // Its values forward (no gradients) is sized by forward_micro_batch_size, counted in rows as the
    // trainer runs it (batching.ts valuesBatching), or forward_max_token_len_per_gpu.
    const vm = microBatchSize(allRows, c.use_dynamic_bsz ? null : Math.min(allRows, c.forward_micro_batch_size ?? allRows),
      c.forward_max_token_len_per_gpu, c.model.use_remove_padding, P, R);
    criticValues = logProbBytes(critic, activationFloatsPerToken(critic, 0, 'all-linear'), vm, 1);
    rows.push({ item: `critic values forward (${vm.label})`, bytes: criticValues });
    rows.push({ item: `critic update activations (micro-batch of ${cm.label}${c.model.enable_gradient_checkpointing ? ', checkpointed' : ''})`, bytes: criticTrain });
  }
  const peakBytes = resident + Math.max(kv + genLogits, logProb, train, criticValues, criticTrain);
  const embedBytes = model.vocab_size * model.hidden_size * (rank > 0 ? half : 4);
  // The logits of the largest micro-batch (update or log-prob pass) are one tensor.
  const largestBufferBytes = Math.max(embedBytes, Math.max(micro.headRows, lp.headRows) * model.vocab_size * 4, kv / model.num_hidden_layers / 2);

  let problem: string | null = null;
  const usable = usableBytes(limits);
  if (usable !== undefined && peakBytes > usable) {
    problem = usable < limits.capacityBytes!
      ? `needs ${gib(peakBytes)} GiB at its peak, more than the ${gib(usable)} GiB the plan allows of the ${limits.name} backend's ${gib(limits.capacityBytes!)} GiB (an eighth is kept for its allocator's rounding to size classes)`
      : `needs ${gib(peakBytes)} GiB at its peak, more than the ${limits.name} backend's ${gib(limits.capacityBytes!)} GiB`;
  } else if (limits.maxBufferBytes !== undefined && largestBufferBytes > limits.maxBufferBytes) {
    problem = `needs a ${gib(largestBufferBytes)} GiB buffer, more than the ${limits.name} adapter's ${limits.maxBufferLimit ?? 'maxBufferSize'} of ${gib(limits.maxBufferBytes)} GiB`;
  }
  return { rows, peakBytes, largestBufferBytes, problem };
}

/**
 * The bytes a plan may use of the backend's capacity. The CPU backend's allocator hands out blocks
 * rounded up to size classes (up to 25% over) and reuses a freed block only for its own class, so
 * its 4 GiB hold less than 4 GiB of tensors: a LoRA micro-batch of Qwen2.5-0.5B whose plan came to
 * 4.00 GiB ran out of memory asking for 311 MB with 4.14 GB handed out (docs/lora.md). The plan
 * keeps an eighth of it free.
 */
export function usableBytes(limits: BackendLimits): number | undefined {
  if (limits.capacityBytes === undefined) return undefined;
  return limits.name === 'cpu' ? Math.floor(limits.capacityBytes * 7 / 8) : limits.capacityBytes;
}

export function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(bytes < 2 ** 30 / 10 ? 3 : 2);
}

/** The plan as a short table. */
export function formatMemoryPlan(plan: MemoryPlan, limits: BackendLimits): string {
  const width = Math.max(...plan.rows.map((r) => r.item.length), 20);
  const lines = [`memory plan (${limits.name}, GiB):`];
  for (const r of plan.rows) lines.push(`  ${r.item.padEnd(width)}  ${gib(r.bytes).padStart(8)}`);
  const usable = usableBytes(limits);
  const cap = usable === undefined ? '' : usable < limits.capacityBytes! ? ` of ${gib(usable)} usable (${gib(limits.capacityBytes!)})` : ` of ${gib(usable)}`;
  lines.push(`  ${'peak (resident + largest phase)'.padEnd(width)}  ${gib(plan.peakBytes).padStart(8)}${cap}`);
  return lines.join('\n');
}

/**
 * The one-line refusal for a plan that does not fit, with what would: LoRA (when off), a smaller
 * micro-batch, or the WebGPU backend.
 */
export function refusal(model: ModelConfig, critic: ModelConfig | null, config: TinyZeroConfig, limits: BackendLimits, plan: MemoryPlan): string {
  const arr = config.actor_rollout_ref;
  // The CPU backend always has f16 storage for a frozen base; elsewhere keep what the run has.
  const halfBase = limits.weightDtype === 'f32' && limits.name === 'cpu';
  // A full critic weighs as much as a full actor: LoRA on both where there is one.
  const criticToo = usesCritic(config) && config.critic.model.lora_rank === 0;
  const lora = (c: TinyZeroConfig): TinyZeroConfig => ({ ...c, actor_rollout_ref: { ...c.actor_rollout_ref, model: { ...c.actor_rollout_ref.model, lora_rank: 16 } },
    ...(criticToo ? { critic: { ...c.critic, model: { ...c.critic.model, lora_rank: 16 } } } : {}) });
  // A smaller micro-batch: one row where micro-batches are counted in rows; where they are cut by
  // a token budget (use_dynamic_bsz), the largest budget, halving from the run's down to one
  // sequence (the least the config checks allow), with which the plan fits.
  const seqLen = config.data.max_prompt_length + config.data.max_response_length;
  const withCritic = critic !== null && usesCritic(config);
  const dynamic = { actor: arr.actor.use_dynamic_bsz, rollout: arr.rollout.log_prob_use_dynamic_bsz, ref: arr.ref.log_prob_use_dynamic_bsz,
    critic: config.critic.use_dynamic_bsz };
  const small = (c: TinyZeroConfig, budget: number): TinyZeroConfig => {
    const a = c.actor_rollout_ref;
    return { ...c, actor_rollout_ref: { ...a,
      actor: dynamic.actor ? { ...a.actor, ppo_max_token_len_per_gpu: budget } : { ...a.actor, ppo_micro_batch_size: 1 },
      rollout: dynamic.rollout ? { ...a.rollout, log_prob_max_token_len_per_gpu: budget } : { ...a.rollout, log_prob_micro_batch_size: 1 },
      ref: dynamic.ref ? { ...a.ref, log_prob_max_token_len_per_gpu: budget } : { ...a.ref, log_prob_micro_batch_size: 1 } },
    ...(withCritic ? { critic: dynamic.critic ? { ...c.critic, ppo_max_token_len_per_gpu: budget } : { ...c.critic, ppo_micro_batch_size: 1 } } : {}) };
  };
  const smallKeys = (budget: number): string => [...new Set([
    dynamic.actor ? `actor_rollout_ref.actor.ppo_max_token_len_per_gpu=${budget}` : 'ppo_micro_batch_size=1',
    dynamic.rollout ? `actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=${budget}` : 'log_prob_micro_batch_size=1',
    ...(!usesReferencePolicy(config) ? [] : [dynamic.ref ? `actor_rollout_ref.ref.log_prob_max_token_len_per_gpu=${budget}` : 'log_prob_micro_batch_size=1']),
    ...(!withCritic ? [] : [dynamic.critic ? `critic.ppo_max_token_len_per_gpu=${budget}` : 'critic.ppo_micro_batch_size=1']),
  ])].join(' ');
  const loraKeys = `actor_rollout_ref.model.lora_rank=16${criticToo ? ' critic.model.lora_rank=16' : ''}${halfBase ? ' trainer.frozen_weight_dtype=f16' : ''}`;
  const budgets: number[] = [];
  const largestBudget = Math.max(dynamic.actor ? arr.actor.ppo_max_token_len_per_gpu : 0,
    dynamic.rollout ? arr.rollout.log_prob_max_token_len_per_gpu : 0, dynamic.ref ? arr.ref.log_prob_max_token_len_per_gpu : 0,
    withCritic && dynamic.critic ? config.critic.ppo_max_token_len_per_gpu : 0);
  for (let b = Math.floor(largestBudget / 2); b > seqLen; b = Math.floor(b / 2)) budgets.push(b);
  budgets.push(seqLen);
  /** The largest budget with which `base` shrunk fits (else the smallest), as a candidate. */
  const shrink = (label: string, base: TinyZeroConfig, prefix: string, half: boolean) => {
    const lims = half ? { ...limits, weightDtype: 'f16' as const } : limits;
    const budget = budgets.find((b) => memoryPlan(model, critic, small(base, b), lims).problem === null) ?? budgets[budgets.length - 1]!;
    return { label, keys: `${prefix}${smallKeys(budget)}`, config: small(base, budget), half };
  };
  const canShrink = (arr.actor.ppo_micro_batch_size ?? 0) > 1 || (arr.rollout.log_prob_micro_batch_size ?? 0) > 1
    || (arr.ref.log_prob_micro_batch_size ?? 0) > 1 || (withCritic && (config.critic.ppo_micro_batch_size ?? 0) > 1) || largestBudget > seqLen;
  const candidates: { label: string; keys: string; config: TinyZeroConfig; half: boolean }[] = [];
  // The memory options first: they change no result, only time.
  const withModel = (patch: Partial<TinyZeroConfig['actor_rollout_ref']['model']>): TinyZeroConfig =>
    ({ ...config, actor_rollout_ref: { ...arr, model: { ...arr.model, ...patch } },
      // Checkpointing is the critic's key too (its head has no logits to chunk).
      ...(withCritic && patch.enable_gradient_checkpointing ? { critic: { ...config.critic, model: { ...config.critic.model, enable_gradient_checkpointing: true } } } : {}) });
  const checkpointKeys = `actor_rollout_ref.model.enable_gradient_checkpointing=true${withCritic ? ' critic.model.enable_gradient_checkpointing=true' : ''}`;
  if (!arr.model.use_fused_kernels) {
    candidates.push({ label: 'the output layer in chunks', keys: 'actor_rollout_ref.model.use_fused_kernels=true', half: false,
      config: withModel({ use_fused_kernels: true }) });
  }
  const checkpointed = arr.model.enable_gradient_checkpointing && (!withCritic || config.critic.model.enable_gradient_checkpointing);
  if (!checkpointed) {
    candidates.push({ label: 'checkpointed layers', keys: checkpointKeys, half: false, config: withModel({ enable_gradient_checkpointing: true }) });
  }
  if (!arr.model.use_fused_kernels && !checkpointed) {
    candidates.push({ label: 'both', keys: `actor_rollout_ref.model.use_fused_kernels=true ${checkpointKeys}`,
      half: false, config: withModel({ use_fused_kernels: true, enable_gradient_checkpointing: true }) });
  }
  if (arr.model.lora_rank === 0) candidates.push({ label: 'LoRA', keys: loraKeys, config: lora(config), half: halfBase });
  if (canShrink) candidates.push(shrink('a smaller micro-batch', config, '', false));
  if (arr.model.lora_rank === 0 && canShrink) candidates.push(shrink('LoRA with a smaller micro-batch', lora(config), `${loraKeys} `, halfBase));
  const tried = candidates.map((c) => ({ ...c, plan: memoryPlan(model, critic, c.config, c.half ? { ...limits, weightDtype: 'f16' } : limits) }));
  const alone = new Set(['the output layer in chunks', 'checkpointed layers']);
  const oneOptionFits = tried.some((t) => alone.has(t.label) && t.plan.problem === null);
  // Both options together only where neither alone fits.
  const fitting = tried.filter((t) => t.plan.problem === null && !(t.label === 'both' && oneOptionFits));
  const shown = fitting.length > 0 ? fitting : tried;
  const hints = shown.map((t) => `${t.label} (${t.keys}: ${gib(t.plan.peakBytes)} GiB${t.plan.problem ? ', still too much' : ''})`);
  if (limits.name !== 'webgpu') hints.push('trainer.device=webgpu');
  return `memory plan: this run ${plan.problem}; what would fit: ${hints.join(', ') || 'a smaller model'}`;
}
