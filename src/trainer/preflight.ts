/**
 * Checks that need the run's files but no weights, done before the backend starts, the datasets
 * load or a model is built: a run that cannot work fails in its first second with one line naming
 * the file and key, not after a generation phase with a typed-array or shape error.
 */
import { join } from 'node:path';
import type { TinyZeroConfig } from '../config/types.js';
import { loadModelConfig } from '../models/config.js';

/** Prompt + response must fit the positions the model was trained for (its config.json). */
export function checkSequenceFitsModels(config: TinyZeroConfig): void {
  const { data, actor_rollout_ref: arr, algorithm } = config;
  const lengths: [string, number, number][] = [
    ['data.max_prompt_length + data.max_response_length', data.max_prompt_length, data.max_response_length],
    ['actor_rollout_ref.rollout.prompt_length + response_length', arr.rollout.prompt_length, arr.rollout.response_length],
  ];
  const models = [arr.model.path];
  if (algorithm.adv_estimator === 'gae' && config.critic.model.path !== arr.model.path) models.push(config.critic.model.path);
  for (const dir of models) {
    const model = loadModelConfig(dir);
    for (const [keys, prompt, response] of lengths) {
      if (prompt + response > model.max_position_embeddings) {
        throw new Error(`${keys} = ${prompt} + ${response} = ${prompt + response} is more than max_position_embeddings ` +
          `${model.max_position_embeddings} in ${dir.endsWith('.json') ? dir : join(dir, 'config.json')}`);
      }
    }
  }
}
