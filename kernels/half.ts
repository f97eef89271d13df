// Kernels that read f16 weights (frozen matrices stored in half precision): matmul's B operand and
// the embedding table. Each f16 element is widened to f32 in registers as it is loaded, so
// accumulation and every output stay f32 and match the f32 kernels on the widened values.
// The large-m matmul packs B into f32 panels (kernels/matmul.ts gemm then runs unchanged); the
// small-m (decoding) kernels stream the halves directly, which is where half the bytes pay off.
// Pointers in bytes; element counts and strides in elements (2 bytes each for f16 operands).
import { hsum, loadN, loadStrided, madd, storeN } from './simd';
import { storeRow } from './matmul';

const NR = 8;

/**
 * f16 -> f32 on four lanes, each holding its f16 bits sign-extended to 32 (as v128.load16x4_s
 * gives them). Shifting left by 13 puts the exponent and significand in f32's fields (exponent
 * biased by 15) and the sign at bit 28, with copies above it; masking keeps one copy at bit 31.
 * Multiplying by 2^112 then rebiases the exponent to 127 exactly, normals and subnormals alike,
 * and keeps the sign. Inf and NaN (exponent 31, which lands on 143) get f32's all-ones exponent
 * instead, keeping the NaN payload.
 */
// @ts-ignore: decorator
@inline export function widenHalf(s: v128): v128 {
  const t = v128.and(i32x4.shl(s, 13), i32x4.splat(0x8fffe000));
  const val = f32x4.mul(t, f32x4.splat(5.192296858534828e33)); // 2^112
  const expMask = i32x4.splat(0x0f800000);
  const special = i32x4.eq(v128.and(t, expMask), expMask);
  return v128.or(val, v128.and(special, i32x4.splat(0x7f800000)));
}

/**
 * widenHalf for weights known to hold no Inf or NaN (the backend checks when they are written):
 * the same values for every finite f16, in half the operations, which is most of the cost of a
 * decoding product (one multiply-add per widened vector).
 */
// @ts-ignore: decorator
@inline export function widenFinite(s: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shl(s, 13), i32x4.splat(0x8fffe000)), f32x4.splat(5.192296858534828e33));
}

/** 4 consecutive f16 at ptr, widened. */
// @ts-ignore: decorator
@inline function load4(ptr: usize): v128 {
  return widenHalf(v128.load16x4_s(ptr));
}

/** 4 consecutive f16 at ptr, widened (`finite`: a compile-time 1 when no Inf/NaN can occur). */
// @ts-ignore: decorator
@inline function load4F(ptr: usize, finite: i32): v128 {
  const s = v128.load16x4_s(ptr);
  return finite ? widenFinite(s) : widenHalf(s);
}

/** `count` (1..4; 4 or more: all four) consecutive f16 at ptr, widened; missing lanes are 0. Never reads past the count. */
// @ts-ignore: decorator
@inline function load4N(ptr: usize, count: i32): v128 {
  if (count >= 4) return load4(ptr);
  let v = i32x4.splat(0);
  v = i32x4.replace_lane(v, 0, <i32>load<i16>(ptr));
  if (count > 1) v = i32x4.replace_lane(v, 1, <i32>load<i16>(ptr + 2));
  if (count > 2) v = i32x4.replace_lane(v, 2, <i32>load<i16>(ptr + 4));
  return widenHalf(v);
}

/** packB (kernels/matmul.ts) for an f16 B: the same f32 panels, widened while packing. */
export function packBHalf(b: usize, bp: usize, k: i32, n: i32, transB: i32, bBatchStride: i32, unitOffset: i32, finite: i32,
  start: i32, end: i32, tid: i32): void {
  // `finite` (no Inf or NaN in B, see widenFinite) picks the cheaper widening, a constant in each copy.
  if (finite) packBHalfUnits(b, bp, k, n, transB, bBatchStride, unitOffset, 1, start, end);
  else packBHalfUnits(b, bp, k, n, transB, bBatchStride, unitOffset, 0, start, end);
}

