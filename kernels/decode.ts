// Fused kernels of the decoding step (the Backend contract's linearGroup and ropeKvWrite): several
// projections of one input in one pooled job, and the rotary embedding written straight into the
// KV cache. Each computes what the separate kernels compute, in the same order, so the results are
// theirs bit for bit: the products are kernels/matmul.ts gemvT blocks (kernels/half.ts for f16
// weights), the epilogues are elementwise.ts's add / silu / mul, and the rotation is norm.ts's rope.
// Past the gemv sizes (m > 4) the products are matmul.ts's packed path: each output element is one
// chain of multiply-adds over k from zero, whatever the tiling, so a panel packed here and
// multiplied by the same 4x8 micro-kernel gives gemm's bits.
import { gemvTBlock, packB, panelRowRange } from './matmul';
import { gemvTHalfBlock, packBHalf } from './half';
import { ropeRow } from './norm';
import { loadN, sigmoidv, storeN } from './simd';

const NR = 8;

// @ts-ignore: decorator
@inline function block(at: usize, b: usize, half: i32, j0: i32, dst: usize, ds: usize, m: i32, k: i32, cols: i32): void {
  // half: 1 for f16 weights, 2 for f16 weights without Inf or NaN (kernels/half.ts widenFinite).
  if (half) gemvTHalfBlock(at, b + (<usize>j0 * <usize>k << 1), dst, ds, m, k, k, 1, cols, 0, half == 2 ? 1 : 0);
  else gemvTBlock(at, b + (<usize>j0 * <usize>k << 2), dst, ds, m, k, k, 1, cols, 0);
}

/** out[i, j0..j0+cols) += bias[j0..] (when bias != 0), then += residual[i, j0..] (when residual != 0). */
// @ts-ignore: decorator
@inline function addBiasResidual(out: usize, bias: usize, residual: usize, m: i32, n: i32, j0: i32, cols: i32): void {
  const zero = f32x4.splat(0);
  const bv = bias ? loadN(bias + (<usize>j0 << 2), cols, zero) : zero;
  for (let i = 0; i < m; i++) {
    const o = (<usize>i * <usize>n + <usize>j0) << 2;
    let y = loadN(out + o, cols, zero);
    if (bias) y = f32x4.add(y, bv);
    if (residual) y = f32x4.add(y, loadN(residual + o, cols, zero));
    storeN(out + o, y, cols);
  }
}

/**
 * out_w = x @ W_w^T (+ bias_w) (+ residual) for up to three weights W_w [n_w, k] (f32, or f16 where
 * half_w is 1, or 2 when they hold no Inf or NaN) sharing x [m, k]. A weight with n_w = 0 is absent.
 * With swiglu, weights 0 and 1 (gate, up; n0 == n1) make one output out0 = silu(gate) * up, and a
 * unit computes the same columns of both, keeping those of up in its thread's scratch.
 * Each thread owns `stride` bytes of scratch at tmp + tid * stride.
 * m <= 4 (gemv): units are blocks of 4 output columns, those of weight 0 first; scratch: the up
 * block (4 rows of 4 floats). m > 4: units are panels of 8 columns, each packed into the scratch
 * (k * 8 floats) and multiplied with every row; scratch: the panel, then the up panel's m rows of 8.
 */
export function linearGroup(a: usize, m: i32, k: i32, residual: usize, swiglu: i32, tmp: usize, stride: i32,
  b0: usize, n0: i32, bias0: usize, out0: usize, half0: i32,
  b1: usize, n1: i32, bias1: usize, out1: usize, half1: i32,
  b2: usize, n2: i32, bias2: usize, out2: usize, half2: i32,
  start: i32, end: i32, tid: i32): void {
  const scratch = tmp + <usize>tid * <usize>stride;
  const width = m > 4 ? NR : 4;
  const blocks0 = (n0 + width - 1) / width, blocks1 = swiglu ? 0 : (n1 + width - 1) / width;
  for (let u = start; u < end; u++) {
    let b = b0, n = n0, bias = bias0, out = out0, half = half0, j = u;
    if (u >= blocks0 + blocks1) {
      b = b2; n = n2; bias = bias2; out = out2; half = half2; j = u - blocks0 - blocks1;
    } else if (u >= blocks0) {
      b = b1; n = n1; bias = bias1; out = out1; half = half1; j = u - blocks0;
    }
    if (m > 4) panelUnit(a, m, k, residual, swiglu, scratch, b, n, bias, out, half, b1, bias1, half1, j);
    else blockUnit(a, m, k, residual, swiglu, scratch, b, n, bias, out, half, b1, bias1, half1, j << 2);
  }
}

