/**
 * SFT checkpoints, laid out like the RL trainer's (src/trainer/checkpoint.ts) with one model:
 *   global_step_N/model/       HF folder (config.json, model.safetensors in F32 so resume is exact, tokenizer files)
 *   global_step_N/model/optimizer.safetensors   AdamW moments
 *   global_step_N/sft_state.json                step, LR scheduler, optimizer counters
 *   latest_checkpointed_iteration.txt           N
 * Written into a hidden folder and renamed into place; older ones beyond `keep` are removed after.
 * The data order is a function of (seed, step), so the step alone restores it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { CausalLM } from '../models/llama.js';
import { saveModel } from '../models/load.js';
import type { AdamW, LrScheduler, LrSchedulerState } from '../nn/index.js';
import { loadOptimizer, saveOptimizer, type OptimizerMeta } from '../trainer/checkpoint.js';

export interface SftState {
  version: 1;
  kind: 'sft';
  globalStep: number;
  scheduler: LrSchedulerState;
  optimizer: OptimizerMeta;
}

const STEP_DIR = /^global_step_(\d+)$/;
const STATE_FILE = 'sft_state.json';

export async function saveSftCheckpoint(root: string, step: number, parts: { model: CausalLM; optimizer: AdamW; scheduler: LrScheduler; tokenizerDir: string }, keep: number | null): Promise<string> {
  mkdirSync(root, { recursive: true });
  const final = join(root, `global_step_${step}`);
  const tmp = join(root, `.global_step_${step}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const modelDir = join(tmp, 'model');
  await saveModel(parts.model, modelDir, { dtype: 'F32', tokenizerFrom: parts.tokenizerDir });
  const optimizer = await saveOptimizer(parts.optimizer, modelDir);
  const state: SftState = { version: 1, kind: 'sft', globalStep: step, scheduler: parts.scheduler.stateDict(), optimizer };
  writeFileAtomic(join(tmp, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  if (existsSync(final)) rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  writeFileAtomic(join(root, 'latest_checkpointed_iteration.txt'), `${step}\n`);
  if (keep !== null && keep > 0) {
    const all = listSftCheckpoints(root);
    for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old.dir, { recursive: true, force: true });
  }
  return final;
}

/** Complete SFT checkpoints (with sft_state.json), oldest first. */
export function listSftCheckpoints(root: string): { step: number; dir: string }[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => ({ name, m: STEP_DIR.exec(name) }))
    .filter((e) => e.m && existsSync(join(root, e.name, STATE_FILE)))
    .map((e) => ({ step: Number(e.m![1]), dir: join(root, e.name) }))
    .sort((a, b) => a.step - b.step);
}

export function readSftState(dir: string): SftState {
  const file = join(dir, STATE_FILE);
  const state = JSON.parse(readFileSync(file, 'utf8')) as SftState;
  if (state.version !== 1 || state.kind !== 'sft' || !Number.isInteger(state.globalStep)) throw new Error(`${file}: not a tinyzero SFT state`);
  return state;
}

/** Optimizer and scheduler from a checkpoint whose weights were loaded into the model already. */
export function restoreSftState(dir: string, state: SftState, optimizer: AdamW, scheduler: LrScheduler): void {
  loadOptimizer(optimizer, join(dir, 'model'), state.optimizer);
  scheduler.loadStateDict(state.scheduler);
}
