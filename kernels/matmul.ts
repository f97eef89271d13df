// Matrix multiply. The general path packs B into column panels of 8 (zero-padded), then runs a
// 4x8 register-blocked micro-kernel over row blocks, so every op(A)/op(B) layout shares one kernel:
// op(A)[i, p] is read at a + i*aRs + p*aCs (any strides, splat-loaded), packed B is contiguous.
// Small m (decoding) skips packing: the gemv kernels stream B once, directly.
// Strides and batch strides are in elements; pointers in bytes.
import { hsum, loadN, loadStrided, madd, storeN } from './simd';

const NR = 8;

/**
 * Packs units [start, end) of (batch item, panel), shifted by unitOffset: panel p of item t holds
 * op(B)[kk, 8p..8p+8) for every kk, 8 consecutive floats per kk, at bp + (t*panels + p)*k*8 floats.
 * Columns >= n are zero. (A wide B is packed a range of panels at a time: unitOffset is the range's
 * first panel, and bp is moved back by as many panels, wrapping, so the range lands at the scratch.)
 */
export function packB(b: usize, bp: usize, k: i32, n: i32, transB: i32, bBatchStride: i32, unitOffset: i32, start: i32, end: i32, tid: i32): void {
  const panels = (n + NR - 1) / NR;
  for (let uu = start; uu < end; uu++) {
    const u = uu + unitOffset;
    const t = u / panels, p = u % panels;
    const src = b + (<usize>t * <usize>bBatchStride << 2);
    const dst = bp + (<usize>u * <usize>k * NR << 2);
    const j0 = p * NR;
    const cols = min(NR, n - j0);
    if (!transB) {
      // op(B) = B [k, n]: row kk of the panel is 8 consecutive floats of B's row kk.
      packBSlice(src, dst, n, 0, k, p, p + 1);
    } else {
      // op(B) = B^T with B [n, k]: column j of the panel is B's contiguous row j.
      for (let c = 0; c < NR; c++) {
        const d = dst + (<usize>c << 2);
        if (c >= cols) {
          for (let kk = 0; kk < k; kk++) store<f32>(d + (<usize>kk * NR << 2), 0);
          continue;
        }
        const s = src + ((<usize>(j0 + c) * <usize>k) << 2);
        let kk = 0;
        for (; kk + 4 <= k; kk += 4) {
          const v = v128.load(s + (<usize>kk << 2));
          const dk = d + (<usize>kk * NR << 2);
          v128.store_lane<i32>(dk, v, 0);
          v128.store_lane<i32>(dk + NR * 4, v, 1);
          v128.store_lane<i32>(dk + NR * 8, v, 2);
          v128.store_lane<i32>(dk + NR * 12, v, 3);
        }
        for (; kk < k; kk++) store<f32>(d + (<usize>kk * NR << 2), load<f32>(s + (<usize>kk << 2)));
      }
    }
  }
}

// @ts-ignore: decorator
@inline export function storeRow(dst: usize, c0: v128, c1: v128, cols: i32, accumulate: i32): void {
  if (cols == NR) {
    if (accumulate) {
      c0 = f32x4.add(c0, v128.load(dst));
      c1 = f32x4.add(c1, v128.load(dst, 16));
    }
    v128.store(dst, c0);
    v128.store(dst, c1, 16);
    return;
  }
  const zero = f32x4.splat(0);
  const n0 = min(4, cols), n1 = cols - 4;
  if (accumulate) c0 = f32x4.add(c0, loadN(dst, n0, zero));
  storeN(dst, c0, n0);
  if (n1 > 0) {
    if (accumulate) c1 = f32x4.add(c1, loadN(dst + 16, n1, zero));
    storeN(dst + 16, c1, n1);
  }
}

/**
 * dst[i, 0..cols) (+)= A[i] . panel columns for rows i in [i0, i1): the 4x8 micro-kernel over one
 * packed panel (A rows `rs` bytes apart, k steps `cs` bytes apart; dst rows `ds` bytes apart). The
 * fused decode kernels run the same chain per element, so their results are bit for bit gemm's.
 */
// @ts-ignore: decorator
@inline export function panelRowRange(a: usize, rs: usize, cs: usize, panel: usize, k: i32, i0: i32, i1: i32,
  dst: usize, ds: usize, cols: i32, accumulate: i32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    let pa = a + <usize>i * rs;
    let pb = panel;
    for (let kk = 0; kk < k; kk++) {
      const b0 = v128.load(pb), b1 = v128.load(pb, 16);
      const a0 = v128.load32_splat(pa);
      const a1 = v128.load32_splat(pa + rs);
      const a2 = v128.load32_splat(pa + 2 * rs);
      const a3 = v128.load32_splat(pa + 3 * rs);
      c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
      c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
      c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
      c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
      pa += cs;
      pb += NR * 4;
    }
    const d = dst + <usize>i * ds;
    storeRow(d, c00, c01, cols, accumulate);
    storeRow(d + ds, c10, c11, cols, accumulate);
    storeRow(d + 2 * ds, c20, c21, cols, accumulate);
    storeRow(d + 3 * ds, c30, c31, cols, accumulate);
  }
  for (; i < i1; i++) {
    let c0 = f32x4.splat(0), c1 = c0;
    let pa = a + <usize>i * rs;
    let pb = panel;
    for (let kk = 0; kk < k; kk++) {
      const a0 = v128.load32_splat(pa);
      c0 = madd(a0, v128.load(pb), c0);
      c1 = madd(a0, v128.load(pb, 16), c1);
      pa += cs;
      pb += NR * 4;
    }
    storeRow(dst + <usize>i * ds, c0, c1, cols, accumulate);
  }
}

