// Shared SIMD helpers for every kernel family. All are inlined into their callers.
// Vectors hold four f32 lanes; "count" arguments are 1..4 lanes for the ragged tail of a row.

/** a * b + c. Relaxed SIMD gives one fused instruction (FMA on x64/arm64); the plain-SIMD build
 *  uses mul + add. The branch is on a compile-time constant, so each build keeps only one. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/** Loads `count` consecutive lanes (4 or more: a full vector) from ptr; missing lanes are `pad`. Never reads past the count. */
// @ts-ignore: decorator
@inline export function loadN(ptr: usize, count: i32, pad: v128): v128 {
  if (count >= 4) return v128.load(ptr);
  let v = v128.load_lane<i32>(ptr, pad, 0);
  if (count > 1) v = v128.load_lane<i32>(ptr + 4, v, 1);
  if (count > 2) v = v128.load_lane<i32>(ptr + 8, v, 2);
  if (count > 3) v = v128.load_lane<i32>(ptr + 12, v, 3);
  return v;
}

/** Loads `count` (1..4) lanes `strideBytes` apart (bit copies, so i32 data passes unchanged). */
// @ts-ignore: decorator
@inline export function loadStrided(ptr: usize, strideBytes: isize, count: i32, pad: v128): v128 {
  let v = v128.load_lane<i32>(ptr, pad, 0);
  if (count > 1) v = v128.load_lane<i32>(ptr + strideBytes, v, 1);
  if (count > 2) v = v128.load_lane<i32>(ptr + 2 * strideBytes, v, 2);
  if (count > 3) v = v128.load_lane<i32>(ptr + 3 * strideBytes, v, 3);
  return v;
}

/** Stores the first `count` lanes of v (all four when count >= 4) consecutively from ptr. */
// @ts-ignore: decorator
@inline export function storeN(ptr: usize, v: v128, count: i32): void {
  if (count >= 4) { v128.store(ptr, v); return; }
  v128.store_lane<i32>(ptr, v, 0);
  if (count > 1) v128.store_lane<i32>(ptr + 4, v, 1);
  if (count > 2) v128.store_lane<i32>(ptr + 8, v, 2);
  if (count > 3) v128.store_lane<i32>(ptr + 12, v, 3);
}

/** Stores the first `count` (1..4) lanes of v, `strideBytes` apart. */
// @ts-ignore: decorator
@inline export function storeStrided(ptr: usize, strideBytes: isize, v: v128, count: i32): void {
  v128.store_lane<i32>(ptr, v, 0);
  if (count > 1) v128.store_lane<i32>(ptr + strideBytes, v, 1);
  if (count > 2) v128.store_lane<i32>(ptr + 2 * strideBytes, v, 2);
  if (count > 3) v128.store_lane<i32>(ptr + 3 * strideBytes, v, 3);
}

/**
 * exp(x) on four lanes, Cephes expf: x = n*ln2 + r with |r| <= ln2/2, exp(r) by a degree-6
 * polynomial, 2^n built in the exponent bits. About 1 ulp. Underflow (x < -87.3) gives 0,
 * overflow (x > 88.7) gives +inf, NaN stays NaN.
 */
