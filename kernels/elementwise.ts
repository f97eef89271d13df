// Element-wise kernels: fill, unary ops, the strided map behind binary/where/copyStrided, AdamW.
// Every kernel processes the element range [start, end) so the pool can split it across threads;
// `tid` is the calling thread's index (unused here, part of the pooled calling convention).
import { expv, loadN, loadStrided, madd, sigmoidv, storeN, storeStrided } from './simd';

/** out[start..end) = the 32-bit pattern `bits` (an f32's bits or an i32). */
export function fill(out: usize, bits: i32, start: i32, end: i32, tid: i32): void {
  const v = i32x4.splat(bits);
  let i = start;
  for (; i + 4 <= end; i += 4) v128.store(out + (<usize>i << 2), v);
  if (i < end) storeN(out + (<usize>i << 2), v, end - i);
}

// Unary op codes; the TS side maps UnaryOp names to these (src/backend/cpu/ops.ts).
const NEG = 0, EXP = 1, LOG = 2, SQRT = 3, RSQRT = 4, SILU = 5, SIGMOID = 6, ABS = 7, SIGN = 8,
  SQUARE = 9, RECIPROCAL = 10, SILU_GRAD = 11, AFFINE = 12, CLAMP = 13, IN_RANGE = 14;

// @ts-ignore: decorator
@inline function unaryV(op: i32, x: v128, a: v128, b: v128): v128 {
  const one = f32x4.splat(1.0);
  switch (op) {
    case NEG: return f32x4.neg(x);
    case EXP: return expv(x);
    case LOG: {
      return f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(
        Mathf.log(f32x4.extract_lane(x, 0))),
        1, Mathf.log(f32x4.extract_lane(x, 1))),
        2, Mathf.log(f32x4.extract_lane(x, 2))),
        3, Mathf.log(f32x4.extract_lane(x, 3)));
    }
    case SQRT: return f32x4.sqrt(x);
    case RSQRT: return f32x4.div(one, f32x4.sqrt(x));
    case SILU: return f32x4.mul(x, sigmoidv(x));
    case SIGMOID: return sigmoidv(x);
    case ABS: return f32x4.abs(x);
    case SIGN: {
      const zero = f32x4.splat(0);
      return v128.or(v128.and(f32x4.gt(x, zero), one), v128.and(f32x4.lt(x, zero), f32x4.splat(-1.0)));
    }
    case SQUARE: return f32x4.mul(x, x);
    case RECIPROCAL: return f32x4.div(one, x);
    case SILU_GRAD: {
      // s * (1 + x * (1 - s)), s = sigmoid(x)
      const s = sigmoidv(x);
      return f32x4.mul(s, madd(x, f32x4.sub(one, s), one));
    }
    case AFFINE: return madd(a, x, b);
    // min(max(x, a), b) with Math.max/min's NaN propagation
    case CLAMP: return f32x4.min(f32x4.max(x, a), b);
    case IN_RANGE: return v128.and(v128.and(f32x4.ge(x, a), f32x4.le(x, b)), one);
    default: return x;
  }
}

/** out[i] = op(x[i]) for i in [start, end); `a`, `b` are the op's scalar parameters. */
export function unary(op: i32, x: usize, out: usize, a: f32, b: f32, start: i32, end: i32, tid: i32): void {
  const va = f32x4.splat(a), vb = f32x4.splat(b), zero = f32x4.splat(0);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const off = <usize>i << 2;
    v128.store(out + off, unaryV(op, v128.load(x + off), va, vb));
  }
  if (i < end) {
    const off = <usize>i << 2;
    storeN(out + off, unaryV(op, loadN(x + off, end - i, f32x4.splat(1.0)), va, vb), end - i);
  }
}

/**
 * out[i] = silu(gate[i]) * up[i] for i in [start, end): unary SILU's value times up, as the unary
 * and binary kernels would compute it in two passes.
 */
export function swiglu(gate: usize, up: usize, out: usize, start: i32, end: i32, tid: i32): void {
  const zero = f32x4.splat(0);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const off = <usize>i << 2;
    v128.store(out + off, f32x4.mul(unaryV(SILU, v128.load(gate + off), zero, zero), v128.load(up + off)));
  }
  if (i < end) {
    const off = <usize>i << 2, c = end - i;
    storeN(out + off, f32x4.mul(unaryV(SILU, loadN(gate + off, c, zero), zero, zero), loadN(up + off, c, zero)), c);
  }
}

/**
 * The backward of swiglu for i in [start, end): dGate = dOut * up * siluGrad(gate), dUp = dOut *
 * silu(gate), with SILU and SILU_GRAD's formulas over one sigmoid, in the order of the separate
 * kernels (mul(dOut, up), then times siluGrad; dOut times silu).
 */
