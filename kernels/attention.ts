// Fused causal attention with grouped KV heads (see AttentionArgs in src/backend/backend.ts).
// Scores are recomputed per query row; nothing of size Tq x Tk is stored, only the row's scores
// in a per-thread scratch area of Tk floats. With keyStart (hasKs), query i of batch item b sees keys
// load<i32>(keyStart + 4*(b*Tq + i)) .. pastLen + i, and the loops start at the first key any row of
// the unit sees, so packed sequences cost the sum of their squared lengths.
import { expf, expNeg, hmax, hsum, loadN, madd, storeN } from './simd';

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

/** [sum(a), sum(b), sum(c), sum(d)]: four horizontal sums in six instructions. */
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 1, 4, 5), v128.shuffle<f32>(a, b, 2, 3, 6, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 1, 4, 5), v128.shuffle<f32>(c, d, 2, 3, 6, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 2, 4, 6), v128.shuffle<f32>(ab, cd, 1, 3, 5, 7));
}

/** The first key of rows i0..i0+nr-1 of batch item b, one lane per row (rows past nr repeat row i0); 0 without keyStart. */
// @ts-ignore: decorator
@inline function blockKeyStarts(ks: usize, hasKs: i32, b: i32, Tq: i32, i0: i32, nr: i32): v128 {
  if (!hasKs) return i32x4.splat(0);
  const p = ks + ((<usize>b * <usize>Tq + <usize>i0) << 2);
  return loadN(p, nr, i32x4.splat(load<i32>(p)));
}

/** The smallest lane of an i32x4. */
// @ts-ignore: decorator
@inline function minLane(v: v128): i32 {
  return min(min(i32x4.extract_lane(v, 0), i32x4.extract_lane(v, 1)), min(i32x4.extract_lane(v, 2), i32x4.extract_lane(v, 3)));
}

/**
 * Forward over query rows [start, end), numbered ((b*H + h)*Tq + i): decoding (Tq < 4) and head sizes
 * that are not a multiple of 4 (attentionBlocks takes the rest). keyBias is read only when hasBias.
 * scratch + tid*scratchStride holds this thread's Tk scores (bytes). With D % 4 == 0 the scores go 4
 * keys at a time, each q vector loaded once for the 4 key rows (one horizontal sum per 4 keys), and
 * out = p @ V 32 features at a time in 8 registers: key by key with a horizontal sum each, loads of a
 * variable count and branches in the p @ V loop, decoding spent ~34 ns per key at head size 32
 * (docs/benchmarks.md).
 */
