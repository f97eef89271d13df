/**
 * Element-wise ops: unary math, broadcasting binary arithmetic, comparisons, where and clamp.
 * Binary ops read their operands through strides, so broadcasts and transposed views cost no copy.
 */
import type { BinaryOp, StridedView, UnaryOp } from '../../backend/backend.js';
import { record } from '../autograd.js';
import { broadcastShapes, broadcastStrides, formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { full } from './creation.js';
import { contiguous } from './movement.js';
import { reduceTo } from './reduce.js';

function requireF32(x: Tensor, op: string): void {
  x.assertAlive(op);
  if (x.dtype !== 'f32') throw new Error(`${op}: expected an f32 tensor, got ${x.dtype} of shape ${formatShape(x.shape)}`);
}

/** Runs a unary kernel over a dense copy (or the tensor itself when dense). No autograd. */
function unaryRaw(op: UnaryOp, x: Tensor, a = 0, b = 0): Tensor {
  requireF32(x, op);
  const src = denseAtZero(x);
  const out = Tensor.empty(x.shape, 'f32', x.backend);
  if (out.size > 0) x.backend.unary(op, src.buffer, out.buffer, out.size, a, b);
  if (src !== x) src.dispose();
  return out;
}

/** Kernels read dense operands from element 0; any other view is copied first. */
export function denseAtZero(x: Tensor): Tensor {
  return x.isContiguous() && x.offset === 0 ? x : contiguous(x);
}

function unary(op: UnaryOp, x: Tensor, a: number, b: number, grad: (g: Tensor, out: Tensor) => Tensor): Tensor {
  requireF32(x, op);
  const src = denseAtZero(x);
  const out = Tensor.empty(x.shape, 'f32', x.backend);
  if (out.size > 0) x.backend.unary(op, src.buffer, out.buffer, out.size, a, b);
  if (src !== x) src.dispose();
  return record(out, op, [x], (g) => [grad(g, out)]);
}

export const neg = (x: Tensor): Tensor => unary('neg', x, 0, 0, (g) => neg(g));
export const exp = (x: Tensor): Tensor => unary('exp', x, 0, 0, (g, out) => mul(g, out));
export const log = (x: Tensor): Tensor => unary('log', x, 0, 0, (g) => div(g, x));
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x, 0, 0, (g, out) => consume(div(g, out), (t) => mul(t, 0.5)));
export const rsqrt = (x: Tensor): Tensor =>
  unary('rsqrt', x, 0, 0, (g, out) => consume(unaryRaw('square', out), (sq) => consume(mul(sq, out), (cube) => consume(mul(g, cube), (t) => mul(t, -0.5)))));
export const silu = (x: Tensor): Tensor => unary('silu', x, 0, 0, (g) => consume(unaryRaw('siluGrad', x), (d) => mul(g, d)));
export const sigmoid = (x: Tensor): Tensor =>
  unary('sigmoid', x, 0, 0, (g, out) => consume(unaryRaw('affine', out, -1, 1), (oneMinus) => consume(mul(out, oneMinus), (d) => mul(g, d))));
export const abs = (x: Tensor): Tensor => unary('abs', x, 0, 0, (g) => consume(unaryRaw('sign', x), (s) => mul(g, s)));
export const square = (x: Tensor): Tensor => unary('square', x, 0, 0, (g) => consume(mul(g, x), (t) => mul(t, 2)));
export const reciprocal = (x: Tensor): Tensor =>
  unary('reciprocal', x, 0, 0, (g, out) => consume(unaryRaw('square', out), (sq) => consume(mul(g, sq), (t) => neg(t))));
/** a * x + b */
export const affine = (x: Tensor, a: number, b: number): Tensor => unary('affine', x, a, b, (g) => (a === 1 ? g : mul(g, a)));
export const clamp = (x: Tensor, min: number, max: number): Tensor => {
  if (!(min <= max)) throw new Error(`clamp: min ${min} is greater than max ${max}`);
  return unary('clamp', x, min, max, (g) => consume(unaryRaw('inRange', x, min, max), (m) => mul(g, m)));
};

/** Applies fn to t and disposes t: for intermediates inside gradient rules. */
function consume(t: Tensor, fn: (t: Tensor) => Tensor): Tensor {
  const out = fn(t);
  if (out !== t) t.dispose();
  return out;
}

