/**
 * One decode request run by itself through `generate`, with the per-sample streams a server's
 * step decoder draws from (`rowStreams`): what a request batched with others must equal.
 */
import { generate, type DecodeRequest } from '../../src/generation/index.js';
import type { CausalLM } from '../../src/models/llama.js';

export async function decodeAlone(model: CausalLM, q: DecodeRequest, eosTokenIds: number[]): Promise<{ ids: number[]; logprobs: number[] }[]> {
  const out = await generate(model, [q.promptIds], {
    maxNewTokens: q.maxNewTokens, n: q.n, seed: q.seed, rowStreams: true, ignoreEos: q.ignoreEos, eosTokenIds, padTokenId: 0, ...q.sampling,
  });
  return Array.from({ length: out.rows }, (_, r) => ({
    ids: Array.from(out.responseIds.subarray(r * out.width, r * out.width + out.lengths[r]!)),
    logprobs: Array.from(out.logprobs.subarray(r * out.width, r * out.width + out.lengths[r]!)),
  }));
}
