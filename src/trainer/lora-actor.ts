/**
 * LoRA in the trainer (actor_rollout_ref.model.lora_rank > 0), as veRL runs it: the actor is the
 * frozen base (in trainer.frozen_weight_dtype) plus f32 adapters, the optimizer sees the adapters
 * only, and the reference policy is the same base with the adapters switched off, so a LoRA run
 * holds one copy of the base. Checkpoints store the adapters in PEFT's layout.
 */
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import type { TinyZeroConfig } from '../config/types.js';
import type { CausalLM } from '../models/llama.js';
import { loadCausalLM, saveModel } from '../models/load.js';
import { LoraModel, type LoraConfig } from '../models/lora.js';
import type { Tensor } from '../tensor/index.js';

const WHERE = 'actor_rollout_ref.model';

/** The actor's LoRA settings, or null when lora_rank is 0; refuses a critic with LoRA (not supported yet). */
export function actorLoraConfig(config: TinyZeroConfig): LoraConfig | null {
  const m = config.actor_rollout_ref.model;
  if (config.critic.model.lora_rank !== 0 && config.algorithm.adv_estimator === 'gae') {
    throw new Error(`critic.model.lora_rank: LoRA on the critic is not supported yet (got ${config.critic.model.lora_rank}); use 0`);
  }
  if (m.lora_rank === 0) return null;
  const targets = m.target_modules;
  return { rank: m.lora_rank, alpha: m.lora_alpha, targetModules: targets === 'all-linear' ? 'all-linear' : Array.isArray(targets) ? targets : [targets] };
}

/** The frozen base with fresh adapters (B = 0: the run starts from the base model's policy). */
export function loadLoraActor(path: string, lora: LoraConfig, backend: Backend, maxPositions: number, seed: number): { model: CausalLM; lora: LoraModel } {
  const model = loadCausalLM(path, { backend, maxPositions, frozen: true });
  try {
    return { model, lora: new LoraModel(model, lora, seed, WHERE) };
  } catch (err) {
    model.dispose();
    throw err;
  }
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

/** Writes the actor's weights for a checkpoint: the adapters in PEFT layout, or the whole model in F32. */
export async function saveActorWeights(model: CausalLM, lora: LoraModel | undefined, dir: string, tokenizerDir: string): Promise<void> {
  if (lora) await lora.save(dir, tokenizerDir);
  else await saveModel(model, dir, { dtype: 'F32', tokenizerFrom: tokenizerDir });
}

/** Resume: the checkpoint's adapters into the run's (same names and shapes), exactly. */
export function restoreAdapters(lora: LoraModel, checkpointDir: string): void {
  lora.loadWeights(join(checkpointDir, 'actor'));
}
