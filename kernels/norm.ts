// RMSNorm, rotary embedding and the embedding gather/scatter-add.
import { hsum, loadN, madd, rowDot, storeN } from './simd';

/** out = x * rstd * w with rstd = 1/sqrt(mean(x^2) + eps), rows [start, end); rstd[r] is saved. */
export function rmsnorm(x: usize, w: usize, out: usize, rstd: usize, dim: i32, eps: f32, start: i32, end: i32, tid: i32): void {
  const zero = f32x4.splat(0);
  for (let r = start; r < end; r++) {
    const off = <usize>r * <usize>dim << 2;
    const xr = x + off, orow = out + off;
    const inv = <f32>1.0 / Mathf.sqrt(rowDot(xr, xr, dim) / <f32>dim + eps);
    store<f32>(rstd + (<usize>r << 2), inv);
    const vi = f32x4.splat(inv);
    let j = 0;
    for (; j + 4 <= dim; j += 4) {
      const o = <usize>j << 2;
      v128.store(orow + o, f32x4.mul(f32x4.mul(v128.load(xr + o), vi), v128.load(w + o)));
    }
    if (j < dim) {
      const n = dim - j, o = <usize>j << 2;
      storeN(orow + o, f32x4.mul(f32x4.mul(loadN(xr + o, n, zero), vi), loadN(w + o, n, zero)), n);
    }
  }
}

/**
 * The backward pass of rows [block*start, block*end): dx = rstd*dy*w - x * rstd^3 * mean(dy*w*x)
 * (overwriting dx), and for each block u of `block` rows the
 * partial sums part[u, c] = sum over its rows of dy[r, c] * x[r, c] * rstd[r], which
 * rmsnormBackwardDw adds into dw. One read of dy and x from memory (the second pass over a row
 * hits L1), where a separate dw kernel walking columns read both again. The blocks do not depend
 * on the thread count, so neither does the summation order.
 */
export function rmsnormBackwardRows(dy: usize, x: usize, w: usize, rstd: usize, dx: usize, part: usize, rows: i32, dim: i32,
  block: i32, start: i32, end: i32, tid: i32): void {
  const zero = f32x4.splat(0);
  for (let u = start; u < end; u++) {
    const pu = part + (<usize>u * <usize>dim << 2);
    const r0 = u * block, r1 = min(rows, r0 + block);
    for (let r = r0; r < r1; r++) {
      const off = <usize>r * <usize>dim << 2;
      const dyr = dy + off, xr = x + off, dxr = dx + off;
      let a0 = zero, a1 = zero;
      let j = 0;
      for (; j + 8 <= dim; j += 8) {
        const o = <usize>j << 2;
        a0 = madd(f32x4.mul(v128.load(dyr + o), v128.load(w + o)), v128.load(xr + o), a0);
        a1 = madd(f32x4.mul(v128.load(dyr + o, 16), v128.load(w + o, 16)), v128.load(xr + o, 16), a1);
      }
      for (; j < dim; j += 4) {
        const n = min(4, dim - j), o = <usize>j << 2;
        a0 = madd(f32x4.mul(loadN(dyr + o, n, zero), loadN(w + o, n, zero)), loadN(xr + o, n, zero), a0);
      }
      const inv = load<f32>(rstd + (<usize>r << 2));
      const vi = f32x4.splat(inv);
      const ncoef = f32x4.splat(-inv * inv * inv * hsum(f32x4.add(a0, a1)) / <f32>dim);
      // dys = dy * rstd: dx = dys * w - x * coef, part += dys * x (the first row of a block stores).
      const first = r == r0;
      j = 0;
      for (; j + 4 <= dim; j += 4) {
        const o = <usize>j << 2;
        const dys = f32x4.mul(v128.load(dyr + o), vi), xv = v128.load(xr + o);
        v128.store(dxr + o, madd(xv, ncoef, f32x4.mul(dys, v128.load(w + o))));
        v128.store(pu + o, madd(dys, xv, first ? zero : v128.load(pu + o)));
      }
      if (j < dim) {
        const n = dim - j, o = <usize>j << 2;
        const dys = f32x4.mul(loadN(dyr + o, n, zero), vi), xv = loadN(xr + o, n, zero);
        storeN(dxr + o, madd(xv, ncoef, f32x4.mul(dys, loadN(w + o, n, zero))), n);
        storeN(pu + o, madd(dys, xv, first ? zero : loadN(pu + o, n, zero)), n);
      }
    }
  }
}

