// Reductions and the row-wise softmax family. Row kernels process rows [start, end).
import { expNeg, hmax, hsum, loadN, madd, rowDot, rowMaxLoose, storeN } from './simd';

const SUM = 0;

/** Sum or max of a contiguous run of n floats. */
// @ts-ignore: decorator
@inline function rowReduce(op: i32, p: usize, n: i32): f32 {
  const pad = op == SUM ? f32x4.splat(0) : f32x4.splat(-Infinity);
  let a0 = pad, a1 = pad;
  let j = 0;
  if (op == SUM) {
    for (; j + 8 <= n; j += 8) {
      a0 = f32x4.add(a0, v128.load(p + (<usize>j << 2)));
      a1 = f32x4.add(a1, v128.load(p + (<usize>j << 2), 16));
    }
    for (; j < n; j += 4) a0 = f32x4.add(a0, loadN(p + (<usize>j << 2), min(4, n - j), pad));
    return hsum(f32x4.add(a0, a1));
  }
  for (; j + 8 <= n; j += 8) {
    a0 = f32x4.max(a0, v128.load(p + (<usize>j << 2)));
    a1 = f32x4.max(a1, v128.load(p + (<usize>j << 2), 16));
  }
  for (; j < n; j += 4) a0 = f32x4.max(a0, loadN(p + (<usize>j << 2), min(4, n - j), pad));
  return hmax(f32x4.max(a0, a1));
}

/** inner == 1: out[o] = reduce(x[o, :]) for rows o in [start, end). */
export function reduceRows(op: i32, x: usize, out: usize, len: i32, start: i32, end: i32, tid: i32): void {
  for (let o = start; o < end; o++) {
    store<f32>(out + (<usize>o << 2), rowReduce(op, x + (<usize>o * <usize>len << 2), len));
  }
}

/** Column blocks of 64: unit u covers outer index u / blocks and columns [64*(u % blocks), +64). */
export function reduceCols(op: i32, x: usize, out: usize, len: i32, inner: i32, start: i32, end: i32, tid: i32): void {
  const blocks = (inner + 63) >> 6;
  const pad = op == SUM ? f32x4.splat(0) : f32x4.splat(-Infinity);
  for (let u = start; u < end; u++) {
    const o = u / blocks;
    const c0 = (u % blocks) << 6;
    const c1 = min(inner, c0 + 64);
    const dst = out + ((<usize>o * <usize>inner + <usize>c0) << 2);
    const base = x + ((<usize>o * <usize>len * <usize>inner + <usize>c0) << 2);
    for (let c = 0; c < c1 - c0; c += 4) {
      const n = min(4, c1 - c0 - c);
      const off = <usize>c << 2;
      let acc = pad;
      let p = base + off;
      const step = <usize>inner << 2;
      if (op == SUM) {
        for (let l = 0; l < len; l++) { acc = f32x4.add(acc, loadN(p, n, pad)); p += step; }
      } else {
        for (let l = 0; l < len; l++) { acc = f32x4.max(acc, loadN(p, n, pad)); p += step; }
      }
      storeN(dst + off, acc, n);
    }
  }
}

/**
 * Row softmax: out = exp(x - max) / sum. Three passes over the row, only the first from memory
 * when the row fits in L1/L2 (the max, then exp stored and summed, then the scaling); exp is the
 * cost, so the middle pass is the one that matters: expNeg, two vectors per step with the loads
 * unmasked (the ragged tail goes last).
 */
