/**
 * The RL trainer's checkpoints with full resume (docs/verl-compat.md#resume), in the run folder's
 * store (src/checkpoint):
 *   global_step_N/actor/     HF folder (config.json, model.safetensors in F32 so resume is exact, tokenizer files)
 *                            (with LoRA: adapter_config.json + adapter_model.safetensors in PEFT layout instead)
 *   global_step_N/actor/optimizer.safetensors   AdamW moments (<param>.exp_avg, <param>.exp_avg_sq)
 *   global_step_N/critic/    likewise, when there is a critic (with LoRA: the adapters and the value head, PEFT's modules_to_save)
 *   global_step_N/trainer_state.json            step, data position, KL coefficient, LR schedulers, optimizer counters
 * A resumed run loads the actor and critic straight from these folders (setup.ts) and the rest here.
 */
import { join } from 'node:path';
import { CheckpointStore, loadOptimizer, saveOptimizer, type CheckpointRef, type OptimizerMeta } from '../checkpoint/index.js';
import type { CausalLM, ValueModel } from '../models/llama.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { AdamW, LrScheduler, LrSchedulerState } from '../nn/index.js';
import type { LoraModel } from '../models/lora.js';
import { saveTrainedWeights } from './lora-roles.js';

export type { OptimizerMeta } from '../checkpoint/index.js';

export const TRAINER_STATE_FILE = 'trainer_state.json';

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

export interface Trainable {
  model: CausalLM | ValueModel;
  optimizer: AdamW;
  scheduler: LrScheduler;
  /** LoRA adapters (with the critic's value head: the optimizer's parameters); the checkpoint then holds them in PEFT layout instead of the model. */
  lora?: LoraModel;
}

export function trainerStore(root: string): CheckpointStore {
  return new CheckpointStore(root, TRAINER_STATE_FILE);
}

/** `tokenizerDir` is the actor's base folder, `criticBaseDir` the critic's (named as the base of LoRA adapters). */
export async function saveCheckpoint(root: string, step: number,
  parts: { actor: Trainable; critic: Trainable | null; klCoef: number; genBatches: number; tokenizerDir: string; criticBaseDir?: string },
  keep: { actor: number | null; critic: number | null }): Promise<string> {
  return trainerStore(root).save(step, async (tmp) => {
    const actorDir = join(tmp, 'actor');
    await saveTrainedWeights(parts.actor.model, parts.actor.lora, actorDir, parts.tokenizerDir, parts.tokenizerDir);
    const actorOptimizer = await saveOptimizer(parts.actor.optimizer, actorDir);
    let criticOptimizer: OptimizerMeta | null = null;
    if (parts.critic) {
      const criticDir = join(tmp, 'critic');
      await saveTrainedWeights(parts.critic.model, parts.critic.lora, criticDir, parts.criticBaseDir ?? parts.tokenizerDir);
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
    writeFileAtomic(join(tmp, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  }, keep.actor);
}

/** Complete checkpoints (with trainer_state.json), oldest first. */
export function listCheckpoints(root: string): CheckpointRef[] {
  return trainerStore(root).list();
}

export function readTrainerState(dir: string): TrainerState {
  const state = trainerStore(dir).readState<TrainerState>(dir);
  if (state.version !== 1 || !Number.isInteger(state.globalStep)) throw new Error(`${join(dir, TRAINER_STATE_FILE)}: not a tinyzero trainer state (version ${String(state.version)})`);
  return state;
}

/**
 * Restores optimizers and schedulers from a checkpoint whose model weights were already loaded.
 * The schedules keep their position; the base LR and optimizer hyperparameters are the config's,
 * so a changed LR applies from the resumed step on.
 */
export function restoreTrainingState(dir: string, state: TrainerState, actor: Trainable, critic: Trainable | null): void {
  restoreTrainable(actor, join(dir, 'actor'), state.actorOptimizer, state.actorScheduler);
  if (critic) {
    if (!state.criticOptimizer || !state.criticScheduler) throw new Error(`${dir}: the checkpoint has no critic state, but this run trains a critic`);
    restoreTrainable(critic, join(dir, 'critic'), state.criticOptimizer, state.criticScheduler);
  }
}

function restoreTrainable(t: Trainable, dir: string, optimizer: OptimizerMeta, scheduler: LrSchedulerState): void {
  loadOptimizer(t.optimizer, dir, optimizer);
  t.scheduler.loadStateDict({ ...scheduler, baseLr: t.scheduler.baseLr });
}
