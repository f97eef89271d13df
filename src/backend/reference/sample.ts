/**
 * The reference definition of `Backend.sample` for one row, in float64; the host sampler
 * (src/generation/sampler.ts) draws through it, so for the same uniform the two return the same
 * token and log-prob, bit for bit.
 */
import type { SampleArgs } from '../backend.js';

/** A row's uniform from its 32 random bits, as Prng.uniform() makes it. */
export const uniformFromBits = (bits: number): number => (bits >>> 0) / 4294967296;

export function sampleRow(logits: Float32Array | Float64Array, offset: number, vocab: number, args: SampleArgs, u: number):
  { token: number; logprob: number } {
  const t = args.temperature > 0 ? args.temperature : 1;
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
  const pick = (i: number): { token: number; logprob: number } => ({ token: i, logprob: logprobOf(i) });
  if (args.temperature === 0) return pick(argmax);

  const topK = args.topK > 0 ? Math.min(args.topK, vocab) : vocab;
  if (topK === vocab && args.topP >= 1) {
    let rest = u * sum;
    for (let i = 0; i < vocab; i++) {
      rest -= Math.exp((logits[offset + i]! - max) / t);
      if (rest <= 0) return pick(i);
    }
    return pick(argmax);
  }
  const order = Array.from({ length: vocab }, (_, i) => i);
  order.sort((a, b) => logits[offset + b]! - logits[offset + a]! || a - b);
  let topKMass = 0;
  for (let r = 0; r < topK; r++) topKMass += Math.exp(logprobOf(order[r]!));
  const probs: number[] = [];
  let keptMass = 0;
  for (let r = 0; r < topK; r++) {
    const p = Math.exp(logprobOf(order[r]!));
    probs.push(p);
    keptMass += p;
    if (keptMass / topKMass >= args.topP) break;
  }
  let rest = u * keptMass;
  for (let r = 0; r < probs.length; r++) {
    rest -= probs[r]!;
    if (rest <= 0) return pick(order[r]!);
  }
  return pick(order[probs.length - 1]!);
}