/** out rows [r0, r1) x panels [p0, p1) of one batch item. a, bp, out point at that item. */
function gemmBlock(a: usize, bp: usize, out: usize, m: i32, n: i32, k: i32, aRs: i32, aCs: i32, accumulate: i32,
  r0: i32, r1: i32, p0: i32, p1: i32): void {
  const rs = <usize>aRs << 2, cs = <usize>aCs << 2;
  // Rows in chunks whose A slice stays in L2 while every panel of the range streams past it.
  const mc = max(4, (65536 / max(k, 1)) & ~3); // CpuBackend #splitCols mirrors this
  for (let rc = r0; rc < r1; rc += mc) {
    const rcEnd = min(r1, rc + mc);
    for (let p = p0; p < p1; p++) {
      const panel = bp + (<usize>p * <usize>k * NR << 2);
      const j0 = p * NR;
      const cols = min(NR, n - j0);
      panelRowRange(a, rs, cs, panel, k, rc, rcEnd, out + (<usize>j0 << 2), <usize>n << 2, cols, accumulate);
    }
  }
}

/**
 * out[t] (+)= op(A[t]) @ op(B[t]) from packed B. Units [start, end) are (batch item, row block of 4)
 * when splitCols is 0, (batch item, panel) otherwise. bpBatchStride is 0 when one packed B serves
 * every item (bBatchStride 0), else panels*k*8.
 */
export function gemm(a: usize, bp: usize, out: usize, m: i32, n: i32, k: i32, aRs: i32, aCs: i32, aBatchStride: i32,
  bpBatchStride: i32, accumulate: i32, splitCols: i32, p0: i32, p1: i32, start: i32, end: i32, tid: i32): void {
  // Only panels [p0, p1) are computed (all of them unless a wide B is packed a range at a time).
  const per = splitCols ? p1 - p0 : (m + 3) >> 2;
  let u = start;
  while (u < end) {
    const t = u / per;
    const segEnd = min(end, (t + 1) * per);
    const lo = u - t * per, hi = segEnd - t * per;
    const at = a + (<usize>t * <usize>aBatchStride << 2);
    const bt = bp + (<usize>t * <usize>bpBatchStride << 2);
    const ot = out + (<usize>t * <usize>m * <usize>n << 2);
    if (splitCols) gemmBlock(at, bt, ot, m, n, k, aRs, aCs, accumulate, 0, m, p0 + lo, p0 + hi);
    else gemmBlock(at, bt, ot, m, n, k, aRs, aCs, accumulate, lo << 2, min(m, hi << 2), p0, p1);
    u = segEnd;
  }
}

/**
 * Small-m product with op(B) = B [k, n] read in place: units are (batch item, block of 16 columns).
 * Each A element is splat once per k step and multiplies 16 columns of B's row.
 */
export function gemvN(a: usize, b: usize, out: usize, m: i32, n: i32, k: i32, aRs: i32, aCs: i32, aBatchStride: i32,
  bBatchStride: i32, accumulate: i32, start: i32, end: i32, tid: i32): void {
  const blocks = (n + 15) >> 4;
  const zero = f32x4.splat(0);
  const rs = <usize>aRs << 2, cs = <usize>aCs << 2, bs = <usize>n << 2;
  for (let u = start; u < end; u++) {
    const t = u / blocks;
    const j0 = (u % blocks) << 4;
    const cols = min(16, n - j0);
    const at = a + (<usize>t * <usize>aBatchStride << 2);
    const bt = b + ((<usize>t * <usize>bBatchStride + <usize>j0) << 2);
    for (let i = 0; i < m; i++) {
      let c0 = zero, c1 = zero, c2 = zero, c3 = zero;
      let pa = at + <usize>i * rs;
      let pb = bt;
      if (cols == 16) {
        for (let kk = 0; kk < k; kk++) {
          const av = v128.load32_splat(pa);
          c0 = madd(av, v128.load(pb), c0);
          c1 = madd(av, v128.load(pb, 16), c1);
          c2 = madd(av, v128.load(pb, 32), c2);
          c3 = madd(av, v128.load(pb, 48), c3);
          pa += cs; pb += bs;
        }
      } else {
        for (let kk = 0; kk < k; kk++) {
          const av = v128.load32_splat(pa);
          c0 = madd(av, loadN(pb, cols, zero), c0);
          if (cols > 4) c1 = madd(av, loadN(pb + 16, cols - 4, zero), c1);
          if (cols > 8) c2 = madd(av, loadN(pb + 32, cols - 8, zero), c2);
          if (cols > 12) c3 = madd(av, loadN(pb + 48, cols - 12, zero), c3);
          pa += cs; pb += bs;
        }
      }
      const dst = out + ((<usize>t * <usize>m * <usize>n + <usize>i * <usize>n + <usize>j0) << 2);
      storeRow(dst, c0, c1, min(8, cols), accumulate);
      if (cols > 8) storeRow(dst + 32, c2, c3, cols - 8, accumulate);
    }
  }
}

/**
 * Small-m product with op(B) = B^T, B [n, k] read in place: units are (batch item, block of 4
 * columns); each output is a dot product of an A row with a contiguous B row.
 */
export function gemvT(a: usize, b: usize, out: usize, m: i32, n: i32, k: i32, aRs: i32, aCs: i32, aBatchStride: i32,
  bBatchStride: i32, accumulate: i32, start: i32, end: i32, tid: i32): void {
  const blocks = (n + 3) >> 2;
  for (let u = start; u < end; u++) {
    const t = u / blocks;
    const j0 = (u % blocks) << 2;
    const at = a + (<usize>t * <usize>aBatchStride << 2);
    const b0 = b + ((<usize>t * <usize>bBatchStride + <usize>j0 * <usize>k) << 2);
    const dst = out + ((<usize>t * <usize>m * <usize>n + <usize>j0) << 2);
    gemvTBlock(at, b0, dst, <usize>n << 2, m, k, aRs, aCs, min(4, n - j0), accumulate);
  }
}

/**
 * One block of gemvT: columns j0..j0+cols (cols 1..4) of every row, B's rows j0.. starting at b0,
 * row i written at dst + i*ds bytes. linearGroup (kernels/linear-group.ts) runs the same blocks, so
 * its sums are these, bit for bit.
 */