// @ts-ignore: decorator
@inline export function expv(x: v128): v128 {
  // pmin/pmax are one instruction each (minps/maxps); the NaN-propagating min/max are a sequence
  // of six or more on x64. A NaN still passes through both (a comparison with NaN keeps `x`).
  const xc = f32x4.pmax(f32x4.pmin(x, f32x4.splat(88.3)), f32x4.splat(-87.3));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  let r = madd(n, f32x4.splat(-0.693359375), xc);
  r = madd(n, f32x4.splat(2.12194440e-4), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  const r2 = f32x4.mul(r, r);
  const y = f32x4.add(madd(p, r2, r), f32x4.splat(1.0));
  // n is a whole number in [-126, 128] here, so the relaxed conversion (one cvttps2dq) is exact.
  const ni = ASC_FEATURE_RELAXED_SIMD ? i32x4.relaxed_trunc_f32x4_s(n) : i32x4.trunc_sat_f32x4_s(n);
  const scale = i32x4.shl(i32x4.add(ni, i32x4.splat(127)), 23);
  let out = f32x4.mul(y, scale);
  out = v128.andnot(out, f32x4.lt(x, f32x4.splat(-87.3)));
  return v128.bitselect(f32x4.splat(Infinity), out, f32x4.gt(x, f32x4.splat(88.7)));
}

/**
 * exp(x) on four lanes for x <= 88 (softmax-style arguments x - max <= 0), in a third of expv's
 * time (2.2 against 6.3 ns per vector in a summing loop here): the row kernels spend most of their time in exp, and the general version's overflow
 * select, float-to-int conversion and degree-7 polynomial cost more than the memory traffic.
 * x = n*ln2 + t by the round-to-nearest "magic number" trick: x*log2e + (1.5*2^23 + 127) leaves
 * n + 127 in the low mantissa bits, so 2^n is those bits shifted into the exponent field, with no
 * conversion instruction. exp(t) on |t| <= ln2/2 by a degree-5 minimax polynomial (the
 * coefficients of XNNPACK's rr2-p5 kernels): at most 2 ulp (1.8e-7 relative, measured over
 * [-88, 0] in both builds). x is first clamped to -87.9, where n = -127 and the exponent field
 * is 0, so anything below (-inf included) gives exactly 0 and never wraps; the band
 * (-87.9, -87.3] gives denormals or 0 where the exact value is a denormal. NaN stays NaN.
 */
/** The clamp of expNeg: at and below it the result is exactly 0. */
export const EXP_NEG_MIN: f32 = -87.9;

// @ts-ignore: decorator
@inline export function expNeg(x: v128): v128 {
  // pmax is one instruction (maxps) and keeps a NaN in x (the comparison with NaN fails).
  return expNegClamped(f32x4.pmax(x, f32x4.splat(EXP_NEG_MIN)));
}

/** expNeg of an argument already clamped to [EXP_NEG_MIN, 88]: for callers that use the clamped value too. */
// @ts-ignore: decorator
@inline export function expNegClamped(xc: v128): v128 {
  const magic = f32x4.splat(12583039.0); // 0x1.8000FEp23: 1.5*2^23 + 127
  const nb = madd(xc, f32x4.splat(1.4426950216293335), magic);
  const s = i32x4.shl(nb, 23);
  const n = f32x4.sub(nb, magic);
  // ln2 in two parts (Cody-Waite): n * hi is exact, so t carries no error from the reduction.
  let t = madd(n, f32x4.splat(-0.693145751953125), xc);
  t = madd(n, f32x4.splat(-1.428606765330187e-6), t);
  let p = madd(f32x4.splat(0.008289290592074394), t, f32x4.splat(0.04189782217144966));
  p = madd(p, t, f32x4.splat(0.16667652130126953));
  p = madd(p, t, f32x4.splat(0.4999915063381195));
  p = madd(p, t, f32x4.splat(0.9999997019767761));
  // s * (1 + t*p) as s + (t*s)*p: one multiply-add at the end.
  return madd(f32x4.mul(t, s), p, s);
}

/** The clamp of exp2Clamped (EXP_NEG_MIN in base 2): at and below it the result is exactly 0. */
export const EXP2_NEG_MIN: f32 = -126.8;

/**
 * 2^u for u already clamped to [EXP2_NEG_MIN, 127], for sums of exps (kernels/logprob.ts) whose
 * callers scale their argument by log2(e) in a multiply-add they do anyway. The reduction is two
 * exact subtractions (u - round(u) has no rounding error), where expNegClamped needs a multiply-add
 * to scale and two for ln2 in two parts, and 2^f on [-1/2, 1/2] is 1 + f * p(f) with p of degree 4
 * fitted for relative error: 1.6e-7 at most in float32, the accuracy of expNeg (1.8e-7). A degree-3
 * p (2.9e-6) was 13% faster (8.05 against 7.0 GB/s) but doubled the entropy's error; we keep exp
 * within a couple of ulp everywhere in the engine.
 */
// @ts-ignore: decorator
@inline export function exp2Clamped(u: v128): v128 {
  const magic = f32x4.splat(12583039.0); // 0x1.8000FEp23: 1.5*2^23 + 127
  const nb = f32x4.add(u, magic);
  const s = i32x4.shl(nb, 23);
  const f = f32x4.sub(u, f32x4.sub(nb, magic));
  let p = madd(f32x4.splat(0.001326471470), f, f32x4.splat(0.009671513522));
  p = madd(p, f, f32x4.splat(0.05550733785));
  p = madd(p, f, f32x4.splat(0.2402224207));
  p = madd(p, f, f32x4.splat(0.6931469776));
  return madd(f32x4.mul(f, s), p, s);
}

/**
 * Max (largest) or min of a contiguous run of n floats (n >= 1) for the softmax family, with
 * pmax/pmin (one maxps against six or more instructions for the NaN-propagating f32x4.max on x64)
 * and four accumulators: a load and a maxps per vector. `largest` is always a literal, so after
 * inlining the choice folds away. pmax drops a NaN, but the caller's sum of exp(x - max) then holds
 * that NaN, so the row comes out NaN as it would with a NaN max.
 */
// @ts-ignore: decorator
@inline function rowExtremeLoose(p: usize, n: i32, largest: bool): f32 {
  const start = f32x4.splat(largest ? -Infinity : Infinity);
  let a0 = start, a1 = start, a2 = start, a3 = start;
  let j = 0;
  for (; j + 16 <= n; j += 16) {
    const q = p + (<usize>j << 2);
    a0 = pickLoose(a0, v128.load(q), largest);
    a1 = pickLoose(a1, v128.load(q, 16), largest);
    a2 = pickLoose(a2, v128.load(q, 32), largest);
    a3 = pickLoose(a3, v128.load(q, 48), largest);
  }
  for (; j < n; j += 4) a0 = pickLoose(a0, loadN(p + (<usize>j << 2), min(4, n - j), start), largest);
  const v = pickLoose(pickLoose(a0, a1, largest), pickLoose(a2, a3, largest), largest);
  if (largest) return hmax(v);
  return min(min(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), min(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

// @ts-ignore: decorator
@inline function pickLoose(a: v128, b: v128, largest: bool): v128 {
  return largest ? f32x4.pmax(a, b) : f32x4.pmin(a, b);
}

/** Max of a contiguous run of n floats (n >= 1); a NaN is dropped (see rowExtremeLoose). */
// @ts-ignore: decorator
@inline export function rowMaxLoose(p: usize, n: i32): f32 {
  return rowExtremeLoose(p, n, true);
}

/** Min of a contiguous run of n floats (n >= 1); a NaN is dropped (see rowExtremeLoose). */
// @ts-ignore: decorator
@inline export function rowMinLoose(p: usize, n: i32): f32 {
  return rowExtremeLoose(p, n, false);
}

/**
 * dot(a[0..n), b[0..n)) with two accumulators over whole vectors, so no multiply-add waits on the
 * one before it (one accumulator held a row sum to ~15 GB/s here), and loadN only for the tail.
 */
// @ts-ignore: decorator
@inline export function rowDot(a: usize, b: usize, n: i32): f32 {
  const zero = f32x4.splat(0);
  let a0 = zero, a1 = zero;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const o = <usize>j << 2;
    a0 = madd(v128.load(a + o), v128.load(b + o), a0);
    a1 = madd(v128.load(a + o, 16), v128.load(b + o, 16), a1);
  }
  for (; j < n; j += 4) {
    const o = <usize>j << 2, c = min(4, n - j);
    a0 = madd(loadN(a + o, c, zero), loadN(b + o, c, zero), a0);
  }
  return hsum(f32x4.add(a0, a1));
}

/** Scalar exp through the vector path, so scalar and vector results agree bit for bit. */
// @ts-ignore: decorator
@inline export function expf(x: f32): f32 {
  return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
}

/** 1 / (1 + exp(-x)) on four lanes. */
// @ts-ignore: decorator
@inline export function sigmoidv(x: v128): v128 {
  return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), expv(f32x4.neg(x))));
}
