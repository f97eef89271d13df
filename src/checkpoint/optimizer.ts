/**
 * AdamW state in a checkpoint: the moments in `optimizer.safetensors` beside the model's weights
 * (`<param>.exp_avg`, `<param>.exp_avg_sq`, F32), the counters in the job's state file.
 */
import { join } from 'node:path';
import { writeSafetensors } from '../models/safetensors-write.js';
import { SafetensorsFile } from '../models/safetensors.js';
import type { AdamW, AdamWState } from '../nn/index.js';

export type OptimizerMeta = Omit<AdamWState, 'params'> & { paramSteps: Record<string, { step: number; shape: number[] }> };

export const OPTIMIZER_FILE = 'optimizer.safetensors';

/** Writes the moments into `dir` and returns the counters and hyperparameters for the state file. */
export async function saveOptimizer(optimizer: AdamW, dir: string): Promise<OptimizerMeta> {
  const state = await optimizer.stateDict();
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const paramSteps: OptimizerMeta['paramSteps'] = {};
  for (const [name, p] of Object.entries(state.params)) {
    tensors.set(`${name}.exp_avg`, { shape: p.shape, data: p.m });
    tensors.set(`${name}.exp_avg_sq`, { shape: p.shape, data: p.v });
    paramSteps[name] = { step: p.step, shape: p.shape };
  }
  writeSafetensors(join(dir, OPTIMIZER_FILE), tensors, { dtype: 'F32' });
  const { params: _params, ...meta } = state;
  return { ...meta, paramSteps };
}

/**
 * Restores moments and step counts. The hyperparameters (betas, eps, weight decay) stay those the
 * optimizer was built with, from the run's config, so a changed value applies on resume instead of
 * being replaced by the checkpoint's; the LR is the scheduler's to set.
 */
export function loadOptimizer(optimizer: AdamW, dir: string, meta: OptimizerMeta): void {
  const file = SafetensorsFile.open(join(dir, OPTIMIZER_FILE));
  try {
    const params: AdamWState['params'] = {};
    for (const [name, { step, shape }] of Object.entries(meta.paramSteps)) {
      params[name] = { step, shape, m: file.readFloat32(`${name}.exp_avg`), v: file.readFloat32(`${name}.exp_avg_sq`) };
    }
    optimizer.loadStateDict({
      step: meta.step, lr: optimizer.lr, betas: [optimizer.beta1, optimizer.beta2], eps: optimizer.eps, weightDecay: optimizer.weightDecay, params,
    });
  } finally {
    file.close();
  }
}
