/**
 * Masked reductions (veRL `verl/utils/torch_functional.py`). Masks are 0/1 floats of the same
 * shape as the data; every sum runs in doubles.
 */
import { assertLength, type FloatArray } from './types.js';

/** x, mask: same length, any shape -> Σ x·m. */
export function maskedSum(x: ArrayLike<number>, mask: ArrayLike<number>): number {
  assertLength(x.length, { mask });
  let s = 0;
  // Skipping m = 0 keeps garbage (even NaN) at padded positions out of the sum.
  for (let i = 0; i < x.length; i++) if (mask[i] !== 0) s += x[i]! * mask[i]!;
  return s;
}

/** mask: any shape -> Σ m. */
export function maskCount(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i]!;
  return n;
}

/**
 * x, mask: same length -> Σ x·m / Σ m. TinyZero divides with no epsilon, so an empty mask is NaN
 * there; here it is 0, so one empty micro-batch cannot poison a step's metrics.
 */
export function maskedMean(x: ArrayLike<number>, mask: ArrayLike<number>): number {
  const n = maskCount(mask);
  return n === 0 ? 0 : maskedSum(x, mask) / n;
}

/**
 * x, mask: `[batch, responseLength]` -> `[batch]` per-row masked mean; a row with no valid token
 * gives 0 (see `maskedMean`).
 */
export function maskedRowMean(x: ArrayLike<number>, mask: ArrayLike<number>, responseLength: number): Float64Array {
  assertLength(x.length, { mask });
  const rows = x.length / responseLength;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    let n = 0;
    for (let t = i * responseLength; t < (i + 1) * responseLength; t++) {
      if (mask[t] === 0) continue;
      s += x[t]! * mask[t]!;
      n += mask[t]!;
    }
    out[i] = n === 0 ? 0 : s / n;
  }
  return out;
}

/**
 * x, mask: same length -> masked variance. `unbiased` applies veRL's Bessel factor Σm/(Σm−1),
 * and like veRL it refuses Σm ∈ {0, 1} rather than return a division by zero.
 */
export function maskedVar(x: ArrayLike<number>, mask: ArrayLike<number>, unbiased = true): number {
  const n = maskCount(mask);
  if (n === 0) throw new RangeError('maskedVar: at least one element in the mask has to be 1');
  const mean = maskedSum(x, mask) / n;
  let ss = 0;
  for (let i = 0; i < x.length; i++) if (mask[i] !== 0) ss += (x[i]! - mean) ** 2 * mask[i]!;
  const v = ss / n;
  if (!unbiased) return v;
  if (n === 1) throw new RangeError('maskedVar: the mask sums to one, which makes the Bessel correction divide by zero');
  return (v * n) / (n - 1);
}

/**
 * x, mask: same length -> whitened x, same length: `(x − mean)·rsqrt(var + 1e-8)` with the
 * masked mean and Bessel-corrected masked variance; `shiftMean = false` adds the mean back.
 * Positions with m = 0 are whitened too (veRL does not mask the output); callers mask as needed.
 */
export function maskedWhiten(x: FloatArray, mask: ArrayLike<number>, shiftMean = true): Float64Array {
  const n = maskCount(mask);
  const v = maskedVar(x, mask, true);
  const mean = maskedSum(x, mask) / n;
  const r = 1 / Math.sqrt(v + 1e-8);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i]! - mean) * r + (shiftMean ? 0 : mean);
  return out;
}
