/**
 * The rollout phase: n samples per prompt with the actor and the KV-cache generator, in chunks of
 * `rollout.micro_batch_size` prompts, assembled into the padded batch layout.
 */
import { generate, type GenerateOptions } from '../generation/index.js';
import type { CausalLM } from '../models/llama.js';
import { assembleBatch, type RolloutBatch } from './batch.js';
import type { PromptRow } from './dataset.js';

export interface RolloutOptions {
  n: number;
  temperature: number;
  topK: number;
  topP: number;
  promptLength: number;
  responseLength: number;
  eosTokenIds: number[];
  padTokenId: number;
  ignoreEos: boolean;
  /** Prompts per generate call; null = all at once. */
  chunk: number | null;
  seed: number;
  onProgress?: (doneRows: number, totalRows: number, tokens: number) => void;
}

export async function rollout(model: CausalLM, prompts: PromptRow[], options: RolloutOptions): Promise<RolloutBatch> {
  const chunk = options.chunk ?? prompts.length;
  const R = options.responseLength;
  const rows = prompts.length * options.n;
  const responseIds = new Int32Array(rows * R).fill(options.padTokenId);
  const responseMask = new Float32Array(rows * R);
  let tokens = 0;
  for (let start = 0; start < prompts.length; start += chunk) {
    const part = prompts.slice(start, start + chunk);
    const genOptions: GenerateOptions = {
      maxNewTokens: R,
      n: options.n,
      temperature: options.temperature,
      topK: options.topK,
      topP: options.topP,
      eosTokenIds: options.eosTokenIds,
      padTokenId: options.padTokenId,
      ignoreEos: options.ignoreEos,
      // One stream per chunk, so a resumed run draws the same samples.
      seed: options.seed * 1_000_003 + start,
    };
    const out = await generate(model, part.map((p) => p.ids), genOptions);
    for (let r = 0; r < out.rows; r++) {
      const row = start * options.n + r;
      responseIds.set(out.responseIds.subarray(r * out.width, (r + 1) * out.width), row * R);
      responseMask.set(out.responseMask.subarray(r * out.width, (r + 1) * out.width), row * R);
      tokens += out.lengths[r]!;
    }
    options.onProgress?.((start + part.length) * options.n, rows, tokens);
  }
  const expanded = prompts.flatMap((p) => Array.from({ length: options.n }, () => p));
  const uid = prompts.flatMap((_, i) => Array.from({ length: options.n }, () => i));
  return assembleBatch({
    prompts: expanded,
    uid,
    promptLength: options.promptLength,
    responseLength: R,
    responseIds,
    responseMask,
    width: R,
    padTokenId: options.padTokenId,
  });
}
