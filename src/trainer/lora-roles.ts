/**
 * LoRA in the trainer, as veRL runs it, for the actor (actor_rollout_ref.model.lora_rank > 0) and
 * the critic (critic.model.lora_rank > 0). Each is its frozen base (in trainer.frozen_weight_dtype)
 * plus f32 adapters, and its optimizer sees the adapters only, plus the critic's value head, which
 * is new and trains in full (PEFT's modules_to_save). The actor's reference policy is the same base
 * with the adapters switched off, so a LoRA run holds one copy of the actor's base. Checkpoints
 * store the adapters (and the head) in PEFT's layout.
 */
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import type { TinyZeroConfig } from '../config/types.js';
import { usesCritic } from '../config/derived.js';
import { ValueModel, type CausalLM } from '../models/llama.js';
import { loadCausalLM, loadValueModel, saveModel } from '../models/load.js';
import { LoraModel, type LoraConfig } from '../models/lora.js';
import type { Tensor } from '../tensor/index.js';

export type LoraRole = 'actor' | 'critic';

/** The config section of each role's model, as errors name it. */
const WHERE: Record<LoraRole, string> = { actor: 'actor_rollout_ref.model', critic: 'critic.model' };

/** The critic's value head: HF's token-classification `score`, one of the classifier names PEFT trains in full. */
const VALUE_HEAD = 'score';

function loraConfigOf(m: TinyZeroConfig['critic']['model'] | TinyZeroConfig['actor_rollout_ref']['model'], modulesToSave?: string[]): LoraConfig | null {
  if (m.lora_rank === 0) return null;
  const targets = m.target_modules;
  return {
    rank: m.lora_rank, alpha: m.lora_alpha, targetModules: targets === 'all-linear' ? 'all-linear' : Array.isArray(targets) ? targets : [targets],
    ...(modulesToSave ? { modulesToSave } : {}),
  };
}

/** The actor's LoRA settings, or null when lora_rank is 0. */
export function actorLoraConfig(config: TinyZeroConfig): LoraConfig | null {
  return loraConfigOf(config.actor_rollout_ref.model);
}

/** The critic's LoRA settings (the value head trained in full), or null when there is no critic or lora_rank is 0. */
export function criticLoraConfig(config: TinyZeroConfig): LoraConfig | null {
  return usesCritic(config) ? loraConfigOf(config.critic.model, [VALUE_HEAD]) : null;
}

/** Fresh adapters on a frozen base; the base is disposed when they cannot be attached. */
function withAdapters<M extends CausalLM | ValueModel>(model: M, lora: LoraConfig, seed: number, role: LoraRole): { model: M; lora: LoraModel } {
  try {
    return { model, lora: new LoraModel(model, lora, seed, WHERE[role]) };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** The frozen base with fresh adapters (B = 0: the run starts from the base model's policy). */
export function loadLoraActor(path: string, lora: LoraConfig, backend: Backend, maxPositions: number, seed: number): { model: CausalLM; lora: LoraModel } {
  return withAdapters(loadCausalLM(path, { backend, maxPositions, frozen: true }), lora, seed, 'actor');
}

/**
 * The critic's frozen backbone with fresh adapters and its value head (from the folder when it has
 * one, else seeded as the full critic's); the adapters' seed differs from the actor's.
 */
export function loadLoraCritic(path: string, lora: LoraConfig, backend: Backend, maxPositions: number, seed: number): { model: ValueModel; lora: LoraModel } {
  return withAdapters(loadValueModel(path, { backend, maxPositions, frozen: true, seed }), lora, seed + 1, 'critic');
}

/**
 * The reference policy of a LoRA run: `model` with its adapters off for every call. It shares the
 * actor's weights, so disposing it does nothing.
 */
export function adaptersOff(model: CausalLM, lora: LoraModel): CausalLM {
  const off = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A): R => lora.switch.withoutAdapters(() => fn(...args));
  const backbone = Object.create(model.model, {
    forward: { value: off((ids: Tensor, options: Parameters<CausalLM['model']['forward']>[1]) => model.model.forward(ids, options)) },
  }) as CausalLM['model'];
  return Object.create(model, {
    model: { value: backbone },
    forward: { value: off((ids: Tensor, options: Parameters<CausalLM['forward']>[1]) => model.forward(ids, options)) },
    logits: { value: off((h: Tensor) => model.logits(h)) },
    dispose: { value: () => {} },
  }) as CausalLM;
}

/**
 * Writes a role's weights for a checkpoint: the adapters (and modules to save) in PEFT layout with
 * `baseDir` as their base, or the whole model in F32 (the actor with `tokenizerDir`'s tokenizer files).
 */
export async function saveTrainedWeights(model: CausalLM | ValueModel, lora: LoraModel | undefined, dir: string, baseDir: string, tokenizerDir?: string): Promise<void> {
  if (lora) await lora.save(dir, baseDir);
  else await saveModel(model, dir, { dtype: 'F32', ...(tokenizerDir && !(model instanceof ValueModel) ? { tokenizerFrom: tokenizerDir } : {}) });
}

/** Resume: the checkpoint's adapters (and modules to save) of `role` into the run's (same names and shapes), exactly. */
export function restoreAdapters(lora: LoraModel, checkpointDir: string, role: LoraRole): void {
  lora.loadWeights(join(checkpointDir, role));
}