export function attention(q: usize, k: usize, v: usize, bias: usize, hasBias: i32, ks: usize, hasKs: i32, out: usize, lse: usize,
  Tq: i32, H: i32, Hkv: i32, D: i32, pastLen: i32, kvBatchStride: i32, scale: f32,
  scratch: usize, scratchStride: i32, start: i32, end: i32, tid: i32): void {
  const group = H / Hkv, Tk = pastLen + Tq;
  const s = scratch + <usize>tid * <usize>scratchStride;
  const rowStride = <usize>Hkv * <usize>D << 2;
  const zero = f32x4.splat(0), ninf = f32x4.splat(-Infinity), vs = f32x4.splat(scale);
  const whole = D % 4 == 0;
  for (let u = start; u < end; u++) {
    const i = u % Tq, bh = u / Tq;
    const h = bh % H, b = bh / H, kh = h / group;
    const qp = q + (((<usize>b * <usize>Tq + <usize>i) * <usize>H + <usize>h) * <usize>D << 2);
    const kb = k + ((<usize>b * <usize>kvBatchStride + <usize>kh * <usize>D) << 2);
    const vb = v + ((<usize>b * <usize>kvBatchStride + <usize>kh * <usize>D) << 2);
    const bb = bias + (<usize>b * <usize>Tk << 2);
    const n = pastLen + i + 1;
    const j0 = hasKs ? load<i32>(ks + ((<usize>b * <usize>Tq + <usize>i) << 2)) : 0;
    let mv = ninf;
    let j = j0;
    if (whole) {
      for (; j + 4 <= n; j += 4) {
        const k0 = kb + <usize>j * rowStride, k1 = k0 + rowStride, k2 = k1 + rowStride, k3 = k2 + rowStride;
        let s0 = zero, s1 = zero, s2 = zero, s3 = zero;
        for (let d = 0; d < D; d += 4) {
          const o = <usize>d << 2;
          const qv = v128.load(qp + o);
          s0 = madd(qv, v128.load(k0 + o), s0);
          s1 = madd(qv, v128.load(k1 + o), s1);
          s2 = madd(qv, v128.load(k2 + o), s2);
          s3 = madd(qv, v128.load(k3 + o), s3);
        }
        let sv = f32x4.mul(hsum4(s0, s1, s2, s3), vs);
        if (hasBias) sv = f32x4.add(sv, v128.load(bb + (<usize>j << 2)));
        v128.store(s + (<usize>j << 2), sv);
        mv = f32x4.max(mv, sv);
      }
    }
    let mx: f32 = hmax(mv);
    for (; j < n; j++) {
      let sc = dot(qp, kb + <usize>j * rowStride, D) * scale;
      if (hasBias) sc += load<f32>(bb + (<usize>j << 2));
      store<f32>(s + (<usize>j << 2), sc);
      mx = max(mx, sc);
    }
    const vm = f32x4.splat(mx);
    let acc = zero;
    for (let jj = j0; jj < n; jj += 4) {
      // Missing lanes load as -inf, whose exp is 0.
      const c = min(4, n - jj), o = <usize>jj << 2;
      const e = expNeg(f32x4.sub(loadN(s + o, c, ninf), vm));
      acc = f32x4.add(acc, e);
      storeN(s + o, e, c);
    }
    const sum = hsum(acc);
    store<f32>(lse + (<usize>u << 2), mx + Mathf.log(sum));
    const inv = f32x4.splat(<f32>1.0 / sum);
    const op = out + (qp - q);
    if (whole) wholeRowsPV(s, vb, op, j0, n, D, rowStride, inv);
    else partRowsPV(s, vb, op, j0, n, D, rowStride, inv);
  }
}

/** out[0..D) = inv * sum_j p_j v_j (D % 4 == 0): 32 features at a time in 8 registers, then 4 at a time. */
// @ts-ignore: decorator
@inline function wholeRowsPV(s: usize, vb: usize, op: usize, j0: i32, n: i32, D: i32, rowStride: usize, inv: v128): void {
  const zero = f32x4.splat(0);
  let d = 0;
  for (; d + 32 <= D; d += 32) {
    const o = <usize>d << 2;
    let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
    let vp = vb + o + <usize>j0 * rowStride;
    for (let j = j0; j < n; j++) {
      const p = v128.load32_splat(s + (<usize>j << 2));
      a0 = madd(p, v128.load(vp), a0); a1 = madd(p, v128.load(vp, 16), a1);
      a2 = madd(p, v128.load(vp, 32), a2); a3 = madd(p, v128.load(vp, 48), a3);
      a4 = madd(p, v128.load(vp, 64), a4); a5 = madd(p, v128.load(vp, 80), a5);
      a6 = madd(p, v128.load(vp, 96), a6); a7 = madd(p, v128.load(vp, 112), a7);
      vp += rowStride;
    }
    v128.store(op + o, f32x4.mul(a0, inv)); v128.store(op + o, f32x4.mul(a1, inv), 16);
    v128.store(op + o, f32x4.mul(a2, inv), 32); v128.store(op + o, f32x4.mul(a3, inv), 48);
    v128.store(op + o, f32x4.mul(a4, inv), 64); v128.store(op + o, f32x4.mul(a5, inv), 80);
    v128.store(op + o, f32x4.mul(a6, inv), 96); v128.store(op + o, f32x4.mul(a7, inv), 112);
  }
  for (; d < D; d += 4) {
    const o = <usize>d << 2;
    let a0 = zero;
    let vp = vb + o + <usize>j0 * rowStride;
    for (let j = j0; j < n; j++) {
      a0 = madd(v128.load32_splat(s + (<usize>j << 2)), v128.load(vp), a0);
      vp += rowStride;
    }
    v128.store(op + o, f32x4.mul(a0, inv));
  }
}