// @ts-ignore: decorator
@inline function packBHalfUnits(b: usize, bp: usize, k: i32, n: i32, transB: i32, bBatchStride: i32, unitOffset: i32, finite: i32,
  start: i32, end: i32): void {
  const panels = (n + NR - 1) / NR;
  const zero = f32x4.splat(0);
  for (let uu = start; uu < end; uu++) {
    const u = uu + unitOffset;
    const t = u / panels, p = u % panels;
    const src = b + (<usize>t * <usize>bBatchStride << 1);
    const dst = bp + (<usize>u * <usize>k * NR << 2);
    const j0 = p * NR;
    const cols = min(NR, n - j0);
    if (!transB) {
      for (let kk = 0; kk < k; kk++) {
        const s = src + ((<usize>kk * <usize>n + <usize>j0) << 1);
        const d = dst + (<usize>kk * NR << 2);
        if (cols == NR) {
          v128.store(d, load4F(s, finite));
          v128.store(d, load4F(s + 8, finite), 16);
        } else {
          v128.store(d, load4N(s, cols));
          v128.store(d, cols > 4 ? load4N(s + 8, cols - 4) : zero, 16);
        }
      }
    } else {
      for (let c = 0; c < NR; c++) {
        const d = dst + (<usize>c << 2);
        if (c >= cols) {
          for (let kk = 0; kk < k; kk++) store<f32>(d + (<usize>kk * NR << 2), 0);
          continue;
        }
        const s = src + ((<usize>(j0 + c) * <usize>k) << 1);
        let kk = 0;
        for (; kk + 4 <= k; kk += 4) {
          const v = load4F(s + (<usize>kk << 1), finite);
          const dk = d + (<usize>kk * NR << 2);
          v128.store_lane<i32>(dk, v, 0);
          v128.store_lane<i32>(dk + NR * 4, v, 1);
          v128.store_lane<i32>(dk + NR * 8, v, 2);
          v128.store_lane<i32>(dk + NR * 12, v, 3);
        }
        for (; kk < k; kk++) v128.store_lane<i32>(d + (<usize>kk * NR << 2), load4N(s + (<usize>kk << 1), 1), 0);
      }
    }
  }
}

/** gemvN (kernels/matmul.ts) with B [k, n] in f16. */
export function gemvNHalf(a: usize, b: usize, out: usize, m: i32, n: i32, k: i32, aRs: i32, aCs: i32, aBatchStride: i32,
  bBatchStride: i32, accumulate: i32, start: i32, end: i32, tid: i32): void {
  const blocks = (n + 15) >> 4;
  const zero = f32x4.splat(0);
  const rs = <usize>aRs << 2, cs = <usize>aCs << 2, bs = <usize>n << 1;
  for (let u = start; u < end; u++) {
    const t = u / blocks;
    const j0 = (u % blocks) << 4;
    const cols = min(16, n - j0);
    const at = a + (<usize>t * <usize>aBatchStride << 2);
    const bt = b + ((<usize>t * <usize>bBatchStride + <usize>j0) << 1);
    for (let i = 0; i < m; i++) {
      let c0 = zero, c1 = zero, c2 = zero, c3 = zero;
      let pa = at + <usize>i * rs;
      let pb = bt;
      if (cols == 16) {
        for (let kk = 0; kk < k; kk++) {
          const av = v128.load32_splat(pa);
          c0 = madd(av, load4(pb), c0);
          c1 = madd(av, load4(pb + 8), c1);
          c2 = madd(av, load4(pb + 16), c2);
          c3 = madd(av, load4(pb + 24), c3);
          pa += cs; pb += bs;
        }
      } else {
        for (let kk = 0; kk < k; kk++) {
          const av = v128.load32_splat(pa);
          c0 = madd(av, load4N(pb, cols), c0);
          if (cols > 4) c1 = madd(av, load4N(pb + 8, cols - 4), c1);
          if (cols > 8) c2 = madd(av, load4N(pb + 16, cols - 8), c2);
          if (cols > 12) c3 = madd(av, load4N(pb + 24, cols - 12), c3);
          pa += cs; pb += bs;
        }
      }
      const dst = out + ((<usize>t * <usize>m * <usize>n + <usize>i * <usize>n + <usize>j0) << 2);
      storeRow(dst, c0, c1, min(8, cols), accumulate);
      if (cols > 8) storeRow(dst + 32, c2, c3, cols - 8, accumulate);
    }
  }
}

