/**
 * SFT checkpoints, in the run folder's store (src/checkpoint) like the RL trainer's, with one model:
 *   global_step_N/model/       HF folder (config.json, model.safetensors in F32 so resume is exact, tokenizer files)
 *   global_step_N/model/optimizer.safetensors   AdamW moments
 *   global_step_N/sft_state.json                step, LR scheduler, optimizer counters
 * The data order is a function of (seed, step), so the step alone restores it. A resumed run
 * loads the model straight from global_step_N/model.
 */
import { join } from 'node:path';
import { CheckpointStore, loadOptimizer, saveOptimizer, type CheckpointRef, type OptimizerMeta } from '../checkpoint/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { CausalLM } from '../models/llama.js';
import { saveModel } from '../models/load.js';
import type { AdamW, LrScheduler, LrSchedulerState } from '../nn/index.js';

export interface SftState {
  version: 1;
  kind: 'sft';
  globalStep: number;
  scheduler: LrSchedulerState;
  optimizer: OptimizerMeta;
}

export const SFT_STATE_FILE = 'sft_state.json';

export function sftStore(root: string): CheckpointStore {
  return new CheckpointStore(root, SFT_STATE_FILE);
}

export async function saveSftCheckpoint(root: string, step: number, parts: { model: CausalLM; optimizer: AdamW; scheduler: LrScheduler; tokenizerDir: string }, keep: number | null): Promise<string> {
  return sftStore(root).save(step, async (tmp) => {
    const modelDir = join(tmp, 'model');
    await saveModel(parts.model, modelDir, { dtype: 'F32', tokenizerFrom: parts.tokenizerDir });
    const optimizer = await saveOptimizer(parts.optimizer, modelDir);
    const state: SftState = { version: 1, kind: 'sft', globalStep: step, scheduler: parts.scheduler.stateDict(), optimizer };
    writeFileAtomic(join(tmp, SFT_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  }, keep);
}

/** Complete SFT checkpoints (with sft_state.json), oldest first. */
export function listSftCheckpoints(root: string): CheckpointRef[] {
  return sftStore(root).list();
}

export function readSftState(dir: string): SftState {
  const state = sftStore(dir).readState<SftState>(dir);
  if (state.version !== 1 || state.kind !== 'sft' || !Number.isInteger(state.globalStep)) throw new Error(`${join(dir, SFT_STATE_FILE)}: not a tinyzero SFT state`);
  return state;
}

/**
 * Optimizer and scheduler from a checkpoint whose weights the model was loaded from. The base LR
 * and optimizer hyperparameters are the config's, so a changed LR applies.
 */
export function restoreSftState(dir: string, state: SftState, optimizer: AdamW, scheduler: LrScheduler): void {
  loadOptimizer(optimizer, join(dir, 'model'), state.optimizer);
  scheduler.loadStateDict({ ...state.scheduler, baseLr: scheduler.baseLr });
}
