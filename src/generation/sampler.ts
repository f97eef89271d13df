/**
 * Token sampling from one row of logits, on the host in float64: temperature (0 = greedy), top-k,
 * top-p (nucleus). The returned log-prob is log softmax(logits / temperature)[token] (temperature 1
 * when greedy): the same quantity the trainer recomputes as old_log_prob; top-k and top-p only
 * restrict which tokens can be drawn.
 */
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

/** Samples from logits[offset .. offset + vocab). */
export function sampleToken(logits: Float32Array, offset: number, vocab: number, params: SamplingParams, rng: Prng): Sampled {
  const t = params.temperature > 0 ? params.temperature : 1;
  let max = -Infinity;
  let argmax = 0;
  for (let i = 0; i < vocab; i++) {
    const z = logits[offset + i]!;
    if (z > max) {
      max = z;
      argmax = i;
    }
  }
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp((logits[offset + i]! - max) / t);
  const logZ = Math.log(sum);
  const logprobOf = (i: number): number => (logits[offset + i]! - max) / t - logZ;
  if (params.temperature === 0) return { token: argmax, logprob: logprobOf(argmax) };

  const topK = params.topK > 0 ? Math.min(params.topK, vocab) : vocab;
  if (topK === vocab && params.topP >= 1) {
    // Plain sampling: walk the CDF once.
    let u = rng.uniform() * sum;
    for (let i = 0; i < vocab; i++) {
      u -= Math.exp((logits[offset + i]! - max) / t);
      if (u <= 0) return { token: i, logprob: logprobOf(i) };
    }
    return { token: argmax, logprob: logprobOf(argmax) };
  }
  // Candidates by decreasing probability, cut by top-k, then by top-p on the renormalised mass.
  const order = Array.from({ length: vocab }, (_, i) => i);
  order.sort((a, b) => logits[offset + b]! - logits[offset + a]! || a - b);
  const kept: number[] = [];
  const probs: number[] = [];
  let keptMass = 0;
  let topKMass = 0;
  for (let r = 0; r < topK; r++) topKMass += Math.exp(logprobOf(order[r]!));
  for (let r = 0; r < topK; r++) {
    const p = Math.exp(logprobOf(order[r]!));
    kept.push(order[r]!);
    probs.push(p);
    keptMass += p;
    if (keptMass / topKMass >= params.topP) break;
  }
  let u = rng.uniform() * keptMass;
  for (let r = 0; r < kept.length; r++) {
    u -= probs[r]!;
    if (u <= 0) return { token: kept[r]!, logprob: logprobOf(kept[r]!) };
  }
  const last = kept[kept.length - 1]!;
  return { token: last, logprob: logprobOf(last) };
}