/** gemvT (kernels/matmul.ts) with B [n, k] in f16: each output is an A row dotted with a widened B row. */
export function gemvTHalf(a: usize, b: usize, out: usize, m: i32, n: i32, k: i32, aRs: i32, aCs: i32, aBatchStride: i32,
  bBatchStride: i32, accumulate: i32, finite: i32, start: i32, end: i32, tid: i32): void {
  const blocks = (n + 3) >> 2;
  for (let u = start; u < end; u++) {
    const t = u / blocks;
    const j0 = (u % blocks) << 2;
    const at = a + (<usize>t * <usize>aBatchStride << 2);
    const b0 = b + ((<usize>t * <usize>bBatchStride + <usize>j0 * <usize>k) << 1);
    const dst = out + ((<usize>t * <usize>m * <usize>n + <usize>j0) << 2);
    gemvTHalfBlock(at, b0, dst, <usize>n << 2, m, k, aRs, aCs, min(4, n - j0), accumulate, finite);
  }
}

/**
 * One block of gemvTHalf: columns j0..j0+cols (cols 1..4) of every row, B's f16 rows j0.. starting
 * at b0, row i written at dst + i*ds bytes (as kernels/matmul.ts gemvTBlock, on widened weights).
 * `finite`: the weights hold no Inf or NaN (see widenFinite).
 */
export function gemvTHalfBlock(at: usize, b0: usize, dst: usize, ds: usize, m: i32, k: i32, aRs: i32, aCs: i32, cols: i32,
  accumulate: i32, finite: i32): void {
  const ks = <usize>k << 1;
  // Rows past n alias row 0 of the block; their sums are computed and dropped.
  const b1 = cols > 1 ? b0 + ks : b0, b2 = cols > 2 ? b0 + 2 * ks : b0, b3 = cols > 3 ? b0 + 3 * ks : b0;
  // Widening costs more than a multiply-add: with two rows of A, each widened B vector serves
  // both. (Four rows would need 16 accumulators: with the B vectors, more than x64's 16 SIMD registers.)
  let i = 0;
  // Four rows at a time against two B rows: each widened vector serves four multiply-adds (the
  // sums, lane by lane, are those of the two-row code below).
  for (; i + 4 <= m; i += 4) {
    if (finite) {
      gemvTHalfPair(at, b0, b1, dst, ds, i, k, aRs, aCs, 0, cols, accumulate, 1);
      if (cols > 2) gemvTHalfPair(at, b2, b3, dst, ds, i, k, aRs, aCs, 2, cols, accumulate, 1);
    } else {
      gemvTHalfPair(at, b0, b1, dst, ds, i, k, aRs, aCs, 0, cols, accumulate, 0);
      if (cols > 2) gemvTHalfPair(at, b2, b3, dst, ds, i, k, aRs, aCs, 2, cols, accumulate, 0);
    }
  }
  if (finite) {
    for (; i + 2 <= m; i += 2) gemvTHalfRows(at, b0, b1, b2, b3, dst, ds, 2, i, k, aRs, aCs, cols, accumulate, 1);
    if (i < m) gemvTHalfRows(at, b0, b1, b2, b3, dst, ds, 1, i, k, aRs, aCs, cols, accumulate, 1);
  } else {
    for (; i + 2 <= m; i += 2) gemvTHalfRows(at, b0, b1, b2, b3, dst, ds, 2, i, k, aRs, aCs, cols, accumulate, 0);
    if (i < m) gemvTHalfRows(at, b0, b1, b2, b3, dst, ds, 1, i, k, aRs, aCs, cols, accumulate, 0);
  }
}

