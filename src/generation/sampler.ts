/**
 * Token sampling from one row of logits, on the host in float64: temperature (0 = greedy), top-k,
 * top-p (nucleus). The returned log-prob is log softmax(logits / temperature)[token] (temperature 1
 * when greedy): the same quantity the trainer recomputes as old_log_prob; top-k and top-p only
 * restrict which tokens can be drawn.
 */
import { sampleRow } from '../backend/reference/sample.js';
import type { Prng } from '../util/prng.js';

export interface SamplingParams {
  /** 0 selects the arg-max token. */
  temperature: number;
  /** Keep only the k most likely tokens; -1 or 0 turns it off. */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP; 1 turns it off. */
  topP: number;
}

export function validateSampling(p: SamplingParams): void {
  if (!(p.temperature >= 0) || !Number.isFinite(p.temperature)) throw new Error(`temperature must be >= 0, got ${p.temperature}`);
  if (!Number.isInteger(p.topK) || p.topK < -1) throw new Error(`top_k must be -1, 0 or a positive integer, got ${p.topK}`);
  if (!(p.topP > 0 && p.topP <= 1)) throw new Error(`top_p must be in (0, 1], got ${p.topP}`);
}

export interface Sampled {
  token: number;
  logprob: number;
}

/**
 * Samples from logits[offset .. offset + vocab): the reference backend's definition of a row's draw
 * (one uniform from `rng`, none when greedy), so the host and the backends' `sample` share one
 * algorithm.
 */
export function sampleToken(logits: Float32Array, offset: number, vocab: number, params: SamplingParams, rng: Prng): Sampled {
  return sampleRow(logits, offset, vocab, params, params.temperature === 0 ? 0 : rng.uniform());
}