/** out[0..D) = inv * sum_j p_j v_j for any D: 16 output features at a time so the accumulators stay in registers. */
// @ts-ignore: decorator
@inline function partRowsPV(s: usize, vb: usize, op: usize, j0: i32, n: i32, D: i32, rowStride: usize, inv: v128): void {
  const zero = f32x4.splat(0);
  for (let d = 0; d < D; d += 16) {
    const nd = min(16, D - d), o = <usize>d << 2;
    let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    let vp = vb + o + <usize>j0 * rowStride;
    for (let j = j0; j < n; j++) {
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

/**
 * Dot products of 4 rows (a0..a3) with 2 rows (x, y), D floats each, D % 4 == 0: stores
 * [a_r . x] for r = 0..3 at out and [a_r . y] 16 bytes later. Each a vector loaded serves 2
 * multiply-adds, where one key at a time is bound by the loads (5 per 4 multiply-adds).
 */
// @ts-ignore: decorator
@inline function dots4x2(a0: usize, a1: usize, a2: usize, a3: usize, x: usize, y: usize, D: i32, out: usize): void {
  const zero = f32x4.splat(0);
  let s0 = zero, s1 = zero, s2 = zero, s3 = zero, t0 = zero, t1 = zero, t2 = zero, t3 = zero;
  for (let d = 0; d < D; d += 4) {
    const o = <usize>d << 2;
    const xv = v128.load(x + o), yv = v128.load(y + o);
    const v0 = v128.load(a0 + o), v1 = v128.load(a1 + o), v2 = v128.load(a2 + o), v3 = v128.load(a3 + o);
    s0 = madd(v0, xv, s0); t0 = madd(v0, yv, t0);
    s1 = madd(v1, xv, s1); t1 = madd(v1, yv, t1);
    s2 = madd(v2, xv, s2); t2 = madd(v2, yv, t2);
    s3 = madd(v3, xv, s3); t3 = madd(v3, yv, t3);
  }
  v128.store(out, hsum4(s0, s1, s2, s3));
  v128.store(out, hsum4(t0, t1, t2, t3), 16);
}

/**
 * Key j's weights for the 4 rows of a backward block from its raw scores q.k and dO.v:
 * p = exp(s*scale + bias - lse) on the rows that see key j (causal, and from the row's keyStart ksv), ds = p*(dp - delta)*scale; stored as
 * one vector each in the block's scratch (p at sc, ds pOff bytes later).
 */
// @ts-ignore: decorator
@inline function backwardWeights(qk: v128, dp: v128, j: i32, bias: usize, hasBias: i32, lanes: v128, ksv: v128, pastLen: i32, i0: i32,
  lv: v128, delta: v128, vs: v128, sc: usize, pOff: usize): void {
  let sv = f32x4.mul(qk, vs);
  if (hasBias) sv = f32x4.add(sv, f32x4.splat(load<f32>(bias + (<usize>j << 2))));
  const jv = i32x4.splat(j);
  const live = v128.and(i32x4.ge_s(lanes, i32x4.sub(jv, i32x4.splat(pastLen + i0))), i32x4.le_s(ksv, jv));
  const p = v128.and(expNeg(f32x4.sub(sv, lv)), live);
  const ds = f32x4.mul(f32x4.mul(p, f32x4.sub(dp, delta)), vs);
  v128.store(sc + (<usize>j << 4), p);
  v128.store(sc + pOff + (<usize>j << 4), ds);
}

/**
 * Backward of one block of up to 4 query rows [i0, i0 + nr) of query head h against its keys, the
 * FlashAttention-2 recipe with the block as the unit of reuse. Pass 1 walks the keys once and
 * forms, for all 4 rows together, s = q.k and dp = dO.v (each key row loaded once per block, not
 * once per query), then p = exp(s*scale + bias - lse) and ds = p*(dp - delta)*scale, kept as one
 * vector per key in `sc` ([key][4 rows] p, then [key][4 rows] ds). Pass 2 forms dq = ds @ K with 8
 * output features per register pair. Pass 3 adds ds^T @ Q into dk and p^T @ dO into dv, each key's
 * 4 row weights splat once. D % 4 == 0. dq rows are overwritten; dk/dv (dkb, dvb: this unit's kv
 * head in its batch item, rows gradStride bytes apart; k and v rows are rowStride apart) are accumulated into.
 */
function backwardBlock(q: usize, out: usize, dOut: usize, dq: usize, lse: usize, k: usize, v: usize, dkb: usize, dvb: usize,
  bias: usize, hasBias: i32, ks: usize, hasKs: i32, sc: usize, i0: i32, nr: i32, b: i32, h: i32, Tq: i32, H: i32, D: i32, pastLen: i32,
  rowStride: usize, gradStride: usize, scale: f32): void {
  const zero = f32x4.splat(0);
  const qRow = <usize>H * <usize>D << 2;
  // Rows past nr alias row i0 and are masked out (their lse is +inf, so p = 0).
  const r0 = ((<usize>b * <usize>Tq + <usize>i0) * <usize>H + <usize>h) * <usize>D << 2;
  const o1: usize = nr > 1 ? qRow : 0, o2: usize = nr > 2 ? 2 * qRow : 0, o3: usize = nr > 3 ? 3 * qRow : 0;
  const q0 = q + r0, q1 = q0 + o1, q2 = q0 + o2, q3 = q0 + o3;
  const g0 = dOut + r0, g1 = g0 + o1, g2 = g0 + o2, g3 = g0 + o3;
  const lp = lse + (((<usize>b * <usize>H + <usize>h) * <usize>Tq + <usize>i0) << 2);
  const inf = f32x4.splat(Infinity);
  const lv = loadN(lp, nr, inf);
  // delta_r = dO_r . out_r, the row term of the softmax backward.
  let e0 = zero, e1 = zero, e2 = zero, e3 = zero;
  const u0 = out + r0, u1 = u0 + o1, u2 = u0 + o2, u3 = u0 + o3;
  for (let d = 0; d < D; d += 4) {
    const o = <usize>d << 2;
    e0 = madd(v128.load(g0 + o), v128.load(u0 + o), e0);
    e1 = madd(v128.load(g1 + o), v128.load(u1 + o), e1);
    e2 = madd(v128.load(g2 + o), v128.load(u2 + o), e2);
    e3 = madd(v128.load(g3 + o), v128.load(u3 + o), e3);
  }
  const delta = hsum4(e0, e1, e2, e3);
  const n = pastLen + i0 + nr; // keys any row of the block sees
  // Row r sees keys keyStart_r <= j <= pastLen + i0 + r, i.e. lane r is live when r >= j - pastLen - i0
  // and ksv[r] <= j; keys before every row's keyStart are skipped.
  const lanes = i32x4(0, 1, 2, 3);
  const ksv = blockKeyStarts(ks, hasKs, b, Tq, i0, nr);
  const lo = minLane(ksv);
  const vs = f32x4.splat(scale);
  const pOff = <usize>n << 4; // ds vectors follow the p vectors
  let j = lo;
  // Two keys per step (dots4x2), the scores and dO.v in two passes over d: 16 accumulators in one
  // would not fit in x64's 16 xmm registers.
  for (; j + 2 <= n; j += 2) {
    // Raw q.k into the p slots and dO.v into the ds slots of keys j and j+1; backwardWeights
    // reads them back and overwrites them with p and ds.
    const ka = k + <usize>j * rowStride, va = v + <usize>j * rowStride;
    const ps = sc + (<usize>j << 4), ds = ps + pOff;
    dots4x2(q0, q1, q2, q3, ka, ka + rowStride, D, ps);
    dots4x2(g0, g1, g2, g3, va, va + rowStride, D, ds);
    backwardWeights(v128.load(ps), v128.load(ds), j, bias, hasBias, lanes, ksv, pastLen, i0, lv, delta, vs, sc, pOff);
    backwardWeights(v128.load(ps, 16), v128.load(ds, 16), j + 1, bias, hasBias, lanes, ksv, pastLen, i0, lv, delta, vs, sc, pOff);
  }
  for (; j < n; j++) {
    const kj = k + <usize>j * rowStride, vj = v + <usize>j * rowStride;
    let s0 = zero, s1 = zero, s2 = zero, s3 = zero, p0 = zero, p1 = zero, p2 = zero, p3 = zero;
    for (let d = 0; d < D; d += 4) {
      const o = <usize>d << 2;
      const kv = v128.load(kj + o), vv = v128.load(vj + o);
      s0 = madd(v128.load(q0 + o), kv, s0);
      s1 = madd(v128.load(q1 + o), kv, s1);
      s2 = madd(v128.load(q2 + o), kv, s2);
      s3 = madd(v128.load(q3 + o), kv, s3);
      p0 = madd(v128.load(g0 + o), vv, p0);
      p1 = madd(v128.load(g1 + o), vv, p1);
      p2 = madd(v128.load(g2 + o), vv, p2);
      p3 = madd(v128.load(g3 + o), vv, p3);
    }
    backwardWeights(hsum4(s0, s1, s2, s3), hsum4(p0, p1, p2, p3), j, bias, hasBias, lanes, ksv, pastLen, i0, lv, delta, vs, sc, pOff);
  }
  // dq_r = sum_j ds[j][r] k_j, 8 features of the 4 rows in 8 registers.
  const w0 = dq + r0, w1 = w0 + qRow, w2 = w0 + 2 * qRow, w3 = w0 + 3 * qRow;
  const dsp = sc + pOff;
  for (let d = 0; d < D; d += 8) {
    const o = <usize>d << 2;
    const two = d + 8 <= D;
    let a0 = zero, a1 = zero, a2 = zero, a3 = zero, c0 = zero, c1 = zero, c2 = zero, c3 = zero;
    let kp = k + o + <usize>lo * rowStride;
    for (let j = lo; j < n; j++) {
      const w = dsp + (<usize>j << 4);
      const x0 = v128.load32_splat(w), x1 = v128.load32_splat(w + 4), x2 = v128.load32_splat(w + 8), x3 = v128.load32_splat(w + 12);
      const ka = v128.load(kp);
      a0 = madd(x0, ka, a0); a1 = madd(x1, ka, a1); a2 = madd(x2, ka, a2); a3 = madd(x3, ka, a3);
      if (two) {
        const kb = v128.load(kp, 16);
        c0 = madd(x0, kb, c0); c1 = madd(x1, kb, c1); c2 = madd(x2, kb, c2); c3 = madd(x3, kb, c3);
      }
      kp += rowStride;
    }
    v128.store(w0 + o, a0);
    if (two) v128.store(w0 + o, c0, 16);
    if (nr > 1) { v128.store(w1 + o, a1); if (two) v128.store(w1 + o, c1, 16); }
    if (nr > 2) { v128.store(w2 + o, a2); if (two) v128.store(w2 + o, c2, 16); }
    if (nr > 3) { v128.store(w3 + o, a3); if (two) v128.store(w3 + o, c3, 16); }
  }
  // dk_j += sum_r ds[j][r] q_r and dv_j += sum_r p[j][r] dO_r (masked rows carry zero weights).
  for (let j = lo; j < n; j++) {
    const pw = sc + (<usize>j << 4), dw = dsp + (<usize>j << 4);
    const x0 = v128.load32_splat(dw), x1 = v128.load32_splat(dw + 4), x2 = v128.load32_splat(dw + 8), x3 = v128.load32_splat(dw + 12);
    const y0 = v128.load32_splat(pw), y1 = v128.load32_splat(pw + 4), y2 = v128.load32_splat(pw + 8), y3 = v128.load32_splat(pw + 12);
    const dkj = dkb + <usize>j * gradStride, dvj = dvb + <usize>j * gradStride;
    for (let d = 0; d < D; d += 4) {
      const o = <usize>d << 2;
      let a = v128.load(dkj + o);
      a = madd(x0, v128.load(q0 + o), a); a = madd(x1, v128.load(q1 + o), a);
      a = madd(x2, v128.load(q2 + o), a); a = madd(x3, v128.load(q3 + o), a);
      v128.store(dkj + o, a);
      let c = v128.load(dvj + o);
      c = madd(y0, v128.load(g0 + o), c); c = madd(y1, v128.load(g1 + o), c);
      c = madd(y2, v128.load(g2 + o), c); c = madd(y3, v128.load(g3 + o), c);
      v128.store(dvj + o, c);
    }
  }
}

/**
 * Blocked backward (D % 4 == 0). With split == 0, units [start, end) are (batch, kv head) pairs and
 * a unit owns the dk/dv rows of its kv head: it sums them from zero in the thread's scratch, after
 * its p/ds vectors (Tk rows of D floats for dk, then as many for dv, contiguous), and adds them into
 * dk/dv when done. Accumulated in place, the rows of neighbouring kv heads share each token's row
 * of dk/dv, and two threads adding into them at the same tokens ran slower than one (Qwen2.5-0.5B's
 * 2 kv heads at 512 tokens: 39.8 ms against 33.1; docs/benchmarks.md). With split == 1
 * (too few pairs to keep every thread busy), units are (batch, kv head, query head of the group,
 * query block) and each thread accumulates into its own zeroed dk/dv copy at partials +
 * tid*partialStride (dk copy, then dv copy kvElems floats later), summed into dk/dv afterwards;
 * query blocks are dealt in the order 0, last, 1, last-1, ... so each contiguous chunk of units
 * gets a fair share of the causal triangle. dq is overwritten. scratch + tid*scratchStride
 * holds a thread's p/ds vectors (32*Tk bytes) and, with split == 0, its unit's dk/dv sums (8*Tk*D bytes).
 */
export function attentionBackward(q: usize, k: usize, v: usize, bias: usize, hasBias: i32, ks: usize, hasKs: i32, out: usize, lse: usize,
  dOut: usize, dq: usize, dk: usize, dv: usize, Tq: i32, H: i32, Hkv: i32, D: i32, pastLen: i32, kvBatchStride: i32,
  scale: f32, scratch: usize, scratchStride: i32, split: i32, partials: usize, partialStride: i32, kvElems: i32,
  start: i32, end: i32, tid: i32): void {
  const group = H / Hkv, Tk = pastLen + Tq;
  const rowStride = <usize>Hkv * <usize>D << 2;
  const sc = scratch + <usize>tid * <usize>scratchStride;
  const blocks = (Tq + 3) >> 2;
  const dkOut = split ? partials + <usize>tid * <usize>partialStride : dk;
  const dvOut = split ? dkOut + (<usize>kvElems << 2) : dv;
  const own = sc + (<usize>Tk << 5);
  for (let u = start; u < end; u++) {
    let b: i32, kh: i32, g0: i32, g1: i32, bl0: i32, bl1: i32;
    if (split) {
      const z = u % blocks, rest = u / blocks;
      const blk = (z & 1) ? blocks - 1 - (z >> 1) : z >> 1;
      g0 = rest % group; g1 = g0 + 1;
      b = rest / group / Hkv; kh = (rest / group) % Hkv;
      bl0 = blk; bl1 = blk + 1;
    } else {
      b = u / Hkv; kh = u % Hkv;
      g0 = 0; g1 = group; bl0 = 0; bl1 = blocks;
    }
    const kvOff = (<usize>b * <usize>kvBatchStride + <usize>kh * <usize>D) << 2;
    const bb = bias + (<usize>b * <usize>Tk << 2);
    // The unit's own sums (split == 0) or the thread's copy of dk/dv (split == 1).
    const gradStride: usize = split ? rowStride : <usize>D << 2;
    const sumK = split ? dkOut + kvOff : own, sumV = split ? dvOut + kvOff : own + <usize>Tk * gradStride;
    if (!split) {
      const zero = f32x4.splat(0);
      for (let o: usize = 0; o < <usize>Tk * gradStride * 2; o += 16) v128.store(own + o, zero);
    }
    for (let g = g0; g < g1; g++) {
      for (let bl = bl0; bl < bl1; bl++) {
        const i0 = bl << 2;
        backwardBlock(q, out, dOut, dq, lse, k + kvOff, v + kvOff, sumK, sumV, bb, hasBias, ks, hasKs, sc, i0,
          min(4, Tq - i0), b, kh * group + g, Tq, H, D, pastLen, rowStride, gradStride, scale);
      }
    }
    if (!split) {
      for (let j = 0; j < Tk; j++) {
        const src = <usize>j * gradStride, dst = kvOff + <usize>j * rowStride;
        for (let d: usize = 0; d < gradStride; d += 16) {
          v128.store(dk + dst + d, f32x4.add(v128.load(dk + dst + d), v128.load(sumK + src + d)));
          v128.store(dv + dst + d, f32x4.add(v128.load(dv + dst + d), v128.load(sumV + src + d)));
        }
      }
    }
  }
}

/**
 * Key j's scores for the 4 rows of a forward block from the raw q.k: scaled, plus the key's bias,
 * -inf on the rows that do not see key j (causal, or before the row's keyStart ksv); stored in the block's scratch and returned for the max.
 */
// @ts-ignore: decorator
@inline function forwardScores(qk: v128, j: i32, bb: usize, hasBias: i32, lanes: v128, ksv: v128, pastLen: i32, i0: i32, vs: v128,
  sc: usize): v128 {
  let sv = f32x4.mul(qk, vs);
  if (hasBias) sv = f32x4.add(sv, f32x4.splat(load<f32>(bb + (<usize>j << 2))));
  const jv = i32x4.splat(j);
  const live = v128.and(i32x4.ge_s(lanes, i32x4.sub(jv, i32x4.splat(pastLen + i0))), i32x4.le_s(ksv, jv));
  sv = v128.bitselect(sv, f32x4.splat(-Infinity), live);
  v128.store(sc + (<usize>j << 4), sv);
  return sv;
}

/**
 * Forward over blocks of up to 4 query rows (D % 4 == 0): units [start, end) are (batch, head,
 * block), u = (b*H + h)*blocks + block. Each key row is loaded once per block for the 4 scores
 * (not once per query), the scores of the block are kept as one vector per key in this thread's
 * scratch (16*Tk bytes at scratch + tid*scratchStride), and out = p @ V is formed 8 features of
 * the 4 rows at a time. Decoding (Tq < 4) uses the row kernel above instead.
 */
export function attentionBlocks(q: usize, k: usize, v: usize, bias: usize, hasBias: i32, ks: usize, hasKs: i32, out: usize, lse: usize,
  Tq: i32, H: i32, Hkv: i32, D: i32, pastLen: i32, kvBatchStride: i32, scale: f32,
  scratch: usize, scratchStride: i32, start: i32, end: i32, tid: i32): void {
  const group = H / Hkv, Tk = pastLen + Tq;
  const sc = scratch + <usize>tid * <usize>scratchStride;
  const rowStride = <usize>Hkv * <usize>D << 2;
  const qRow = <usize>H * <usize>D << 2;
  const blocks = (Tq + 3) >> 2;
  const zero = f32x4.splat(0), ninf = f32x4.splat(-Infinity), vs = f32x4.splat(scale);
  const lanes = i32x4(0, 1, 2, 3);
  for (let u = start; u < end; u++) {
    const bh = u / blocks, i0 = (u % blocks) << 2;
    const h = bh % H, b = bh / H, kh = h / group;
    const nr = min(4, Tq - i0);
    // Rows past nr alias row i0; their results are computed and dropped.
    const r0 = ((<usize>b * <usize>Tq + <usize>i0) * <usize>H + <usize>h) * <usize>D << 2;
    const o1: usize = nr > 1 ? qRow : 0, o2: usize = nr > 2 ? 2 * qRow : 0, o3: usize = nr > 3 ? 3 * qRow : 0;
    const q0 = q + r0, q1 = q0 + o1, q2 = q0 + o2, q3 = q0 + o3;
    const kb = k + ((<usize>b * <usize>kvBatchStride + <usize>kh * <usize>D) << 2);
    const vb = v + ((<usize>b * <usize>kvBatchStride + <usize>kh * <usize>D) << 2);
    const bb = bias + (<usize>b * <usize>Tk << 2);
    const n = pastLen + i0 + nr;
    const ksv = blockKeyStarts(ks, hasKs, b, Tq, i0, nr);
    const lo = minLane(ksv);
    let mx = ninf;
    let j = lo;
    // Two keys per step (dots4x2): the raw scores land in their slots and are finished in place.
    for (; j + 2 <= n; j += 2) {
      const kj = kb + <usize>j * rowStride, w = sc + (<usize>j << 4);
      dots4x2(q0, q1, q2, q3, kj, kj + rowStride, D, w);
      const sv = forwardScores(v128.load(w), j, bb, hasBias, lanes, ksv, pastLen, i0, vs, sc);
      const tv = forwardScores(v128.load(w, 16), j + 1, bb, hasBias, lanes, ksv, pastLen, i0, vs, sc);
      mx = f32x4.max(mx, f32x4.max(sv, tv));
    }
    for (; j < n; j++) {
      const kj = kb + <usize>j * rowStride;
      let s0 = zero, s1 = zero, s2 = zero, s3 = zero;
      for (let d = 0; d < D; d += 4) {
        const o = <usize>d << 2;
        const kv = v128.load(kj + o);
        s0 = madd(v128.load(q0 + o), kv, s0);
        s1 = madd(v128.load(q1 + o), kv, s1);
        s2 = madd(v128.load(q2 + o), kv, s2);
        s3 = madd(v128.load(q3 + o), kv, s3);
      }
      mx = f32x4.max(mx, forwardScores(hsum4(s0, s1, s2, s3), j, bb, hasBias, lanes, ksv, pastLen, i0, vs, sc));
    }
    let sum = zero;
    for (let j = lo; j < n; j++) {
      const p = expNeg(f32x4.sub(v128.load(sc + (<usize>j << 4)), mx));
      sum = f32x4.add(sum, p);
      v128.store(sc + (<usize>j << 4), p);
    }
    // lse per row; the stores skip the aliased rows.
    const lv = f32x4.add(mx, f32x4(Mathf.log(f32x4.extract_lane(sum, 0)), Mathf.log(f32x4.extract_lane(sum, 1)),
      Mathf.log(f32x4.extract_lane(sum, 2)), Mathf.log(f32x4.extract_lane(sum, 3))));
    storeN(lse + (((<usize>b * <usize>H + <usize>h) * <usize>Tq + <usize>i0) << 2), lv, nr);
    const inv = f32x4.div(f32x4.splat(1), sum);
    const i0v = f32x4.splat(f32x4.extract_lane(inv, 0)), i1v = f32x4.splat(f32x4.extract_lane(inv, 1));
    const i2v = f32x4.splat(f32x4.extract_lane(inv, 2)), i3v = f32x4.splat(f32x4.extract_lane(inv, 3));
    const w0 = out + r0, w1 = w0 + qRow, w2 = w0 + 2 * qRow, w3 = w0 + 3 * qRow;
    for (let d = 0; d < D; d += 8) {
      const o = <usize>d << 2;
      const two = d + 8 <= D;
      let a0 = zero, a1 = zero, a2 = zero, a3 = zero, c0 = zero, c1 = zero, c2 = zero, c3 = zero;
      let vp = vb + o + <usize>lo * rowStride;
      for (let j = lo; j < n; j++) {
        const w = sc + (<usize>j << 4);
        const x0 = v128.load32_splat(w), x1 = v128.load32_splat(w + 4), x2 = v128.load32_splat(w + 8), x3 = v128.load32_splat(w + 12);
        const va = v128.load(vp);
        a0 = madd(x0, va, a0); a1 = madd(x1, va, a1); a2 = madd(x2, va, a2); a3 = madd(x3, va, a3);
        if (two) {
          const vc = v128.load(vp, 16);
          c0 = madd(x0, vc, c0); c1 = madd(x1, vc, c1); c2 = madd(x2, vc, c2); c3 = madd(x3, vc, c3);
        }
        vp += rowStride;
      }
      v128.store(w0 + o, f32x4.mul(a0, i0v));
      if (two) v128.store(w0 + o, f32x4.mul(c0, i0v), 16);
      if (nr > 1) { v128.store(w1 + o, f32x4.mul(a1, i1v)); if (two) v128.store(w1 + o, f32x4.mul(c1, i1v), 16); }
      if (nr > 2) { v128.store(w2 + o, f32x4.mul(a2, i2v)); if (two) v128.store(w2 + o, f32x4.mul(c2, i2v), 16); }
      if (nr > 3) { v128.store(w3 + o, f32x4.mul(a3, i3v)); if (two) v128.store(w3 + o, f32x4.mul(c3, i3v), 16); }
    }
  }
}

/**
 * Row-at-a-time backward, for head sizes that are not a multiple of 4 (the blocked kernel below
 * needs whole vectors). Units [start, end) = (batch, kv head) pairs, u = b*Hkv + kh; a unit owns the
 * dk/dv rows of its kv head in its batch item and the dq rows of every query head in the group, so
 * threads never write the same element. dq is overwritten; dk, dv are accumulated into.
 */
export function attentionBackwardRows(q: usize, k: usize, v: usize, bias: usize, hasBias: i32, ks: usize, hasKs: i32, out: usize, lse: usize,
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
        const j0 = hasKs ? load<i32>(ks + ((<usize>b * <usize>Tq + <usize>i) << 2)) : 0;
        for (let j = j0; j < n; j++) {
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