export function swigluBackward(gate: usize, up: usize, dOut: usize, dGate: usize, dUp: usize, start: i32, end: i32, tid: i32): void {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const off = <usize>i << 2;
    swigluBackwardV(v128.load(gate + off), v128.load(up + off), v128.load(dOut + off), dGate + off, dUp + off, 4);
  }
  if (i < end) {
    const off = <usize>i << 2, c = end - i, zero = f32x4.splat(0);
    swigluBackwardV(loadN(gate + off, c, zero), loadN(up + off, c, zero), loadN(dOut + off, c, zero), dGate + off, dUp + off, c);
  }
}

// @ts-ignore: decorator
@inline function swigluBackwardV(g: v128, u: v128, d: v128, dGate: usize, dUp: usize, c: i32): void {
  const one = f32x4.splat(1.0);
  const s = sigmoidv(g);
  const grad = f32x4.mul(s, madd(g, f32x4.sub(one, s), one));
  storeN(dGate, f32x4.mul(f32x4.mul(d, u), grad), c);
  storeN(dUp, f32x4.mul(d, f32x4.mul(g, s)), c);
}

// Strided-map op codes: 0..8 are the binary ops (BinaryOp order), then where and the two copies.
const ADD = 0, SUB = 1, MUL = 2, DIV = 3, MAXIMUM = 4, MINIMUM = 5, EQ = 6, GT = 7, GE = 8,
  WHERE = 16, COPY = 32, COPY_ADD = 33;

// @ts-ignore: decorator
@inline function mapV(op: i32, x: v128, y: v128, z: v128, dst: v128): v128 {
  const one = f32x4.splat(1.0);
  switch (op) {
    case ADD: return f32x4.add(x, y);
    case SUB: return f32x4.sub(x, y);
    case MUL: return f32x4.mul(x, y);
    case DIV: return f32x4.div(x, y);
    // (a >= b ? a : b), as the reference defines maximum; likewise minimum
    case MAXIMUM: return v128.bitselect(x, y, f32x4.ge(x, y));
    case MINIMUM: return v128.bitselect(x, y, f32x4.le(x, y));
    case EQ: return v128.and(f32x4.eq(x, y), one);
    case GT: return v128.and(f32x4.gt(x, y), one);
    case GE: return v128.and(f32x4.ge(x, y), one);
    case WHERE: return v128.bitselect(y, z, f32x4.ne(x, f32x4.splat(0)));
    case COPY: return x;
    case COPY_ADD: return f32x4.add(dst, x);
    default: return x;
  }
}

/**
 * The strided walk shared by binary, where and copyStrided: for every index of a shape of rank
 * <= 6, out[o] = op(in0[i0], in1[i1], in2[i2]) with each operand read through its own strides
 * (in elements; 0 broadcasts). `params` points at i32s: rank, shape[6], then strides[6] for in0,
 * in1, in2 and out. `idx + 32*tid` (6 i32s per thread) holds the running multi-index. Elements are
 * numbered in row-major order over the shape, so [start, end) can split anywhere.
 */
