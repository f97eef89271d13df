/**
 * Validation as veRL runs it: greedy decoding (temperature 0, n = 1) over the whole validation set
 * (in chunks of `data.val_batch_size`, honoured here), each row's token rewards summed, then the
 * mean per data source as `val/test_score/{data_source}`. We add `val/accuracy/{data_source}`, the
 * share of rows whose score reaches 1 (TinyZero's test_score includes 0.1 format credit), and the
 * task's behaviour metrics as `val/behavior/{name}/{data_source}` (tasks/behavior.ts).
 */
import type { CausalLM } from '../models/llama.js';
import { decodeGenerated, type Tokenizer } from '../tokenizer/index.js';
import { responseIdsOf, type RolloutBatch } from './batch.js';
import type { PromptRow } from './dataset.js';
import { batchBehaviorMetrics, computeTokenLevelScores, rowSums, type RewardFn } from './reward.js';
import { rollout } from './rollout.js';

export interface ValidationResult {
  metrics: Record<string, number>;
  /** A few decoded samples (prompt, response, score) for the console and the dashboard. */
  samples: { prompt: string; response: string; score: number }[];
  batch: RolloutBatch;
}

export async function validate(model: CausalLM, tokenizer: Tokenizer, prompts: PromptRow[], options: {
  promptLength: number;
  responseLength: number;
  chunk: number | null;
  rewardFn: RewardFn;
  eosTokenIds: number[];
  padTokenId: number;
  samples?: number;
}): Promise<ValidationResult> {
  const batch = await rollout(model, prompts, {
    n: 1, temperature: 0, topK: -1, topP: 1, ignoreEos: false, seed: 0,
    promptLength: options.promptLength, responseLength: options.responseLength,
    eosTokenIds: options.eosTokenIds, padTokenId: options.padTokenId, chunk: options.chunk,
  });
  const scores = rowSums(computeTokenLevelScores(batch, tokenizer, options.rewardFn), batch.rows, batch.responseLength);
  const bySource = new Map<string, number[]>();
  batch.prompts.forEach((p, r) => {
    const list = bySource.get(p.dataSource) ?? [];
    list.push(scores[r]!);
    bySource.set(p.dataSource, list);
  });
  const metrics: Record<string, number> = {};
  for (const [source, list] of bySource) {
    metrics[`val/test_score/${source}`] = list.reduce((a, b) => a + b, 0) / list.length;
    metrics[`val/accuracy/${source}`] = list.filter((s) => s >= 1 - 1e-6).length / list.length;
  }
  // What the task reads from the responses beyond the reward (tries, checks, ...), per data source.
  Object.assign(metrics, batchBehaviorMetrics(batch, tokenizer, (name, source) => `val/behavior/${name}/${source}`));
  const samples = Array.from({ length: Math.min(options.samples ?? 3, batch.rows) }, (_, r) => ({
    prompt: batch.prompts[r]!.text, response: decodeGenerated(tokenizer, responseIdsOf(batch, r)), score: scores[r]!,
  }));
  return { metrics, samples, batch };
}