export function gemvTBlock(at: usize, b0: usize, dst: usize, ds: usize, m: i32, k: i32, aRs: i32, aCs: i32, cols: i32,
  accumulate: i32): void {
  const zero = f32x4.splat(0);
  const rs = <usize>aRs << 2, cs = <isize>aCs << 2, ks = <usize>k << 2;
  // Rows past n alias row 0 of the block; their sums are computed and dropped.
  const b1 = cols > 1 ? b0 + ks : b0, b2 = cols > 2 ? b0 + 2 * ks : b0, b3 = cols > 3 ? b0 + 3 * ks : b0;
  for (let i = 0; i < m; i++) {
    let c0 = zero, c1 = zero, c2 = zero, c3 = zero;
    const pa = at + <usize>i * rs;
    let kk = 0;
    for (; kk + 4 <= k; kk += 4) {
      const off = <usize>kk << 2;
      const av = aCs == 1 ? v128.load(pa + off) : loadStrided(pa + <usize>kk * cs, cs, 4, zero);
      c0 = madd(av, v128.load(b0 + off), c0);
      c1 = madd(av, v128.load(b1 + off), c1);
      c2 = madd(av, v128.load(b2 + off), c2);
      c3 = madd(av, v128.load(b3 + off), c3);
    }
    if (kk < k) {
      const off = <usize>kk << 2, r = k - kk;
      const av = loadStrided(pa + <usize>kk * cs, cs, r, zero);
      c0 = madd(av, loadN(b0 + off, r, zero), c0);
      c1 = madd(av, loadN(b1 + off, r, zero), c1);
      c2 = madd(av, loadN(b2 + off, r, zero), c2);
      c3 = madd(av, loadN(b3 + off, r, zero), c3);
    }
    let res = f32x4.splat(hsum(c0));
    res = f32x4.replace_lane(res, 1, hsum(c1));
    res = f32x4.replace_lane(res, 2, hsum(c2));
    res = f32x4.replace_lane(res, 3, hsum(c3));
    const d = dst + <usize>i * ds;
    if (accumulate) res = f32x4.add(res, loadN(d, cols, zero));
    storeN(d, res, cols);
  }
}

// --- op(A) = A^T (a Linear's weight gradient dW = X^T dY, k = tokens) ------------------------------
// With k in the tens of thousands a 4x8 tile's k-long A and B streams leave the caches, so the TN
// path blocks k: each KC-step slice of a B panel (16 KB) stays in L1 while a unit's rows of A for
// that slice (64 to PACK_MC, chosen by CpuBackend: tnUnitRows), packed into the thread's own scratch
// (up to 512 KB), stay in L2 across every panel. A [k, m] holds
// op(A)[i..i+4, kk] as 4 consecutive floats, so the packing reads A's rows contiguously. Blocks
// after the first continue from the partial sums in out, so the terms are added in the same order
// as one k-long pass: the result is bit for bit the unblocked kernel's. (When accumulating, the old
// out is added before the first block's sum rather than after the whole sum: equal within float32
// rounding.)

const KC = 512;
/** The shortest k block of the in-place path (a wide A): shorter blocks reload and store the partial sums too often. */
const IN_PLACE_MIN_KC = 64;
/** How gemmTN reads A: packed a unit's rows at a time (packABlock), in place, or packed 20 columns at a time (packAGroup). */
const A_PACKED = 0, A_IN_PLACE = 1, A_GROUPS = 2;
/** How gemmTN reads B: panels packed by packB beforehand, B [k, n] in place, or B [k, n] packed a k block at a time (packBSlice). */
const B_PACKED = 0, B_IN_PLACE = 1, B_SLICES = 2;
/** Floats of a thread's B slices (1 MB), after its A_BLOCK_FLOATS of A (CpuBackend's TN_SLICE_FLOATS). */
const SLICE_FLOATS = 262144;
/** Panels of B in a thread's slices at 16 steps (gemmBlockTN takes wider ranges a part at a time). */
const SLICE_PANELS = SLICE_FLOATS / (16 * NR);
/**
 * The most rows of A packed per k block (a unit's rows). Packing A costs about 6% of a 512 x 128
 * product whose A comes from L3; 256-row blocks read each k step's rows in 1 KB runs rather than
 * 256 B ones, and stream the B slice a quarter as often, which took 512 x 128 from 0.89-0.95 of NN to
 * 0.98-1.04 at 2 threads (docs/benchmarks.md).
 */
const PACK_MC = 256;
const PACK_KK = 16;
/** Floats of a thread's block of A: PACK_MC rows of KC steps, and room for the 4 rows by which blocks of 5 (packABlock) can pass them. */
const A_BLOCK_FLOATS = (PACK_MC + 4) * KC;

/**
 * Packs op(A)[rc..rcEnd, k0..k0+kn) of A [k, m] (op(A) = A^T) into blocks of r rows (4 or 5, a
 * constant at each call): block b holds kn groups of r floats (rows rc+r*b..rc+r*b+r at one kk) at
 * ws + b*kn*r floats. Rows >= m are zero.
 */
// @ts-ignore: decorator
@inline function packABlock(a: usize, ws: usize, m: i32, k0: i32, kn: i32, rc: i32, rcEnd: i32, r: i32): void {
  const zero = f32x4.splat(0);
  const ms = <usize>m << 2;
  const blocks = (rcEnd - rc + r - 1) / r;
  const step = <usize>r << 2;
  const bs = <usize>kn * step;
  // PACK_KK steps at a time, block by block: the blocks' destinations are kn*4r bytes apart (8-10 KB
  // at kn = 512), so writing one group to every block per step would keep many streams in the same
  // L1 sets; this way each block gets PACK_KK*4r contiguous bytes while the PACK_KK source rows stay
  // in L1.
  for (let kg = 0; kg < kn; kg += PACK_KK) {
    const kgEnd = min(kn, kg + PACK_KK);
    let i = rc;
    for (let b = 0; b < blocks; b++) {
      const rows = min(r, m - i);
      const s = a + <usize>k0 * ms + (<usize>i << 2);
      let d = ws + <usize>b * bs + <usize>kg * step;
      if (rows == r) {
        for (let kk = kg; kk < kgEnd; kk++) {
          const src = s + <usize>kk * ms;
          v128.store(d, v128.load(src));
          if (r == 5) store<f32>(d, load<f32>(src, 16), 16);
          d += step;
        }
      } else {
        for (let kk = kg; kk < kgEnd; kk++) {
          v128.store(d, loadN(s + <usize>kk * ms, min(4, rows), zero));
          if (r == 5) store<f32>(d, 0, 16);
          d += step;
        }
      }
      i += r;
    }
  }
}