// @ts-ignore: decorator
@inline function blockUnit(a: usize, m: i32, k: i32, residual: usize, swiglu: i32, t: usize,
  b: usize, n: i32, bias: usize, out: usize, half: i32, bUp: usize, biasUp: usize, halfUp: i32, j0: i32): void {
  const cols = min(4, n - j0);
  block(a, b, half, j0, out + (<usize>j0 << 2), <usize>n << 2, m, k, cols);
  if (!swiglu) {
    addBiasResidual(out, bias, residual, m, n, j0, cols);
    return;
  }
  block(a, bUp, halfUp, j0, t, 16, m, k, cols);
  swigluRows(out, n, j0, cols, t, 16, m, bias, biasUp);
}

/** out[i, j0..j0+cols) = silu(out[i, ..] + biasG) * (up[i] + biasU) for every row i; up rows at `ups` bytes apart. */
// @ts-ignore: decorator
@inline function swigluRows(out: usize, n: i32, j0: i32, cols: i32, up: usize, ups: usize, m: i32, biasG: usize, biasU: usize): void {
  const zero = f32x4.splat(0);
  const bg = biasG ? loadN(biasG + (<usize>j0 << 2), cols, zero) : zero;
  const bu = biasU ? loadN(biasU + (<usize>j0 << 2), cols, zero) : zero;
  for (let i = 0; i < m; i++) {
    const o = out + ((<usize>i * <usize>n + <usize>j0) << 2);
    let g = loadN(o, cols, zero), u = v128.load(up + <usize>i * ups);
    if (biasG) g = f32x4.add(g, bg);
    if (biasU) u = f32x4.add(u, bu);
    // silu(g) = g * sigmoid(g) (elementwise.ts unary), then times up (the binary mul).
    storeN(o, f32x4.mul(f32x4.mul(g, sigmoidv(g)), u), cols);
  }
}

/** Packs panel p (columns 8p..8p+8) of W^T, W [n, k], into dst as packB lays it out: k rows of 8 floats. */
// @ts-ignore: decorator
@inline function packPanel(b: usize, half: i32, k: i32, n: i32, p: i32, dst: usize, tid: i32): void {
  // packB places panel u at bp + u * k * 8 floats: moving bp back by p panels puts panel p at dst
  // (32-bit addresses wrap, as in the CPU backend's packing of a wide B a range at a time).
  const base = dst - <usize>p * <usize>k * (NR << 2);
  if (half) packBHalf(b, base, k, n, 1, 0, p, half == 2 ? 1 : 0, 0, 1, tid);
  else packB(b, base, k, n, 1, 0, p, 0, 1, tid);
}

/** dst[i, 0..cols) = x[i] . panel columns for rows i < m (x [m, k] dense, dst rows `ds` bytes apart). */
function panelRows(a: usize, panel: usize, dst: usize, ds: usize, m: i32, k: i32, cols: i32): void {
  panelRowRange(a, <usize>k << 2, 4, panel, k, 0, m, dst, ds, cols, 0);
}

// @ts-ignore: decorator
@inline function panelUnit(a: usize, m: i32, k: i32, residual: usize, swiglu: i32, scratch: usize,
  b: usize, n: i32, bias: usize, out: usize, half: i32, bUp: usize, biasUp: usize, halfUp: i32, p: i32): void {
  const j0 = p * NR;
  const cols = min(NR, n - j0), lo = min(4, cols), hi = cols - 4;
  const ns = <usize>n << 2;
  packPanel(b, half, k, n, p, scratch, 0);
  panelRows(a, scratch, out + (<usize>j0 << 2), ns, m, k, cols);
  if (!swiglu) {
    addBiasResidual(out, bias, residual, m, n, j0, lo);
    if (hi > 0) addBiasResidual(out, bias, residual, m, n, j0 + 4, hi);
    return;
  }
  // The up panel's rows go after the packed panel (8 floats a row), then the gate panel is
  // overwritten by the up weights' panel.
  const up = scratch + (<usize>max(k, 1) * NR << 2);
  packPanel(bUp, halfUp, k, n, p, scratch, 0);
  panelRows(a, scratch, up, NR << 2, m, k, cols);
  swigluRows(out, n, j0, lo, up, NR << 2, m, bias, biasUp);
  if (hi > 0) swigluRows(out, n, j0 + 4, hi, up + 16, NR << 2, m, bias, biasUp);
}

/** Most rows of a linearGroupRows chunk; a thread's scratch holds the chunk's up rows (8 floats each). */
const ROWS_CHUNK = 512;