// @ts-ignore: decorator
@inline function dot4(c0: v128, c1: v128, c2: v128, c3: v128): v128 {
  let res = f32x4.splat(hsum(c0));
  res = f32x4.replace_lane(res, 1, hsum(c1));
  res = f32x4.replace_lane(res, 2, hsum(c2));
  return f32x4.replace_lane(res, 3, hsum(c3));
}

/** Rows i0..i0+rows (rows 1 or 2, a compile-time constant after inlining) of A against the 4 widened B rows b0..b3. */
// @ts-ignore: decorator
@inline function gemvTHalfRows(at: usize, b0: usize, b1: usize, b2: usize, b3: usize, dst: usize, ds: usize, rows: i32, i0: i32, k: i32,
  aRs: i32, aCs: i32, cols: i32, accumulate: i32, finite: i32): void {
  const zero = f32x4.splat(0);
  const rs = <usize>aRs << 2, cs = <isize>aCs << 2;
  const p0 = at + <usize>i0 * rs, p1 = p0 + rs;
  let c00 = zero, c01 = zero, c02 = zero, c03 = zero, c10 = zero, c11 = zero, c12 = zero, c13 = zero;
  let kk = 0;
  for (; kk + 4 <= k; kk += 4) {
    const off = <usize>kk << 1, ao = <usize>kk * cs;
    const w0 = load4F(b0 + off, finite), w1 = load4F(b1 + off, finite), w2 = load4F(b2 + off, finite), w3 = load4F(b3 + off, finite);
    const a0 = aCs == 1 ? v128.load(p0 + ao) : loadStrided(p0 + ao, cs, 4, zero);
    c00 = madd(a0, w0, c00); c01 = madd(a0, w1, c01); c02 = madd(a0, w2, c02); c03 = madd(a0, w3, c03);
    if (rows == 2) {
      const a1 = aCs == 1 ? v128.load(p1 + ao) : loadStrided(p1 + ao, cs, 4, zero);
      c10 = madd(a1, w0, c10); c11 = madd(a1, w1, c11); c12 = madd(a1, w2, c12); c13 = madd(a1, w3, c13);
    }
  }
  if (kk < k) {
    const r = k - kk, off = <usize>kk << 1, ao = <usize>kk * cs;
    const w0 = load4N(b0 + off, r), w1 = load4N(b1 + off, r), w2 = load4N(b2 + off, r), w3 = load4N(b3 + off, r);
    const a0 = loadStrided(p0 + ao, cs, r, zero);
    c00 = madd(a0, w0, c00); c01 = madd(a0, w1, c01); c02 = madd(a0, w2, c02); c03 = madd(a0, w3, c03);
    if (rows == 2) {
      const a1 = loadStrided(p1 + ao, cs, r, zero);
      c10 = madd(a1, w0, c10); c11 = madd(a1, w1, c11); c12 = madd(a1, w2, c12); c13 = madd(a1, w3, c13);
    }
  }
  storeOut(dst + <usize>i0 * ds, dot4(c00, c01, c02, c03), cols, accumulate);
  if (rows == 2) storeOut(dst + <usize>(i0 + 1) * ds, dot4(c10, c11, c12, c13), cols, accumulate);
}