/**
 * gemmBlockTN's packed path for rows [rc, rcEnd) at one k block of kn steps: A packed in blocks of r
 * rows (4 or 5, a constant at each call), then every panel of [p0, p1) through them (tileTN; the
 * arguments as gemmBlockTN's).
 */
// @ts-ignore: decorator
@inline function packedBlockTN(a: usize, ws: usize, out: usize, m: i32, n: i32, k0: i32, kn: i32, rc: i32, rcEnd: i32, r: i32,
  bk: usize, ps: usize, bStep: usize, p0: i32, p1: i32, resume: bool, add: i32): void {
  packABlock(a, ws, m, k0, kn, rc, rcEnd, r);
  const ns = <usize>n << 2;
  for (let p = p0; p < p1; p++) {
    const panel = bk + <usize>p * ps;
    const j0 = p * NR;
    const cols = min(NR, n - j0);
    for (let i = rc; i < rcEnd; i += r) {
      const dst = out + ((<usize>i * <usize>n + <usize>j0) << 2);
      const pa = ws + <usize>(i - rc) * <usize>kn * 4;
      const rows = min(r, rcEnd - i);
      if (r == 5 && rows == 5) tileTN(pa, 20, panel, bStep, kn, dst, ns, resume, 5, cols, add, true);
      else tileTN(pa, <usize>r << 2, panel, bStep, kn, dst, ns, resume, rows, cols, add, false);
    }
  }
}

/**
 * Packs op(A)[g..g+cols, k0..k0+kn) of A [k, m] (cols <= 20, a multiple of 4, every row < m) step by
 * step: step kk's cols floats at ws + kk*80 bytes, for tileTN with aStep 80.
 */
function packAGroup(a: usize, ws: usize, m: i32, k0: i32, kn: i32, g: i32, cols: i32): void {
  const ms = <usize>m << 2;
  let s = a + ((<usize>k0 * <usize>m + <usize>g) << 2);
  let d = ws;
  if (cols == 20) {
    for (let kk = 0; kk < kn; kk++) {
      const v0 = v128.load(s), v1 = v128.load(s, 16), v2 = v128.load(s, 32), v3 = v128.load(s, 48), v4 = v128.load(s, 64);
      v128.store(d, v0); v128.store(d, v1, 16); v128.store(d, v2, 32); v128.store(d, v3, 48); v128.store(d, v4, 64);
      s += ms;
      d += 80;
    }
    return;
  }
  for (let kk = 0; kk < kn; kk++) {
    for (let c = 0; c < cols; c += 4) v128.store(d + (<usize>c << 2), v128.load(s + (<usize>c << 2)));
    s += ms;
    d += 80;
  }
}

/**
 * Packs k steps [k0, k0+kn) of panels [p0, p1) of B [k, n] (op(B) = B) into dst as packB lays out
 * a panel (8 floats per step, columns >= n zero), panel p at dst + (p-p0)*kn*8 floats: the slice of
 * B that one k block of gemmBlockTN reads, written to the thread's scratch, where it stays in L2.
 */
function packBSlice(b: usize, dst: usize, n: i32, k0: i32, kn: i32, p0: i32, p1: i32): void {
  const zero = f32x4.splat(0);
  const ns = <usize>n << 2;
  for (let p = p0; p < p1; p++) {
    const j0 = p * NR;
    const cols = min(NR, n - j0);
    let s = b + <usize>k0 * ns + (<usize>j0 << 2);
    let d = dst + (<usize>(p - p0) * <usize>kn << 5);
    if (cols == NR) {
      for (let kk = 0; kk < kn; kk++) {
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        s += ns;
        d += 32;
      }
    } else {
      for (let kk = 0; kk < kn; kk++) {
        v128.store(d, loadN(s, cols, zero));
        v128.store(d, cols > 4 ? loadN(s + 16, cols - 4, zero) : zero, 16);
        s += ns;
        d += 32;
      }
    }
  }
}

// @ts-ignore: decorator
@inline function loadRow(src: usize, cols: i32, half: i32): v128 {
  const zero = f32x4.splat(0);
  const n = half ? cols - 4 : min(4, cols);
  return n <= 0 ? zero : loadN(src + (half ? 16 : 0), n, zero);
}

/**
 * The TN kernels' tile: rows i..i+3 of out, or i..i+4 when `five` (a constant at every call), by 8
 * columns of B, over kn steps. A's floats of a k step are consecutive at pa (the steps aStep bytes
 * apart: in place, packed by packABlock or packAGroup, or a narrow sweep's rows); B's 8
 * floats at pb (the k steps bStep bytes apart: 32 in a packed panel, 4n in B read in place). It starts
 * from the partial sums at c (rows cs bytes apart) when `resume`, else from zero, and stores there
 * (rows past `rows` are neither loaded nor stored; cols and add as storeRow's). Five rows keep ten
 * sums: the 4x8 sweeps of the narrow products ran at NN's rate, the 5x8 ones 1.08-1.15x faster at 1
 * thread (docs/benchmarks.md). There A's first four floats are one load spread to the lanes by
 * shuffles, because TurboFan issues a loop's loads ahead of its arithmetic: five splat loads are then
 * all live beside the 10 sums and 2 vectors of B, 17 where it has 15 registers, and two sums went to
 * the stack (0.63 of NN). Four rows keep four splat loads: with the shuffles, m = 16 ran 0.93-0.95x.
 */
