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