/** Rows i0..i0+4 of A against the widened B rows bA, bB: columns col0 and col0 + 1 (where < cols) of those rows. */
// @ts-ignore: decorator
@inline function gemvTHalfPair(at: usize, bA: usize, bB: usize, dst: usize, ds: usize, i0: i32, k: i32, aRs: i32, aCs: i32,
  col0: i32, cols: i32, accumulate: i32, finite: i32): void {
  const zero = f32x4.splat(0);
  const rs = <usize>aRs << 2, cs = <isize>aCs << 2;
  const p0 = at + <usize>i0 * rs, p1 = p0 + rs, p2 = p1 + rs, p3 = p2 + rs;
  let c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
  let kk = 0;
  for (; kk + 4 <= k; kk += 4) {
    const off = <usize>kk << 1, ao = <usize>kk * cs;
    const w0 = load4F(bA + off, finite), w1 = load4F(bB + off, finite);
    const a0 = aCs == 1 ? v128.load(p0 + ao) : loadStrided(p0 + ao, cs, 4, zero);
    c00 = madd(a0, w0, c00); c01 = madd(a0, w1, c01);
    const a1 = aCs == 1 ? v128.load(p1 + ao) : loadStrided(p1 + ao, cs, 4, zero);
    c10 = madd(a1, w0, c10); c11 = madd(a1, w1, c11);
    const a2 = aCs == 1 ? v128.load(p2 + ao) : loadStrided(p2 + ao, cs, 4, zero);
    c20 = madd(a2, w0, c20); c21 = madd(a2, w1, c21);
    const a3 = aCs == 1 ? v128.load(p3 + ao) : loadStrided(p3 + ao, cs, 4, zero);
    c30 = madd(a3, w0, c30); c31 = madd(a3, w1, c31);
  }
  if (kk < k) {
    const r = k - kk, off = <usize>kk << 1, ao = <usize>kk * cs;
    const w0 = load4N(bA + off, r), w1 = load4N(bB + off, r);
    const a0 = loadStrided(p0 + ao, cs, r, zero), a1 = loadStrided(p1 + ao, cs, r, zero);
    const a2 = loadStrided(p2 + ao, cs, r, zero), a3 = loadStrided(p3 + ao, cs, r, zero);
    c00 = madd(a0, w0, c00); c01 = madd(a0, w1, c01);
    c10 = madd(a1, w0, c10); c11 = madd(a1, w1, c11);
    c20 = madd(a2, w0, c20); c21 = madd(a2, w1, c21);
    c30 = madd(a3, w0, c30); c31 = madd(a3, w1, c31);
  }
  const two = cols - col0 > 1;
  const d = dst + (<usize>col0 << 2) + <usize>i0 * ds;
  storeTwo(d, hsum(c00), hsum(c01), two, accumulate);
  storeTwo(d + ds, hsum(c10), hsum(c11), two, accumulate);
  storeTwo(d + 2 * ds, hsum(c20), hsum(c21), two, accumulate);
  storeTwo(d + 3 * ds, hsum(c30), hsum(c31), two, accumulate);
}

// @ts-ignore: decorator
@inline function storeTwo(dst: usize, x: f32, y: f32, two: bool, accumulate: i32): void {
  store<f32>(dst, accumulate ? x + load<f32>(dst) : x);
  if (two) store<f32>(dst, accumulate ? y + load<f32>(dst, 4) : y, 4);
}

// @ts-ignore: decorator
@inline function storeOut(dst: usize, res: v128, cols: i32, accumulate: i32): void {
  if (accumulate) res = f32x4.add(res, loadN(dst, cols, f32x4.splat(0)));
  storeN(dst, res, cols);
}

/** embedding (kernels/norm.ts) from an f16 table: out[r, :] = widen(table[ids[r], :]). */
export function embeddingHalf(table: usize, ids: usize, out: usize, dim: i32, start: i32, end: i32, tid: i32): void {
  for (let r = start; r < end; r++) {
    const src = table + (<usize>load<i32>(ids + (<usize>r << 2)) * <usize>dim << 1);
    const dst = out + (<usize>r * <usize>dim << 2);
    for (let j = 0; j < dim; j += 4) {
      const n = min(4, dim - j);
      storeN(dst + (<usize>j << 2), load4N(src + (<usize>j << 1), n), n);
    }
  }
}