/**
 * dw[c] += sum_u part[u, c] over the blocks' partial sums, column blocks of 64 [start, end): each
 * thread owns its columns, so the accumulation needs no synchronisation.
 */
export function rmsnormBackwardDw(part: usize, dw: usize, blocks: i32, dim: i32, start: i32, end: i32, tid: i32): void {
  const zero = f32x4.splat(0);
  for (let u = start; u < end; u++) {
    const c0 = u << 6, c1 = min(dim, c0 + 64);
    for (let c = c0; c < c1; c += 4) {
      const n = min(4, c1 - c), o = <usize>c << 2;
      let acc = zero;
      for (let b = 0; b < blocks; b++) acc = f32x4.add(acc, loadN(part + (<usize>b * <usize>dim << 2) + o, n, zero));
      storeN(dw + o, f32x4.add(loadN(dw + o, n, zero), acc), n);
    }
  }
}

/**
 * Rotate-half RoPE on x [rows, H, D], rows [start, end): out[j] = x[j]c - x[j+D/2]s,
 * out[j+D/2] = x[j+D/2]c + x[j]s with c, s from row positions[r] of the [maxPos, D/2] tables.
 * inverse negates s (the backward pass). x and out may alias: each chunk is loaded before stored.
 */
export function rope(x: usize, positions: usize, cos: usize, sin: usize, out: usize, H: i32, D: i32, inverse: i32,
  start: i32, end: i32, tid: i32): void {
  for (let r = start; r < end; r++) {
    const row = (<usize>r * <usize>H * <usize>D) << 2;
    ropeRow(x + row, out + row, cos, sin, load<i32>(positions + (<usize>r << 2)), H, D, inverse);
  }
}

/** One row of rope: H heads of D at x rotated to out (kernels/decode.ts ropeKvWrite shares it). */
// @ts-ignore: decorator
@inline export function ropeRow(x: usize, out: usize, cos: usize, sin: usize, pos: i32, H: i32, D: i32, inverse: i32): void {
  const half = D >> 1;
  const zero = f32x4.splat(0);
  const tc = cos + (<usize>pos * <usize>half << 2), ts = sin + (<usize>pos * <usize>half << 2);
  for (let h = 0; h < H; h++) {
    const base = (<usize>h * <usize>D) << 2;
    const hb = <usize>half << 2;
    for (let j = 0; j < half; j += 4) {
      const n = min(4, half - j), o = <usize>j << 2;
      const c = loadN(tc + o, n, zero);
      let s = loadN(ts + o, n, zero);
      if (inverse) s = f32x4.neg(s);
      const x1 = loadN(x + base + o, n, zero), x2 = loadN(x + base + hb + o, n, zero);
      storeN(out + base + o, f32x4.sub(f32x4.mul(x1, c), f32x4.mul(x2, s)), n);
      storeN(out + base + hb + o, f32x4.add(f32x4.mul(x2, c), f32x4.mul(x1, s)), n);
    }
  }
}

/** out[r, :] = table[ids[r], :] for rows [start, end). Ids were range-checked by the caller. */
export function embedding(table: usize, ids: usize, out: usize, dim: i32, start: i32, end: i32, tid: i32): void {
  const zero = f32x4.splat(0);
  for (let r = start; r < end; r++) {
    const src = table + (<usize>load<i32>(ids + (<usize>r << 2)) * <usize>dim << 2);
    const dst = out + (<usize>r * <usize>dim << 2);
    for (let j = 0; j < dim; j += 4) {
      const n = min(4, dim - j), o = <usize>j << 2;
      storeN(dst + o, loadN(src + o, n, zero), n);
    }
  }
}

/**
 * dTable[ids[r], c] += dOut[r, c] over column blocks of 64 [start, end). Splitting by columns
 * (not rows) keeps repeated ids race-free and the summation order the reference's.
 */
export function embeddingBackward(dOut: usize, ids: usize, dTable: usize, rows: i32, dim: i32, start: i32, end: i32, tid: i32): void {
  const zero = f32x4.splat(0);
  for (let u = start; u < end; u++) {
    const c0 = u << 6, c1 = min(dim, c0 + 64);
    for (let r = 0; r < rows; r++) {
      const dst = dTable + (<usize>load<i32>(ids + (<usize>r << 2)) * <usize>dim << 2);
      const src = dOut + (<usize>r * <usize>dim << 2);
      for (let c = c0; c < c1; c += 4) {
        const n = min(4, c1 - c), o = <usize>c << 2;
        storeN(dst + o, f32x4.add(loadN(dst + o, n, zero), loadN(src + o, n, zero)), n);
      }
    }
  }
}
