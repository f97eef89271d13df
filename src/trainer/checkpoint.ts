/**
 * Checkpoints with full resume (quirk 14 fixed). Layout under `trainer.default_local_dir`:
 *   global_step_N/actor/     HF folder (config.json, model.safetensors in F32 so resume is exact, tokenizer files)
 *                            (with LoRA: adapter_config.json + adapter_model.safetensors in PEFT layout instead)
 *   global_step_N/actor/optimizer.safetensors   AdamW moments (<param>.exp_avg, <param>.exp_avg_sq)
 *   global_step_N/critic/    likewise, when there is a critic
 *   global_step_N/trainer_state.json            step, data position, KL coefficient, LR schedulers, optimizer counters
 *   latest_checkpointed_iteration.txt           N (as upstream veRL writes it)
 * A checkpoint is written into a hidden temporary folder and renamed into place, so a crash never
 * leaves a half-written global_step_N; older ones beyond `max_*_ckpt_to_keep` are removed after.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CausalLM, ValueModel } from '../models/llama.js';
import { saveModel } from '../models/load.js';
import { writeSafetensors } from '../models/safetensors-write.js';
import { SafetensorsFile } from '../models/safetensors.js';
import { writeTextAtomic } from '../models/atomic-file.js';
import type { AdamW, AdamWState, LrScheduler, LrSchedulerState } from '../nn/index.js';
import type { LoraModel } from '../models/lora.js';
import { saveActorWeights } from './lora-actor.js';

export interface TrainerState {
  version: 1;
  /** The last completed training step. */
  globalStep: number;
  klCoef: number;
  /**
   * Generation batches drawn from the data loader through this step: its position in the data
   * order. Equal to globalStep unless DAPO dynamic sampling drew extra batches; absent in
   * checkpoints written before dynamic sampling existed (then it is globalStep).
   */
  genBatches?: number;
  actorScheduler: LrSchedulerState;
  criticScheduler: LrSchedulerState | null;
  /** AdamW counters and hyperparameters; the moments live in optimizer.safetensors. */
  actorOptimizer: OptimizerMeta;
  criticOptimizer: OptimizerMeta | null;
}

export type OptimizerMeta = Omit<AdamWState, 'params'> & { paramSteps: Record<string, { step: number; shape: number[] }> };

const STEP_DIR = /^global_step_(\d+)$/;

export interface Trainable {
  model: CausalLM | ValueModel;
  optimizer: AdamW;
  scheduler: LrScheduler;
  /** LoRA adapters (the optimizer's parameters); the checkpoint then holds them in PEFT layout instead of the model. */
  lora?: LoraModel;
}

export async function saveOptimizer(optimizer: AdamW, dir: string): Promise<OptimizerMeta> {
  const state = await optimizer.stateDict();
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const paramSteps: OptimizerMeta['paramSteps'] = {};
  for (const [name, p] of Object.entries(state.params)) {
    tensors.set(`${name}.exp_avg`, { shape: p.shape, data: p.m });
    tensors.set(`${name}.exp_avg_sq`, { shape: p.shape, data: p.v });
    paramSteps[name] = { step: p.step, shape: p.shape };
  }
  writeSafetensors(join(dir, 'optimizer.safetensors'), tensors, { dtype: 'F32' });
  const { params: _params, ...meta } = state;
  return { ...meta, paramSteps };
}

export function loadOptimizer(optimizer: AdamW, dir: string, meta: OptimizerMeta): void {
  const file = SafetensorsFile.open(join(dir, 'optimizer.safetensors'));
  try {
    const params: AdamWState['params'] = {};
    for (const [name, { step, shape }] of Object.entries(meta.paramSteps)) {
      params[name] = { step, shape, m: file.readFloat32(`${name}.exp_avg`), v: file.readFloat32(`${name}.exp_avg_sq`) };
    }
    const { paramSteps: _steps, ...rest } = meta;
    optimizer.loadStateDict({ ...rest, params });
  } finally {
    file.close();
  }
}

export async function saveCheckpoint(root: string, step: number, parts: { actor: Trainable; critic: Trainable | null; klCoef: number; genBatches: number; tokenizerDir: string },
  keep: { actor: number | null; critic: number | null }): Promise<string> {
  mkdirSync(root, { recursive: true });
  const final = join(root, `global_step_${step}`);
  const tmp = join(root, `.global_step_${step}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const actorDir = join(tmp, 'actor');
  await saveActorWeights(parts.actor.model as CausalLM, parts.actor.lora, actorDir, parts.tokenizerDir);
  const actorOptimizer = await saveOptimizer(parts.actor.optimizer, actorDir);
  let criticOptimizer: OptimizerMeta | null = null;
  if (parts.critic) {
    const criticDir = join(tmp, 'critic');
    await saveModel(parts.critic.model, criticDir, { dtype: 'F32' });
    criticOptimizer = await saveOptimizer(parts.critic.optimizer, criticDir);
  }
  const state: TrainerState = {
    version: 1,
    globalStep: step,
    klCoef: parts.klCoef,
    genBatches: parts.genBatches,
    actorScheduler: parts.actor.scheduler.stateDict(),
    criticScheduler: parts.critic ? parts.critic.scheduler.stateDict() : null,
    actorOptimizer,
    criticOptimizer,
  };
  writeTextAtomic(join(tmp, 'trainer_state.json'), `${JSON.stringify(state, null, 2)}\n`);
  if (existsSync(final)) rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  writeTextAtomic(join(root, 'latest_checkpointed_iteration.txt'), `${step}\n`);
  prune(root, keep.actor);
  return final;
}

/** Complete checkpoints (with trainer_state.json), oldest first. */
export function listCheckpoints(root: string): { step: number; dir: string }[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => ({ name, m: STEP_DIR.exec(name) }))
    .filter((e) => e.m && existsSync(join(root, e.name, 'trainer_state.json')))
    .map((e) => ({ step: Number(e.m![1]), dir: join(root, e.name) }))
    .sort((a, b) => a.step - b.step);
}

function prune(root: string, keep: number | null): void {
  if (keep === null || keep <= 0) return;
  const all = listCheckpoints(root);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old.dir, { recursive: true, force: true });
}

export function readTrainerState(dir: string): TrainerState {
  const file = join(dir, 'trainer_state.json');
  const state = JSON.parse(readFileSync(file, 'utf8')) as TrainerState;
  if (state.version !== 1 || !Number.isInteger(state.globalStep)) throw new Error(`${file}: not a tinyzero trainer state (version ${String(state.version)})`);
  return state;
}

/** Restores optimizers and schedulers from a checkpoint whose model weights were already loaded. */
export function restoreTrainingState(dir: string, state: TrainerState, actor: Trainable, critic: Trainable | null): void {
  loadOptimizer(actor.optimizer, join(dir, 'actor'), state.actorOptimizer);
  actor.scheduler.loadStateDict(state.actorScheduler);
  if (critic) {
    if (!state.criticOptimizer || !state.criticScheduler) throw new Error(`${dir}: the checkpoint has no critic state, but this run trains a critic`);
    loadOptimizer(critic.optimizer, join(dir, 'critic'), state.criticOptimizer);
    critic.scheduler.loadStateDict(state.criticScheduler);
  }
}
