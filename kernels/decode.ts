// Fused kernels of the decoding step (the Backend contract's linearGroup and ropeKvWrite): several
// projections of one input in one pooled job, and the rotary embedding written straight into the
// KV cache. Each computes what the separate kernels compute, in the same order, so the results are
// theirs bit for bit: the products are kernels/matmul.ts gemvT blocks (kernels/half.ts for f16
// weights), the epilogues are elementwise.ts's add / silu / mul, and the rotation is norm.ts's rope.
import { gemvTBlock } from './matmul';
import { gemvTHalfBlock } from './half';
import { ropeRow } from './norm';
import { loadN, sigmoidv, storeN } from './simd';

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
 * half_w is 1, or 2 when they hold no Inf or NaN) sharing x [m, k], m small (decoding). Units are blocks of 4 output columns, those of
 * weight 0 first. With swiglu, weights 0 and 1 (gate, up; n0 == n1) make one output
 * out0 = silu(gate) * up and a unit computes the same block of both, the up block going to
 * tmp + tid*64 (m <= 4 rows of 4 floats). A weight with n_w = 0 is absent.
 */
export function linearGroup(a: usize, m: i32, k: i32, residual: usize, swiglu: i32, tmp: usize,
  b0: usize, n0: i32, bias0: usize, out0: usize, half0: i32,
  b1: usize, n1: i32, bias1: usize, out1: usize, half1: i32,
  b2: usize, n2: i32, bias2: usize, out2: usize, half2: i32,
  start: i32, end: i32, tid: i32): void {
  const blocks0 = (n0 + 3) >> 2, blocks1 = swiglu ? 0 : (n1 + 3) >> 2;
  for (let u = start; u < end; u++) {
    let b = b0, n = n0, bias = bias0, out = out0, half = half0, j0 = u << 2;
    if (u >= blocks0 + blocks1) {
      b = b2; n = n2; bias = bias2; out = out2; half = half2; j0 = (u - blocks0 - blocks1) << 2;
    } else if (u >= blocks0) {
      b = b1; n = n1; bias = bias1; out = out1; half = half1; j0 = (u - blocks0) << 2;
    }
    const cols = min(4, n - j0);
    block(a, b, half, j0, out + (<usize>j0 << 2), <usize>n << 2, m, k, cols);
    if (!swiglu) {
      addBiasResidual(out, bias, residual, m, n, j0, cols);
      continue;
    }
    const t = tmp + (<usize>tid << 6);
    block(a, b1, half1, j0, t, 16, m, k, cols);
    const zero = f32x4.splat(0);
    const bg = bias0 ? loadN(bias0 + (<usize>j0 << 2), cols, zero) : zero;
    const bu = bias1 ? loadN(bias1 + (<usize>j0 << 2), cols, zero) : zero;
    for (let i = 0; i < m; i++) {
      const o = out0 + ((<usize>i * <usize>n + <usize>j0) << 2);
      let g = loadN(o, cols, zero), up = v128.load(t + (<usize>i << 4));
      if (bias0) g = f32x4.add(g, bg);
      if (bias1) up = f32x4.add(up, bu);
      // silu(g) = g * sigmoid(g) (elementwise.ts unary), then times up (the binary mul).
      storeN(o, f32x4.mul(f32x4.mul(g, sigmoidv(g)), up), cols);
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
