/**
 * Movement ops. reshape (of a dense tensor), transpose, permute, slice and expand are views that
 * share the buffer; contiguous() and concat copy.
 */
import { copyInto, record } from '../autograd.js';
import { contiguousStrides, formatShape, inferShape, normalizeAxis } from '../shape.js';
import { Tensor } from '../tensor.js';
import { zeros } from './creation.js';
import { sumToShape } from './reduce.js';

function view(x: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor {
  return new Tensor(x.storage, shape, x.dtype, strides, offset);
}

/** A dense copy of any view (the same tensor's values, row-major). Always a new buffer. */
export function contiguous(x: Tensor): Tensor {
  x.assertAlive('contiguous');
  const out = Tensor.empty(x.shape, x.dtype, x.backend);
  if (out.size > 0) copyInto(x, out, false);
  return record(out, 'contiguous', [x], (g) => [g]);
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x.assertAlive('reshape');
  const target = inferShape(shape, x.size, `reshape ${formatShape(x.shape)}`);
  const out = x.isContiguous() ? view(x, target, contiguousStrides(target), x.offset) : reshapeCopy(x, target);
  return record(out, 'reshape', [x], (g) => [reshape(g, x.shape)]);
}

function reshapeCopy(x: Tensor, target: number[]): Tensor {
  const dense = Tensor.empty(x.shape, x.dtype, x.backend);
  if (dense.size > 0) copyInto(x, dense, false);
  const out = view(dense, target, contiguousStrides(target), 0);
  dense.dispose();
  return out;
}

export function permute(x: Tensor, order: readonly number[]): Tensor {
  x.assertAlive('permute');
  const rank = x.ndim;
  const axes = order.map((a) => normalizeAxis(a, rank, 'permute'));
  if (axes.length !== rank || new Set(axes).size !== rank) {
    throw new Error(`permute: order [${order.join(', ')}] is not a permutation of ${rank} axes (shape ${formatShape(x.shape)})`);
  }
  const out = view(x, axes.map((a) => x.shape[a]!), axes.map((a) => x.strides[a]!), x.offset);
  const inverse = new Array<number>(rank);
  axes.forEach((a, i) => { inverse[a] = i; });
  return record(out, 'permute', [x], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const rank = x.ndim;
  const a = normalizeAxis(dim0, rank, 'transpose');
  const b = normalizeAxis(dim1, rank, 'transpose');
  const order = Array.from({ length: rank }, (_, i) => i);
  order[a] = b;
  order[b] = a;
  return permute(x, order);
}

/** Elements [start, end) along `axis` (negative indices count from the end). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  x.assertAlive('slice');
  const ax = normalizeAxis(axis, x.ndim, 'slice');
  const len = x.shape[ax]!;
  const s = start < 0 ? start + len : start;
  const e = end < 0 ? end + len : Math.min(end, len);
  if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e < s) {
    throw new Error(`slice: range [${start}, ${end}) is invalid for axis ${axis} of shape ${formatShape(x.shape)}`);
  }
  const shape = x.shape.slice();
  shape[ax] = e - s;
  const out = view(x, shape, x.strides, x.offset + s * x.strides[ax]!);
  return record(out, 'slice', [x], (g) => {
    const dx = zeros(x.shape, 'f32', x.backend);
    const region = slice(dx, ax, s, e);
    copyInto(g, region, false);
    region.dispose();
    return [dx];
  });
}

/** Broadcasts size-1 axes (and new leading axes) to `shape` without copying. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  x.assertAlive('expand');
  const off = shape.length - x.ndim;
  if (off < 0) throw new Error(`expand: cannot expand ${formatShape(x.shape)} to fewer dimensions ${formatShape(shape)}`);
  const strides = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < x.ndim; i++) {
    const have = x.shape[i]!;
    const want = shape[off + i]!;
    if (have !== want && have !== 1) throw new Error(`expand: cannot expand ${formatShape(x.shape)} to ${formatShape(shape)}`);
    strides[off + i] = have === want ? x.strides[i]! : 0;
  }
  const out = view(x, shape, strides, x.offset);
  return record(out, 'expand', [x], (g) => [sumToShape(g, x.shape)]);
}

/** Joins tensors of equal shape except along `axis`. */
export function concat(parts: readonly Tensor[], axis: number): Tensor {
  if (parts.length === 0) throw new Error('concat: needs at least one tensor');
  const first = parts[0]!;
  const ax = normalizeAxis(axis, first.ndim, 'concat');
  let total = 0;
  for (const p of parts) {
    p.assertAlive('concat');
    const ok = p.ndim === first.ndim && p.dtype === first.dtype && p.shape.every((d, i) => i === ax || d === first.shape[i]);
    if (!ok) throw new Error(`concat: shapes ${parts.map((q) => formatShape(q.shape)).join(', ')} differ outside axis ${axis}`);
    total += p.shape[ax]!;
  }
  const shape = first.shape.slice();
  shape[ax] = total;
  const out = Tensor.empty(shape, first.dtype, first.backend);
  let at = 0;
  const starts: number[] = [];
  for (const p of parts) {
    starts.push(at);
    const region = slice(out, ax, at, at + p.shape[ax]!);
    if (p.size > 0) copyInto(p, region, false);
    region.dispose();
    at += p.shape[ax]!;
  }
  return record(out, 'concat', parts, (g) => parts.map((p, i) => slice(g, ax, starts[i]!, starts[i]! + p.shape[ax]!)));
}
