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

/**
 * The seed of sample `row` of a request seeded with `seed` when each sample draws from its own
 * stream (`tinyzero serve`; generate's `rowStreams`): the seed itself for sample 0, so one sample
 * draws what a single stream seeded with `seed` draws, and for the others the seed folded to 32
 * bits as Prng does, offset by the row and mixed (murmur3's finalizer), so that neighbouring seeds
 * do not share rows.
 */
export function rowSeed(seed: number, row: number): number {
  if (!Number.isSafeInteger(seed)) throw new Error(`rowSeed: seed must be a safe integer, got ${seed}`);
  if (!Number.isInteger(row) || row < 0) throw new Error(`rowSeed: row must be a non-negative integer, got ${row}`);
  if (row === 0) return seed;
  let h = (((seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32), 0x9e3779b1)) + Math.imul(row, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