export function stridedMap(op: i32, in0: usize, in1: usize, in2: usize, out: usize, params: usize, idx: usize,
  start: i32, end: i32, tid: i32): void {
  const rank = load<i32>(params);
  idx += <usize>tid << 5;
  const shapeP = params + 4, s0P = params + 28, s1P = params + 52, s2P = params + 76, soP = params + 100;
  // Decompose `start` into the multi-index and the four element offsets.
  let rem = start;
  let o0: isize = 0, o1: isize = 0, o2: isize = 0, oo: isize = 0;
  for (let d = rank - 1; d >= 0; d--) {
    const dd = <usize>d << 2;
    const size = load<i32>(shapeP + dd);
    const i = rem % size;
    rem = rem / size;
    store<i32>(idx + dd, i);
    o0 += <isize>i * load<i32>(s0P + dd);
    o1 += <isize>i * load<i32>(s1P + dd);
    o2 += <isize>i * load<i32>(s2P + dd);
    oo += <isize>i * load<i32>(soP + dd);
  }
  const last = <usize>(rank - 1) << 2;
  const inner = load<i32>(shapeP + last);
  const t0 = load<i32>(s0P + last), t1 = load<i32>(s1P + last), t2 = load<i32>(s2P + last), to = load<i32>(soP + last);
  const b0 = <isize>t0 << 2, b1 = <isize>t1 << 2, b2 = <isize>t2 << 2, bo = <isize>to << 2;
  const zero = f32x4.splat(0);
  let pos = start;
  while (pos < end) {
    const run = min(inner - load<i32>(idx + last), end - pos);
    let p0 = in0 + (o0 << 2), p1 = in1 + (o1 << 2), p2 = in2 + (o2 << 2), po = out + (oo << 2);
    let j = 0;
    if (to == 1 && (t0 == 1 || t0 == 0) && (t1 == 1 || t1 == 0) && (t2 == 1 || t2 == 0)) {
      // Fast path: contiguous output, each input contiguous or broadcast along the run.
      const d0: usize = t0 == 1 ? 16 : 0, d1: usize = t1 == 1 ? 16 : 0, d2: usize = t2 == 1 ? 16 : 0;
      const v0s = v128.load32_splat(p0), v1s = v128.load32_splat(p1), v2s = v128.load32_splat(p2);
      for (; j + 4 <= run; j += 4) {
        const x = t0 == 1 ? v128.load(p0) : v0s;
        const y = t1 == 1 ? v128.load(p1) : v1s;
        const z = t2 == 1 ? v128.load(p2) : v2s;
        const dst = op == COPY_ADD ? v128.load(po) : zero;
        v128.store(po, mapV(op, x, y, z, dst));
        p0 += d0; p1 += d1; p2 += d2; po += 16;
      }
    }
    // General path (and the ragged tail): gather four lanes at a time.
    for (; j < run; j += 4) {
      const n = min(4, run - j);
      const x = loadStrided(p0, b0, n, zero);
      const y = loadStrided(p1, b1, n, zero);
      const z = loadStrided(p2, b2, n, zero);
      const dst = op == COPY_ADD ? loadStrided(po, bo, n, zero) : zero;
      storeStrided(po, bo, mapV(op, x, y, z, dst), n);
      p0 += b0 << 2; p1 += b1 << 2; p2 += b2 << 2; po += bo << 2;
    }
    pos += run;
    // Advance the multi-index by `run` along the last axis, carrying into the outer axes.
    let i = load<i32>(idx + last) + run;
    o0 += <isize>run * t0; o1 += <isize>run * t1; o2 += <isize>run * t2; oo += <isize>run * to;
    store<i32>(idx + last, i);
    let d = rank - 1;
    while (d > 0 && load<i32>(idx + (<usize>d << 2)) == load<i32>(shapeP + (<usize>d << 2))) {
      const dd = <usize>d << 2;
      const size = <isize>load<i32>(shapeP + dd);
      o0 -= size * load<i32>(s0P + dd); o1 -= size * load<i32>(s1P + dd);
      o2 -= size * load<i32>(s2P + dd); oo -= size * load<i32>(soP + dd);
      store<i32>(idx + dd, 0);
      d--;
      const du = <usize>d << 2;
      store<i32>(idx + du, load<i32>(idx + du) + 1);
      o0 += load<i32>(s0P + du); o1 += load<i32>(s1P + du); o2 += load<i32>(s2P + du); oo += load<i32>(soP + du);
    }
  }
}

/**
 * One AdamW step on [start, end) (PyTorch semantics, decoupled weight decay). bc1, bc2 are the
 * bias corrections 1 - beta^step, computed once in float64 by the caller.
 */
export function adamw(param: usize, grad: usize, m: usize, v: usize, lr: f32, beta1: f32, beta2: f32, eps: f32,
  weightDecay: f32, bc1: f32, bc2: f32, start: i32, end: i32, tid: i32): void {
  const decay = f32x4.splat(<f32>1.0 - lr * weightDecay);
  const vb1 = f32x4.splat(beta1), vb1c = f32x4.splat(<f32>1.0 - beta1);
  const vb2 = f32x4.splat(beta2), vb2c = f32x4.splat(<f32>1.0 - beta2);
  const vlr = f32x4.splat(lr), veps = f32x4.splat(eps);
  const inv1 = f32x4.splat(<f32>1.0 / bc1), inv2 = f32x4.splat(<f32>1.0 / bc2);
  const zero = f32x4.splat(0);
  for (let i = start; i < end; i += 4) {
    const n = min(4, end - i);
    const off = <usize>i << 2;
    const g = loadN(grad + off, n, zero);
    const p = f32x4.mul(loadN(param + off, n, zero), decay);
    const mm = madd(vb1, loadN(m + off, n, zero), f32x4.mul(vb1c, g));
    const vv = madd(vb2, loadN(v + off, n, zero), f32x4.mul(vb2c, f32x4.mul(g, g)));
    const denom = f32x4.add(f32x4.sqrt(f32x4.mul(vv, inv2)), veps);
    const upd = f32x4.div(f32x4.mul(vlr, f32x4.mul(mm, inv1)), denom);
    storeN(m + off, mm, n);
    storeN(v + off, vv, n);
    storeN(param + off, f32x4.sub(p, upd), n);
  }
}