// @ts-ignore: decorator
@inline function tileTN(pa: usize, aStep: usize, pb: usize, bStep: usize, kn: i32, c: usize, cs: usize, resume: bool, rows: i32, cols: i32, add: i32, five: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00;
  if (resume) {
    c00 = loadRow(c, cols, 0); c01 = loadRow(c, cols, 1);
    if (rows > 1) { c10 = loadRow(c + cs, cols, 0); c11 = loadRow(c + cs, cols, 1); }
    if (rows > 2) { c20 = loadRow(c + 2 * cs, cols, 0); c21 = loadRow(c + 2 * cs, cols, 1); }
    if (rows > 3) { c30 = loadRow(c + 3 * cs, cols, 0); c31 = loadRow(c + 3 * cs, cols, 1); }
    if (five) { c40 = loadRow(c + 4 * cs, cols, 0); c41 = loadRow(c + 4 * cs, cols, 1); }
  }
  for (let kk = 0; kk < kn; kk++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a0: v128, a1: v128, a2: v128, a3: v128;
    if (five) {
      const a = v128.load(pa);
      a0 = v128.shuffle<i32>(a, a, 0, 0, 0, 0); a1 = v128.shuffle<i32>(a, a, 1, 1, 1, 1);
      a2 = v128.shuffle<i32>(a, a, 2, 2, 2, 2); a3 = v128.shuffle<i32>(a, a, 3, 3, 3, 3);
    } else {
      a0 = v128.load32_splat(pa); a1 = v128.load32_splat(pa, 4);
      a2 = v128.load32_splat(pa, 8); a3 = v128.load32_splat(pa, 12);
    }
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
    if (five) {
      const a4 = v128.load32_splat(pa, 16);
      c40 = madd(a4, b0, c40); c41 = madd(a4, b1, c41);
    }
    pa += aStep;
    pb += bStep;
  }
  storeRow(c, c00, c01, cols, add);
  if (rows > 1) storeRow(c + cs, c10, c11, cols, add);
  if (rows > 2) storeRow(c + 2 * cs, c20, c21, cols, add);
  if (rows > 3) storeRow(c + 3 * cs, c30, c31, cols, add);
  if (five) storeRow(c + 4 * cs, c40, c41, cols, add);
}

/**
 * out rows [r0, r1) x panels [p0, p1) of one batch item, A [k, m] read as A^T, in blocks of
 * chunkRows rows (<= PACK_MC); r0 and chunkRows multiples of 4. aMode (the choice is CpuBackend's:
 * tnAMode) is A_PACKED, or A_IN_PLACE or A_GROUPS, only when m % 4 == 0 so that no row block reads
 * past m: A read where it lies, or packed 20 columns at a time.
 */
function gemmBlockTN(a: usize, bp: usize, out: usize, ws: usize, m: i32, n: i32, k: i32, accumulate: i32,
  r0: i32, r1: i32, p0: i32, p1: i32, chunkRows: i32, aMode: i32, bMode: i32, wb: usize): void {
  // A thread's slices hold 16 steps at least, so SLICE_PANELS panels at most: a wider range (a
  // vocabulary-wide B that one thread takes whole) goes a part at a time, each output as before.
  if (bMode == B_SLICES && p1 - p0 > SLICE_PANELS) {
    for (let q = p0; q < p1; q += SLICE_PANELS) {
      gemmBlockTN(a, bp, out, ws, m, n, k, accumulate, r0, r1, q, min(p1, q + SLICE_PANELS), chunkRows, aMode, bMode, wb);
    }
    return;
  }
  const ns = <usize>n << 2;
  // Columns j0..j0+8 of B at k step kk: bp + kk*bStep + p*panelStride (in B_SLICES, of the block's
  // slice at wb: wb + (kk-k0)*32 + (p-p0)*kn*32).
  const slices = bMode == B_SLICES;
  const bStep: usize = bMode == B_IN_PLACE ? ns : NR * 4;
  const panelStride: usize = bMode == B_IN_PLACE ? <usize>NR * 4 : <usize>k * NR << 2;
  // In place, a block's kc steps of A lie 4m bytes apart (a new line each step, a new 4 KB page
  // every 1024/m steps), so one block spans kc*4m bytes, and every row block walks all of it.
  // With 512 steps that is 768 KB at m = 384 and 10 MB at m = 4864, and those products ran at
  // 0.36-0.91 of NN at 1 thread; capped at 256 KB (kc = 65536/m, 64 pages: what a first-level TLB
  // holds; at least 64 steps) at 0.67-1.05 (docs/benchmarks.md). m <= 128 keeps 512. Packed in
  // groups, only the packing walks the block, once per group, and the tiles read 16-byte steps.
  // B's slices fill at most SLICE_FLOATS (at least 16 steps).
  const kcA = aMode == A_IN_PLACE ? min(KC, max(IN_PLACE_MIN_KC, (65536 / m) & ~15)) : KC;
  const kc = slices ? min(kcA, max(16, (SLICE_FLOATS / ((p1 - p0) * NR)) & ~15)) : kcA;
  for (let k0 = 0; k0 < k; k0 += kc) {
    const kn = min(kc, k - k0);
    const first = k0 == 0;
    const add = first ? accumulate : 0;
    if (slices) packBSlice(bp, wb, n, k0, kn, p0, p1);
    // Panel p of this block at bk + p*ps (wrapping back p0 panels in the slice, as CpuBackend does).
    const bk: usize = slices ? wb - <usize>p0 * <usize>kn * 32 : bp + <usize>k0 * bStep;
    const ps: usize = slices ? <usize>kn * 32 : panelStride;
    for (let rc = r0; rc < r1; rc += chunkRows) {
      const rcEnd = min(r1, rc + chunkRows);
      // Later blocks continue from the partial sums in out (stored, not added again).
      if (aMode == A_GROUPS) {
        // 20 columns of A packed, then every panel in turn through their 5-row tiles: the group's
        // kn*80 bytes of A and the panel's slice of B stay near (L1, L2) across them. In place, each
        // line was read 4 times and each tile waited on strided lines; packed a unit at a time
        // (packABlock), the tiles read A from L2. Groups of 16 columns (one line of A per k step) in
        // 4x8 tiles ran 0.94-0.97x as fast at 1 thread (docs/benchmarks.md).
        for (let g = rc; g < rcEnd; g += 20) {
          const gc = min(20, rcEnd - g);
          packAGroup(a, ws, m, k0, kn, g, gc);
          for (let p = p0; p < p1; p++) {
            const j0 = p * NR;
            const panel = bk + <usize>p * ps;
            for (let t = 0; t < gc; t += 5) {
              const dst = out + ((<usize>(g + t) * <usize>n + <usize>j0) << 2);
              const rows = gc - t;
              if (rows >= 5) tileTN(ws + (<usize>t << 2), 80, panel, bStep, kn, dst, ns, !first, 5, min(NR, n - j0), add, true);
              else tileTN(ws + (<usize>t << 2), 80, panel, bStep, kn, dst, ns, !first, rows, min(NR, n - j0), add, false);
            }
          }
        }
        continue;
      }
      if (aMode == A_IN_PLACE) {
        // Row block by row block, every panel in turn: a row block's kc lines of A are read from
        // memory once and serve every panel from L1, where panel by panel the whole unit's block
        // (up to 128 KB at m = 128) came back from L2 for each panel; 1.05-1.09x at 2 threads on
        // most in-place shapes (docs/benchmarks.md). Each output's sum order is unchanged. Tiles of
        // 5 rows (1.04-1.08x on 128 x 16 and 128 x 32) in runs of 20, then of 4, so that a unit's rows
        // (a multiple of 4) end with a whole tile and no tile reads past m.
        const fiveEnd = rc + (rcEnd - rc) / 20 * 20;
        for (let i = rc; i < rcEnd; i += i < fiveEnd ? 5 : 4) {
          const five = i < fiveEnd;
          const pa = a + ((<usize>k0 * <usize>m + <usize>i) << 2);
          for (let p = p0; p < p1; p++) {
            const j0 = p * NR;
            const panel = bk + <usize>p * ps;
            const dst = out + ((<usize>i * <usize>n + <usize>j0) << 2);
            if (five) tileTN(pa, <usize>m << 2, panel, bStep, kn, dst, ns, !first, 5, min(NR, n - j0), add, true);
            else tileTN(pa, <usize>m << 2, panel, bStep, kn, dst, ns, !first, min(4, m - i), min(NR, n - j0), add, false);
          }
        }
        continue;
      }
      // Blocks of 5 rows from m = 64; below it (m = 16: a LoRA dB) they would compute 20 rows for 16.
      if (m < 64) packedBlockTN(a, ws, out, m, n, k0, kn, rc, rcEnd, 4, bk, ps, bStep, p0, p1, !first, add);
      else packedBlockTN(a, ws, out, m, n, k0, kn, rc, rcEnd, 5, bk, ps, bStep, p0, p1, !first, add);
    }
  }
}