/** `t` read as an operand of an op of `shape`, broadcasting it. */
function broadcastView(t: Tensor, shape: number[]): StridedView {
  return { buf: t.buffer, offset: t.offset, strides: broadcastStrides(t.shape, t.strides, shape) };
}

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  requireF32(a, op);
  requireF32(b, op);
  if (a.backend !== b.backend) throw new Error(`${op}: operands live on different backends (${a.backend.name}, ${b.backend.name})`);
  const shape = broadcastShapes(a.shape, b.shape, op);
  const out = Tensor.empty(shape, 'f32', a.backend);
  if (out.size > 0) {
    a.backend.binary(op, broadcastView(a, shape), broadcastView(b, shape), out.buffer, shape);
  }
  return out;
}

type Operand = Tensor | number;

function binary(op: BinaryOp, a: Tensor, b: Tensor, grads: (g: Tensor) => [Tensor | null, Tensor | null]): Tensor {
  const out = binaryRaw(op, a, b);
  return record(out, op, [a, b], (g) => {
    const [ga, gb] = grads(g);
    return [ga && reduceTo(ga, a.shape, g), gb && reduceTo(gb, b.shape, g)];
  });
}

export function add(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') return affine(a, 1, b);
  return binary('add', a, b, (g) => [g, g]);
}

export function sub(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') return affine(a, 1, -b);
  return binary('sub', a, b, (g) => [g, neg(g)]);
}

export function mul(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') return affine(a, b, 0);
  return binary('mul', a, b, (g) => [a.requiresGrad ? mul(g, b) : null, b.requiresGrad ? mul(g, a) : null]);
}

export function div(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') return affine(a, 1 / b, 0);
  return binary('div', a, b, (g) => [
    a.requiresGrad ? div(g, b) : null,
    // d(a/b)/db = -a/b^2 = -(a/b)/b
    b.requiresGrad ? consume(div(g, b), (gb) => consume(mul(gb, a), (t) => consume(div(t, b), (u) => neg(u)))) : null,
  ]);
}

/** Element-wise max; where equal, the gradient goes to `a`. */
export function maximum(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') return clamp(a, b, Infinity);
  return binary('maximum', a, b, (g) => {
    const mask = binaryRaw('ge', a, b);
    const ga = mul(g, mask);
    const gb = sub(g, ga);
    mask.dispose();
    return [ga, gb];
  });
}

/** Element-wise min; where equal, the gradient goes to `a`. */
export function minimum(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') return clamp(a, -Infinity, b);
  return binary('minimum', a, b, (g) => {
    const mask = binaryRaw('ge', b, a);
    const ga = mul(g, mask);
    const gb = sub(g, ga);
    mask.dispose();
    return [ga, gb];
  });
}

function asTensor(v: Operand, like: Tensor): Tensor {
  return typeof v === 'number' ? full([], v, 'f32', like.backend) : v;
}

/** 1 where a == b, else 0 (no gradient). */
export const eq = (a: Tensor, b: Operand): Tensor => binaryRaw('eq', a, asTensor(b, a));
/** 1 where a > b, else 0 (no gradient). */
export const gt = (a: Tensor, b: Operand): Tensor => binaryRaw('gt', a, asTensor(b, a));
/** 1 where a >= b, else 0 (no gradient). */
export const ge = (a: Tensor, b: Operand): Tensor => binaryRaw('ge', a, asTensor(b, a));
/** 1 where a < b, else 0 (no gradient). */
export const lt = (a: Tensor, b: Operand): Tensor => binaryRaw('gt', asTensor(b, a), a);

/** cond != 0 ? a : b, broadcasting all three. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const like = typeof a === 'number' ? (typeof b === 'number' ? cond : b) : a;
  const ta = asTensor(a, like);
  const tb = asTensor(b, like);
  requireF32(cond, 'where');
  requireF32(ta, 'where');
  requireF32(tb, 'where');
  const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, 'where'), tb.shape, 'where');
  const out = Tensor.empty(shape, 'f32', cond.backend);
  // The kernel reads every operand from element 0 of its buffer; views with offsets are densified.
  const [c0, a0, b0] = [denseAtZero(cond), ta.offset === 0 ? ta : contiguous(ta), tb.offset === 0 ? tb : contiguous(tb)];
  if (out.size > 0) {
    cond.backend.where(broadcastView(c0, shape), broadcastView(a0, shape), broadcastView(b0, shape), out.buffer, shape);
  }
  if (c0 !== cond) c0.dispose();
  if (a0 !== ta) a0.dispose();
  if (b0 !== tb) b0.dispose();
  const inputs = [ta, tb];
  return record(out, 'where', inputs, (g) => {
    const zero = full([], 0, 'f32', g.backend);
    const ga = ta.requiresGrad ? reduceTo(where(cond, g, zero), ta.shape, g) : null;
    const gb = tb.requiresGrad ? reduceTo(where(cond, zero, g), tb.shape, g) : null;
    zero.dispose();
    return [ga, gb];
  });
}
