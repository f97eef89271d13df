/** Test helpers for src/rl: seeded data, float64 finite differences, tolerant comparisons. */
import assert from 'node:assert/strict';

/** Deterministic uniform generator (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(rand: () => number, n: number, lo: number, hi: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

/** Right-padded response mask `[batch, T]` from per-row lengths. */
export function maskFromLengths(lengths: number[], T: number): Float64Array {
  const m = new Float64Array(lengths.length * T);
  lengths.forEach((len, i) => {
    for (let t = 0; t < len; t++) m[i * T + t] = 1;
  });
  return m;
}

/** |a − b| ≤ atol + rtol·|b|, elementwise, with the first offending index in the message. */
export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-6, rtol = 1e-5, what = ''): void {
  assert.equal(actual.length, expected.length, `${what} length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      assert.fail(`${what}[${i}]: got ${a}, expected ${e}`);
    }
  }
}

export function assertClose(actual: number, expected: number, atol = 1e-9, rtol = 1e-7, what = ''): void {
  if (!(Math.abs(actual - expected) <= atol + rtol * Math.abs(expected))) {
    assert.fail(`${what}: got ${actual}, expected ${expected}`);
  }
}

/** Central differences in float64: ∂f/∂x_k ≈ (f(x + h e_k) − f(x − h e_k)) / 2h. */
export function centralDiff(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  const y = Float64Array.from(x);
  for (let k = 0; k < x.length; k++) {
    y[k] = x[k]! + h;
    const fp = f(y);
    y[k] = x[k]! - h;
    const fm = f(y);
    y[k] = x[k]!;
    g[k] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Reference whitening in float64 with veRL's Bessel correction, valid positions only. */
export function whitenRef(x: ArrayLike<number>, mask: ArrayLike<number>): Float64Array {
  let n = 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) if (mask[i]) { n++; s += x[i]!; }
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < x.length; i++) if (mask[i]) ss += (x[i]! - mean) ** 2;
  const varUnbiased = ss / (n - 1);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = mask[i] ? (x[i]! - mean) / Math.sqrt(varUnbiased + 1e-8) : 0;
  return out;
}
