/** The memory plan at trainer start-up: printed as a table, and a run that cannot fit refused in one line. */
import type { Backend } from '../backend/backend.js';
import { storageBufferLimit } from '../backend/webgpu/buffers.js';
import type { TinyZeroConfig } from '../config/types.js';
import { usesCritic } from '../config/derived.js';
import { loadModelConfig } from '../models/config.js';
import { formatMemoryPlan, memoryPlan, refusal, type BackendLimits } from './memory-plan.js';

export function backendLimits(backend: Backend): BackendLimits {
  const limits = (backend as { adapter?: { limits?: Record<string, number> } }).adapter?.limits;
  const storage = limits?.maxBufferSize === undefined ? undefined : storageBufferLimit(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  return {
    name: backend.name,
    capacityBytes: backend.capacityBytes,
    maxBufferBytes: storage?.bytes,
    maxBufferLimit: storage?.name,
    weightDtype: backend.weightDtype ?? 'f32',
  };
}

export function checkMemoryPlan(config: TinyZeroConfig, backend: Backend, log: (line: string) => void): void {
  const model = loadModelConfig(config.actor_rollout_ref.model.path);
  const critic = usesCritic(config) ? loadModelConfig(config.critic.model.path) : null;
  const limits = backendLimits(backend);
  const plan = memoryPlan(model, critic, config, limits);
  log(formatMemoryPlan(plan, limits));
  if (plan.problem) throw new Error(refusal(model, critic, config, limits, plan));
}