/**
 * gemm for op(A) = A^T, A [k, m] per item: units as in gemm, but a row unit is `unitRows` rows (a
 * multiple of 4). ws is the scratch of the pool's threads, A_BLOCK_FLOATS each; thread tid packs
 * its blocks of A at ws + tid*A_BLOCK_FLOATS floats, or reads A as aMode says (A_IN_PLACE, A_GROUPS: m % 4 == 0).
 * bp is B packed by packB (bMode B_PACKED), or B [k, n] itself (bpBatchStride is then B's own batch
 * stride), read where it lies (B_IN_PLACE: n % 8 == 0, so that no tile reads past a row) or packed
 * a k block at a time (B_SLICES) into the thread's SLICE_FLOATS after its floats of A: with
 * B_SLICES the threads' scratch is (A_BLOCK_FLOATS + SLICE_FLOATS) floats each.
 */
export function gemmTN(a: usize, bp: usize, out: usize, ws: usize, m: i32, n: i32, k: i32, aBatchStride: i32,
  bpBatchStride: i32, accumulate: i32, splitCols: i32, p0: i32, p1: i32, unitRows: i32, aMode: i32, bMode: i32, start: i32, end: i32, tid: i32): void {
  const wt = ws + (<usize>tid * (A_BLOCK_FLOATS + (bMode == B_SLICES ? SLICE_FLOATS : 0)) << 2);
  const wb = wt + (A_BLOCK_FLOATS << 2);
  const per = splitCols ? p1 - p0 : (m + unitRows - 1) / unitRows;
  let u = start;
  while (u < end) {
    const t = u / per;
    const segEnd = min(end, (t + 1) * per);
    const lo = u - t * per, hi = segEnd - t * per;
    const at = a + (<usize>t * <usize>aBatchStride << 2);
    const bt = bp + (<usize>t * <usize>bpBatchStride << 2);
    const ot = out + (<usize>t * <usize>m * <usize>n << 2);
    if (splitCols) gemmBlockTN(at, bt, ot, wt, m, n, k, accumulate, 0, m, p0 + lo, p0 + hi, unitRows, aMode, bMode, wb);
    else gemmBlockTN(at, bt, ot, wt, m, n, k, accumulate, lo * unitRows, min(m, hi * unitRows), p0, p1, unitRows, aMode, bMode, wb);
    u = segEnd;
  }
}

// --- TN with a narrow B: A swept a few rows at a time ----------------------------------------
// For a narrow B (n <= 32: a LoRA factor's dA = X^T dH) gemmBlockTN reads a wide A in place, a
// tile at a time down its k block: every k step of a tile is another line of A, 4m bytes on, a
// stride the hardware prefetcher does not follow past 2 KB, so each tile waits on memory
// (docs/benchmarks.md). Here a thread takes its whole range of A's columns and sweeps it
// NARROW_KS rows at a time, left to right, in 5x8 tiles (tileTN): NARROW_KS sequential
// streams, one per row, each read once. The range's partial sums (every column of B for every row of the
// range: 32 KB at 256 rows x 32 columns) stay in the thread's scratch between sweeps. Each output
// still sums its k terms in order from zero with the same multiply-add, so the result is bit for
// bit that of gemm on A stored row-major.