/**
 * linearGroup past the decode sizes (m > 256 rows: a prefill, the log-probs of a batch), with the
 * weights packed beforehand by packB or packBHalf (bp_w; panel p at bp_w + p*k*8 floats; bp1 = 0
 * when absent) and units of 4 rows. A thread takes its rows a chunk at a time (at most 64 KB of x, as
 * gemmBlock, and ROWS_CHUNK rows), multiplies the chunk by each panel with gemm's 4x8 micro-kernel
 * and finishes that panel's columns of the chunk while they are in L1: bias and residual added, or
 * with swiglu the up panel's rows computed into the thread's scratch (ROWS_CHUNK*32 bytes at tmp +
 * tid*ROWS_CHUNK*32) and silu(gate) * up written over the gate's. The separate kernels wrote each
 * product out, then read it back for every epilogue (docs/benchmarks.md); the sums are theirs bit for bit.
 */
export function linearGroupRows(a: usize, m: i32, k: i32, residual: usize, swiglu: i32, tmp: usize,
  bp0: usize, n0: i32, bias0: usize, out0: usize,
  bp1: usize, n1: i32, bias1: usize, out1: usize,
  bp2: usize, n2: i32, bias2: usize, out2: usize,
  start: i32, end: i32, tid: i32): void {
  const up = tmp + <usize>tid * (ROWS_CHUNK * NR * 4);
  const r1 = min(m, end << 2);
  const mc = min(ROWS_CHUNK, max(4, (65536 / max(k, 1)) & ~3));
  for (let rc = start << 2; rc < r1; rc += mc) {
    const rows = min(r1 - rc, mc);
    const x = a + (<usize>rc * <usize>k << 2);
    const row = <usize>rc << 2;
    groupRows(x, k, rows, bp0, n0, bias0, out0 + row * <usize>n0, residual ? residual + row * <usize>n0 : 0, swiglu ? bp1 : 0, bias1, up);
    if (swiglu) continue;
    if (n1) groupRows(x, k, rows, bp1, n1, bias1, out1 + row * <usize>n1, 0, 0, 0, up);
    if (n2) groupRows(x, k, rows, bp2, n2, bias2, out2 + row * <usize>n2, 0, 0, 0, up);
  }
}

/** One weight's columns of `rows` rows of x (out and residual at the chunk's first row), panel by panel, with the epilogue. */
function groupRows(x: usize, k: i32, rows: i32, bp: usize, n: i32, bias: usize, out: usize, residual: usize,
  bpUp: usize, biasUp: usize, up: usize): void {
  const rs = <usize>k << 2, ps = <usize>k * NR << 2, ns = <usize>n << 2;
  const panels = (n + NR - 1) / NR;
  for (let p = 0; p < panels; p++) {
    const j0 = p * NR;
    const cols = min(NR, n - j0), lo = min(4, cols), hi = cols - 4;
    panelRowRange(x, rs, 4, bp + <usize>p * ps, k, 0, rows, out + (<usize>j0 << 2), ns, cols, 0);
    if (bpUp) {
      panelRowRange(x, rs, 4, bpUp + <usize>p * ps, k, 0, rows, up, NR << 2, cols, 0);
      swigluRows(out, n, j0, lo, up, NR << 2, rows, bias, biasUp);
      if (hi > 0) swigluRows(out, n, j0 + 4, hi, up + 16, NR << 2, rows, bias, biasUp);
    } else if (bias || residual) {
      addBiasResidual(out, bias, residual, rows, n, j0, lo);
      if (hi > 0) addBiasResidual(out, bias, residual, rows, n, j0 + 4, hi);
    }
  }
}

/**
 * Rows [start, end) of B*T: row r = (b, t) at `positions[r]`; q [rows, H, D] is rotated into qOut,
 * k [rows, Hkv, D] rotated into kCache and v copied into vCache, both [B, maxLen, Hkv, D] at
 * position pastLen + t of item b.
 */
export function ropeKvWrite(q: usize, k: usize, v: usize, positions: usize, cos: usize, sin: usize, qOut: usize,
  kCache: usize, vCache: usize, T: i32, H: i32, Hkv: i32, D: i32, pastLen: i32, maxLen: i32, start: i32, end: i32, tid: i32): void {
  const zero = f32x4.splat(0);
  const kvRow = <usize>Hkv * <usize>D;
  for (let r = start; r < end; r++) {
    const pos = load<i32>(positions + (<usize>r << 2));
    const bi = r / T, t = r % T;
    const slot = ((<usize>bi * <usize>maxLen + <usize>(pastLen + t)) * kvRow) << 2;
    const src = (<usize>r * kvRow) << 2;
    ropeRow(q + ((<usize>r * <usize>H * <usize>D) << 2), qOut + ((<usize>r * <usize>H * <usize>D) << 2), cos, sin, pos, H, D, 0);
    ropeRow(k + src, kCache + slot, cos, sin, pos, Hkv, D, 0);
    const n = <i32>kvRow;
    for (let j = 0; j < n; j += 4) {
      const o = <usize>j << 2;
      storeN(vCache + slot + o, loadN(v + src + o, min(4, n - j), zero), min(4, n - j));
    }
  }
}
