// Fused causal attention with grouped KV heads (see AttentionArgs in src/backend/backend.ts).
// Scores are recomputed per query row; nothing of size Tq x Tk is stored, only the row's scores
// in a per-thread scratch area of Tk floats.
import { expf, expv, hsum, loadN, madd, storeN } from './simd';

/** dot(a[0..D), b[0..D)). */
// @ts-ignore: decorator
@inline function dot(a: usize, b: usize, D: i32): f32 {
  const zero = f32x4.splat(0);
  let acc = zero;
  for (let d = 0; d < D; d += 4) {
    const cnt = min(4, D - d), o = <usize>d << 2;
    acc = madd(loadN(a + o, cnt, zero), loadN(b + o, cnt, zero), acc);
  }
  return hsum(acc);
}

/** y[0..D) += s * x[0..D). */
// @ts-ignore: decorator
@inline function axpy(y: usize, x: usize, s: f32, D: i32): void {
  const zero = f32x4.splat(0), vs = f32x4.splat(s);
  for (let d = 0; d < D; d += 4) {
    const cnt = min(4, D - d), o = <usize>d << 2;
    storeN(y + o, madd(vs, loadN(x + o, cnt, zero), loadN(y + o, cnt, zero)), cnt);
  }
}

/**
 * Forward over query rows [start, end), numbered ((b*H + h)*Tq + i). keyBias is read only when
 * hasBias. scratch + tid*scratchStride holds this thread's Tk scores (bytes).
 */
export function attention(q: usize, k: usize, v: usize, bias: usize, hasBias: i32, out: usize, lse: usize,
  Tq: i32, H: i32, Hkv: i32, D: i32, pastLen: i32, kvBatchStride: i32, scale: f32,
  scratch: usize, scratchStride: i32, start: i32, end: i32, tid: i32): void {
  const group = H / Hkv, Tk = pastLen + Tq;
  const s = scratch + <usize>tid * <usize>scratchStride;
  const rowStride = <usize>Hkv * <usize>D << 2;
  const zero = f32x4.splat(0);
  for (let u = start; u < end; u++) {
    const i = u % Tq, bh = u / Tq;
    const h = bh % H, b = bh / H, kh = h / group;
    const qp = q + (((<usize>b * <usize>Tq + <usize>i) * <usize>H + <usize>h) * <usize>D << 2);
    const kb = k + ((<usize>b * <usize>kvBatchStride + <usize>kh * <usize>D) << 2);
    const vb = v + ((<usize>b * <usize>kvBatchStride + <usize>kh * <usize>D) << 2);
    const bb = bias + (<usize>b * <usize>Tk << 2);
    const n = pastLen + i + 1;
    let mx: f32 = -Infinity;
    for (let j = 0; j < n; j++) {
      let sc = dot(qp, kb + <usize>j * rowStride, D) * scale;
      if (hasBias) sc += load<f32>(bb + (<usize>j << 2));
      store<f32>(s + (<usize>j << 2), sc);
      mx = max(mx, sc);
    }
    const vm = f32x4.splat(mx), ninf = f32x4.splat(-Infinity);
    let acc = zero;
    for (let j = 0; j < n; j += 4) {
      // Missing lanes load as -inf, whose exp is 0.
      const c = min(4, n - j), o = <usize>j << 2;
      const e = expv(f32x4.sub(loadN(s + o, c, ninf), vm));
      acc = f32x4.add(acc, e);
      storeN(s + o, e, c);
    }
    const sum = hsum(acc);
    store<f32>(lse + (<usize>u << 2), mx + Mathf.log(sum));
    // out = sum_j p_j v_j, 16 output features at a time so the accumulators stay in registers.
    const inv = f32x4.splat(<f32>1.0 / sum);
    const op = out + (qp - q);
    for (let d = 0; d < D; d += 16) {
      const nd = min(16, D - d), o = <usize>d << 2;
      let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
      let vp = vb + o;
      for (let j = 0; j < n; j++) {
        const p = v128.load32_splat(s + (<usize>j << 2));
        a0 = madd(p, loadN(vp, nd, zero), a0);
        if (nd > 4) a1 = madd(p, loadN(vp + 16, nd - 4, zero), a1);
        if (nd > 8) a2 = madd(p, loadN(vp + 32, nd - 8, zero), a2);
        if (nd > 12) a3 = madd(p, loadN(vp + 48, nd - 12, zero), a3);
        vp += rowStride;
      }
      storeN(op + o, f32x4.mul(a0, inv), nd);
      if (nd > 4) storeN(op + o + 16, f32x4.mul(a1, inv), nd - 4);
      if (nd > 8) storeN(op + o + 32, f32x4.mul(a2, inv), nd - 8);
      if (nd > 12) storeN(op + o + 48, f32x4.mul(a3, inv), nd - 12);
    }
  }
}

/**
 * Backward over units [start, end) = (batch, kv head) pairs, u = b*Hkv + kh. A unit owns the dk/dv
 * rows of its kv head in its batch item, and the dq rows of every query head in the group, so
 * threads never write the same element. dq is overwritten; dk, dv are accumulated into.
 */
export function attentionBackward(q: usize, k: usize, v: usize, bias: usize, hasBias: i32, out: usize, lse: usize,
  dOut: usize, dq: usize, dk: usize, dv: usize, Tq: i32, H: i32, Hkv: i32, D: i32, pastLen: i32, kvBatchStride: i32,
  scale: f32, start: i32, end: i32, tid: i32): void {
  const group = H / Hkv, Tk = pastLen + Tq;
  const rowStride = <usize>Hkv * <usize>D << 2;
  for (let u = start; u < end; u++) {
    const b = u / Hkv, kh = u % Hkv;
    const kvOff = (<usize>b * <usize>kvBatchStride + <usize>kh * <usize>D) << 2;
    const bb = bias + (<usize>b * <usize>Tk << 2);
    for (let g = 0; g < group; g++) {
      const h = kh * group + g;
      for (let i = 0; i < Tq; i++) {
        const rowOff = ((<usize>b * <usize>Tq + <usize>i) * <usize>H + <usize>h) * <usize>D << 2;
        const qp = q + rowOff, dop = dOut + rowOff, dqp = dq + rowOff;
        const l = load<f32>(lse + (((<usize>b * <usize>H + <usize>h) * <usize>Tq + <usize>i) << 2));
        // delta = dOut . out, the row dot product of the softmax backward.
        const delta = dot(dop, out + rowOff, D);
        for (let d = 0; d < D; d++) store<f32>(dqp + (<usize>d << 2), 0);
        const n = pastLen + i + 1;
        for (let j = 0; j < n; j++) {
          const jo = kvOff + <usize>j * rowStride;
          let sc = dot(qp, k + jo, D) * scale;
          if (hasBias) sc += load<f32>(bb + (<usize>j << 2));
          const p = expf(sc - l);
          const ds = p * (dot(dop, v + jo, D) - delta) * scale;
          axpy(dqp, k + jo, ds, D);
          axpy(dk + jo, qp, ds, D);
          axpy(dv + jo, dop, p, D);
        }
      }
    }
  }
}