/** Rows of A per sweep: 16 and 32 ran alike; 4 and 8 reload the partial sums too often, 64 and 128 lost 15-45% (docs/benchmarks.md). */
const NARROW_KS = 16;
/** Rows of out per tile (tileTN with `five`), and so per block of the partial sums. */
const NARROW_ROWS = 5;
/** Bytes of a block's partial sums for one panel: NARROW_ROWS rows of 8 floats. */
const NARROW_SLOT: usize = NARROW_ROWS * NR * 4;
/** Columns of A per copied chunk (a multiple of NARROW_ROWS), and the bytes between a chunk's rows in the copy (not a multiple of 4 KB). */
const NARROW_CHUNK = 80;
const NARROW_COPY_STRIDE: usize = (NARROW_CHUNK + 16) << 2;
/** Floats of the two copies, at the end of the thread's scratch (CpuBackend's TN_NARROW_COPY_FLOATS). */
const NARROW_COPY_FLOATS = 2 * NARROW_KS * (NARROW_CHUNK + 16);

/** Copies `cols` floats from src to dst (a whole chunk's row unrolled: the copied sweeps ran 1.05x faster than with the loop). */
// @ts-ignore: decorator
@inline function copyRowPart(src: usize, dst: usize, cols: i32): void {
  if (cols == NARROW_CHUNK) {
    // A whole chunk's row, unrolled: 20 loads and stores at fixed offsets.
    v128.store(dst, v128.load(src)); v128.store(dst, v128.load(src, 16), 16);
    v128.store(dst, v128.load(src, 32), 32); v128.store(dst, v128.load(src, 48), 48);
    v128.store(dst, v128.load(src, 64), 64); v128.store(dst, v128.load(src, 80), 80);
    v128.store(dst, v128.load(src, 96), 96); v128.store(dst, v128.load(src, 112), 112);
    v128.store(dst, v128.load(src, 128), 128); v128.store(dst, v128.load(src, 144), 144);
    v128.store(dst, v128.load(src, 160), 160); v128.store(dst, v128.load(src, 176), 176);
    v128.store(dst, v128.load(src, 192), 192); v128.store(dst, v128.load(src, 208), 208);
    v128.store(dst, v128.load(src, 224), 224); v128.store(dst, v128.load(src, 240), 240);
    v128.store(dst, v128.load(src, 256), 256); v128.store(dst, v128.load(src, 272), 272);
    v128.store(dst, v128.load(src, 288), 288); v128.store(dst, v128.load(src, 304), 304);
    return;
  }
  let s = src, d = dst;
  const vecs = cols >> 2;
  for (let v = 0; v < vecs; v++) {
    v128.store(d, v128.load(s));
    s += 16;
    d += 16;
  }
  for (let c = vecs << 2; c < cols; c++) {
    store<f32>(d, load<f32>(s));
    s += 4;
    d += 4;
  }
}

/**
 * One block of NARROW_ROWS rows of out (`rows` of them real) through every panel over kn steps: A's
 * floats of each step at p, the steps rs bytes apart; B's panels at pb, ps bytes apart; partial sums
 * at pc, one NARROW_SLOT per panel.
 */
// @ts-ignore: decorator
@inline function narrowTiles(p: usize, rs: usize, pb: usize, ps: usize, kn: i32, pc: usize, panels: i32, rows: i32): void {
  let pbq = pb, pcq = pc;
  for (let q = 0; q < panels; q++) {
    if (rows == NARROW_ROWS) tileTN(p, rs, pbq, NR * 4, kn, pcq, NR * 4, true, 5, NR, 0, true);
    else if (rows == 4) tileTN(p, rs, pbq, NR * 4, kn, pcq, NR * 4, true, 4, NR, 0, false);
    else {
      // The range's last 1-3 rows: a row at a time, never reading past the range (nor past m).
      for (let r = 0; r < rows; r++) {
        const pr = pcq + (<usize>r << 5);
        let c0 = v128.load(pr), c1 = v128.load(pr, 16);
        let pa = p + (<usize>r << 2), pbk = pbq;
        for (let kk = 0; kk < kn; kk++) {
          const a0 = v128.load32_splat(pa);
          c0 = madd(a0, v128.load(pbk), c0); c1 = madd(a0, v128.load(pbk, 16), c1);
          pa += rs;
          pbk += NR * 4;
        }
        v128.store(pr, c0); v128.store(pr, c1, 16);
      }
    }
    pcq += NARROW_SLOT;
    pbq += ps;
  }
}

/**
 * The partial sums of rows [i0, i1) of one batch item added into ct (zeroed by the caller), k steps [0, k), from A [k, m]
 * (op(A) = A^T) and B packed by packB (panels of 8 columns, k steps of 8 floats). ct holds one
 * NARROW_SLOT per (5 rows, panel): slot (v, q) at ct + (v*panels + q)*40 floats holds rows
 * i0+5v..i0+5v+5, 8 floats each, of panel q's columns.
 */
function narrowTNRange(a: usize, bp: usize, ct: usize, m: i32, panels: i32, k: i32, i0: i32, i1: i32): void {
  const ms = <usize>m << 2;
  const ps = <usize>k * NR << 2;
  for (let k0 = 0; k0 < k; k0 += NARROW_KS) {
    const kn = min(NARROW_KS, k - k0);
    const ak = a + <usize>k0 * ms;
    const pb = bp + (<usize>k0 * NR << 2);
    let pc = ct;
    for (let i = i0; i < i1; i += NARROW_ROWS) {
      narrowTiles(ak + (<usize>i << 2), ms, pb, ps, kn, pc, panels, min(NARROW_ROWS, i1 - i));
      pc += <usize>panels * NARROW_SLOT;
    }
  }
}