export function softmax(x: usize, out: usize, cols: i32, start: i32, end: i32, tid: i32): void {
  const ninf = f32x4.splat(-Infinity), zero = f32x4.splat(0);
  for (let r = start; r < end; r++) {
    const xr = x + (<usize>r * <usize>cols << 2), orow = out + (<usize>r * <usize>cols << 2);
    const mx = f32x4.splat(rowMaxLoose(xr, cols));
    let a0 = zero, a1 = zero;
    let j = 0;
    for (; j + 8 <= cols; j += 8) {
      const o = <usize>j << 2;
      const e0 = expNeg(f32x4.sub(v128.load(xr + o), mx));
      const e1 = expNeg(f32x4.sub(v128.load(xr + o, 16), mx));
      v128.store(orow + o, e0);
      v128.store(orow + o, e1, 16);
      a0 = f32x4.add(a0, e0);
      a1 = f32x4.add(a1, e1);
    }
    for (; j < cols; j += 4) {
      const n = min(4, cols - j), o = <usize>j << 2;
      // Missing lanes load as -inf: expNeg gives 0, which the sum ignores.
      const e = expNeg(f32x4.sub(loadN(xr + o, n, ninf), mx));
      a0 = f32x4.add(a0, e);
      storeN(orow + o, e, n);
    }
    const inv = f32x4.splat(<f32>1.0 / hsum(f32x4.add(a0, a1)));
    j = 0;
    for (; j + 8 <= cols; j += 8) {
      const p = orow + (<usize>j << 2);
      v128.store(p, f32x4.mul(v128.load(p), inv));
      v128.store(p, f32x4.mul(v128.load(p, 16), inv), 16);
    }
    for (; j < cols; j += 4) {
      const n = min(4, cols - j);
      const p = orow + (<usize>j << 2);
      storeN(p, f32x4.mul(loadN(p, n, zero), inv), n);
    }
  }
}

/** dx = y * (dy - sum(dy * y)) per row. */
export function softmaxBackward(y: usize, dy: usize, dx: usize, cols: i32, start: i32, end: i32, tid: i32): void {
  const zero = f32x4.splat(0);
  for (let r = start; r < end; r++) {
    const off = <usize>r * <usize>cols << 2;
    const dot = f32x4.splat(rowDot(dy + off, y + off, cols));
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const o = off + (<usize>j << 2);
      v128.store(dx + o, f32x4.mul(v128.load(y + o), f32x4.sub(v128.load(dy + o), dot)));
    }
    if (j < cols) {
      const n = cols - j, o = off + (<usize>j << 2);
      storeN(dx + o, f32x4.mul(loadN(y + o, n, zero), f32x4.sub(loadN(dy + o, n, zero), dot)), n);
    }
  }
}

/** Row log-softmax: out = x - max - log(sum(exp(x - max))). */
export function logSoftmax(x: usize, out: usize, cols: i32, start: i32, end: i32, tid: i32): void {
  const ninf = f32x4.splat(-Infinity), zero = f32x4.splat(0);
  for (let r = start; r < end; r++) {
    const xr = x + (<usize>r * <usize>cols << 2), orow = out + (<usize>r * <usize>cols << 2);
    const m = rowMaxLoose(xr, cols);
    const mx = f32x4.splat(m);
    let a0 = zero, a1 = zero;
    let j = 0;
    for (; j + 8 <= cols; j += 8) {
      const o = <usize>j << 2;
      a0 = f32x4.add(a0, expNeg(f32x4.sub(v128.load(xr + o), mx)));
      a1 = f32x4.add(a1, expNeg(f32x4.sub(v128.load(xr + o, 16), mx)));
    }
    for (; j < cols; j += 4) a0 = f32x4.add(a0, expNeg(f32x4.sub(loadN(xr + (<usize>j << 2), min(4, cols - j), ninf), mx)));
    const lse = f32x4.splat(m + Mathf.log(hsum(f32x4.add(a0, a1))));
    for (let j = 0; j < cols; j += 4) {
      const n = min(4, cols - j);
      storeN(orow + (<usize>j << 2), f32x4.sub(loadN(xr + (<usize>j << 2), n, zero), lse), n);
    }
  }
}

/** dx = dy - exp(y) * sum(dy) per row, y the log-softmax output. */
export function logSoftmaxBackward(y: usize, dy: usize, dx: usize, cols: i32, start: i32, end: i32, tid: i32): void {
  const zero = f32x4.splat(0);
  for (let r = start; r < end; r++) {
    const off = <usize>r * <usize>cols << 2;
    const s = f32x4.splat(rowReduce(SUM, dy + off, cols));
    for (let j = 0; j < cols; j += 4) {
      const n = min(4, cols - j), o = off + (<usize>j << 2);
      const g = loadN(dy + o, n, zero);
      // y is a log-probability (<= 0, or a rounding above), in expNeg's range.
      storeN(dx + o, f32x4.sub(g, f32x4.mul(expNeg(loadN(y + o, n, zero)), s)), n);
    }
  }
}
