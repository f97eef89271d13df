/**
 * Shared shapes for the RL core. Every per-token array is batch-major `[batch, responseLength]`
 * flattened into one typed array, so element (i, t) sits at `i * responseLength + t`.
 * Inputs accept Float64Array too so tests can differentiate in double precision; every
 * computation runs in JS doubles and outputs are Float32Array, what the engine consumes.
 */
export type FloatArray = Float32Array | Float64Array;

/** Group id of each sequence (veRL's `uid`), one per row; equal ids form one prompt group. */
export type GroupIndex = ArrayLike<string | number>;

/** `actor.loss_agg_mode` / `critic.loss_agg_mode`: the one list (the config's schema reads it). */
export const lossAggModes = ['token-mean', 'seq-mean-token-sum', 'seq-mean-token-mean', 'seq-mean-token-sum-norm'] as const;
export type LossAggMode = (typeof lossAggModes)[number];

/** Number of rows of a `[batch, responseLength]` array; throws when the length does not divide. */
export function rowsOf(name: string, x: ArrayLike<number>, responseLength: number): number {
  if (!Number.isInteger(responseLength) || responseLength <= 0) {
    throw new RangeError(`responseLength must be a positive integer, got ${responseLength}`);
  }
  if (x.length % responseLength !== 0) {
    throw new RangeError(`${name} has ${x.length} elements, not a multiple of responseLength ${responseLength}`);
  }
  return x.length / responseLength;
}

/** Throws unless every named array has exactly `n` elements. */
export function assertLength(n: number, arrays: Record<string, ArrayLike<unknown>>): void {
  for (const [name, a] of Object.entries(arrays)) {
    if (a.length !== n) throw new RangeError(`${name} has ${a.length} elements, expected ${n}`);
  }
}