/**
 * narrowTNRange for a row stride that is a multiple of 4 KB (m = 1024, 2048: every row of a sweep
 * falls in one L1 set, 16 lines where the set holds 12, so each tile's steps missed L1; 0.69-0.72 of
 * NN). The sweep goes NARROW_CHUNK columns at a time, its tiles reading a copy of the chunk's rows
 * (rows NARROW_COPY_STRIDE bytes apart, in different sets) at buf, while the next chunk's rows are
 * copied to the other half of buf, one row after each block of 4 rows, so that A's loads from memory
 * overlap the multiply-adds: copied all at once before the chunk's tiles, they waited on memory with
 * nothing to overlap them (0.75 of NN at 1 thread, where this runs at 0.96). 8 rows read in place and
 * 8 copied, 32 rows a sweep, or chunks of 32 or 128 columns ran no faster (docs/benchmarks.md). The
 * sums are those of narrowTNRange, bit for bit.
 */
function narrowTNRangeCopied(a: usize, bp: usize, ct: usize, m: i32, panels: i32, k: i32, i0: i32, i1: i32, buf: usize): void {
  const ms = <usize>m << 2;
  const ps = <usize>k * NR << 2;
  const half: usize = <usize>(NARROW_COPY_FLOATS / 2) << 2;
  let cur = buf, next = buf + half;
  const firstCols = min(NARROW_CHUNK, i1 - i0);
  for (let kk = 0; kk < min(NARROW_KS, k); kk++) copyRowPart(a + <usize>kk * ms + (<usize>i0 << 2), cur + <usize>kk * NARROW_COPY_STRIDE, firstCols);
  for (let k0 = 0; k0 < k; k0 += NARROW_KS) {
    const kn = min(NARROW_KS, k - k0);
    const pb = bp + (<usize>k0 * NR << 2);
    let pc = ct;
    for (let c0 = i0; c0 < i1; c0 += NARROW_CHUNK) {
      const cols = min(NARROW_CHUNK, i1 - c0);
      // The chunk after this one: the next NARROW_CHUNK columns, or the next sweep's first.
      let nk0 = k0, nc0 = c0 + NARROW_CHUNK;
      if (nc0 >= i1) { nk0 = k0 + NARROW_KS; nc0 = i0; }
      const nkn = nk0 < k ? min(NARROW_KS, k - nk0) : 0;
      const ncols = min(NARROW_CHUNK, i1 - nc0);
      const nsrc = a + <usize>nk0 * ms + (<usize>nc0 << 2);
      let row = 0;
      for (let i = c0; i < c0 + cols; i += NARROW_ROWS) {
        narrowTiles(cur + (<usize>(i - c0) << 2), NARROW_COPY_STRIDE, pb, ps, kn, pc, panels, min(NARROW_ROWS, i1 - i));
        pc += <usize>panels * NARROW_SLOT;
        if (row < nkn) {
          copyRowPart(nsrc + <usize>row * ms, next + <usize>row * NARROW_COPY_STRIDE, ncols);
          row++;
        }
      }
      for (; row < nkn; row++) copyRowPart(nsrc + <usize>row * ms, next + <usize>row * NARROW_COPY_STRIDE, ncols);
      const t = cur;
      cur = next;
      next = t;
    }
  }
}

/**
 * gemm for op(A) = A^T, A [k, m] per item, with a narrow B packed by packB (bp; bpBatchStride as in
 * gemm). Units are (batch item, range of `rangeRows` rows of out, which are columns of A; a multiple
 * of NARROW_ROWS): the thread builds a range's partial sums (8*panels*(rangeRows+4) floats at most) in its block
 * of the scratch, at ws + tid*A_BLOCK_FLOATS floats as in gemmTN, then writes them to out (adding them to
 * it if accumulate, after the whole sum, as gemm does). With copyRows (m % 1024 == 0) the sweeps read
 * copies of A's rows (narrowTNRangeCopied) kept in the last NARROW_COPY_FLOATS of that block.
 */
export function gemmTNNarrow(a: usize, bp: usize, out: usize, ws: usize, m: i32, n: i32, k: i32, aBatchStride: i32,
  bpBatchStride: i32, accumulate: i32, rangeRows: i32, copyRows: i32, start: i32, end: i32, tid: i32): void {
  const ct = ws + (<usize>tid * A_BLOCK_FLOATS << 2);
  const copy: usize = copyRows ? ct + (<usize>(A_BLOCK_FLOATS - NARROW_COPY_FLOATS) << 2) : 0;
  const per = (m + rangeRows - 1) / rangeRows;
  const panels = (n + NR - 1) / NR;
  const ns = <usize>n << 2;
  const blockBytes = <usize>panels * NARROW_SLOT;
  for (let u = start; u < end; u++) {
    const t = u / per;
    const i0 = (u - t * per) * rangeRows;
    const i1 = min(m, i0 + rangeRows);
    const ot = out + (<usize>t * <usize>m * <usize>n << 2);
    const at = a + (<usize>t * <usize>aBatchStride << 2), bt = bp + (<usize>t * <usize>bpBatchStride << 2);
    const zero = f32x4.splat(0);
    const slots = (i1 - i0 + NARROW_ROWS - 1) / NARROW_ROWS * panels;
    for (let v = 0; v < slots * NARROW_ROWS * 2; v++) v128.store(ct + (<usize>v << 4), zero);
    if (copy) narrowTNRangeCopied(at, bt, ct, m, panels, k, i0, i1, copy);
    else narrowTNRange(at, bt, ct, m, panels, k, i0, i1);
    for (let i = i0; i < i1; i++) {
      const r = i - i0;
      let src = ct + <usize>(r / NARROW_ROWS) * blockBytes + (<usize>(r % NARROW_ROWS) << 5);
      let dst = ot + <usize>i * ns;
      // A row's 8 columns of each panel are 32 contiguous bytes of its block (storeRow adds the old out).
      for (let j0 = 0; j0 < n; j0 += NR) {
        storeRow(dst, v128.load(src), v128.load(src, 16), min(NR, n - j0), accumulate);
        src += NARROW_SLOT;
        dst += NR * 4;
      }
    }
  }
}
