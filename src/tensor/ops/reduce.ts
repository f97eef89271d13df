/** Reductions over one axis (or all elements) and the broadcast-undo used by gradient rules. */
import { record } from '../autograd.js';
import { formatShape, normalizeAxis, sameShape, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { eq, mul, denseAtZero } from './elementwise.js';
import { expand, reshape } from './movement.js';

function reduceRaw(op: 'sum' | 'max', x: Tensor, axis: number | undefined, keepdim: boolean): { out: Tensor; keptShape: number[] } {
  x.assertAlive(op);
  if (x.dtype !== 'f32') throw new Error(`${op}: expected an f32 tensor, got ${x.dtype} of shape ${formatShape(x.shape)}`);
  const ax = axis === undefined ? undefined : normalizeAxis(axis, x.ndim, op);
  const outer = ax === undefined ? 1 : x.shape.slice(0, ax).reduce((a, b) => a * b, 1);
  const len = ax === undefined ? x.size : x.shape[ax]!;
  const inner = ax === undefined ? 1 : x.shape.slice(ax + 1).reduce((a, b) => a * b, 1);
  if (op === 'max' && len === 0) throw new Error(`max: cannot reduce an empty axis of shape ${formatShape(x.shape)}`);
  const keptShape = ax === undefined ? x.shape.map(() => 1) : x.shape.map((d, i) => (i === ax ? 1 : d));
  const outShape = keepdim ? keptShape : ax === undefined ? [] : x.shape.filter((_, i) => i !== ax);
  const src = denseAtZero(x);
  const out = Tensor.empty(outShape, 'f32', x.backend);
  if (out.size > 0) {
    if (len === 0) x.backend.fill(out.buffer, out.size, 0, 'f32');
    else x.backend.reduce(op, src.buffer, out.buffer, outer, len, inner);
  }
  if (src !== x) src.dispose();
  return { out, keptShape };
}

/** Sum over `axis` (all elements when undefined). */
export function sum(x: Tensor, axis?: number, keepdim = false): Tensor {
  const { out, keptShape } = reduceRaw('sum', x, axis, keepdim);
  return record(out, 'sum', [x], (g) => {
    // The reshaped view is only a step: free it, or outside a scope it would pin g's buffer.
    const gk = reshape(g, keptShape);
    const dx = expand(gk, x.shape);
    gk.dispose();
    return [dx];
  });
}

export function mean(x: Tensor, axis?: number, keepdim = false): Tensor {
  const n = axis === undefined ? x.size : x.shape[normalizeAxis(axis, x.ndim, 'mean')]!;
  const s = sum(x, axis, keepdim);
  const out = mul(s, 1 / n);
  s.dispose();
  return out;
}

/** Max over `axis`; the gradient goes to every position equal to the max (ties share it, each in full). */
export function max(x: Tensor, axis?: number, keepdim = false): Tensor {
  const { out, keptShape } = reduceRaw('max', x, axis, keepdim);
  return record(out, 'max', [x], (g) => {
    const m = reshape(out, keptShape);
    const mask = eq(x, m);
    const gk = reshape(g, keptShape);
    const dx = mul(mask, gk);
    m.dispose();
    mask.dispose();
    gk.dispose();
    return [dx];
  });
}

/** Sums a broadcast gradient back to `shape` (the shape of the operand that was broadcast). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const off = g.ndim - shape.length;
  let cur = g;
  for (let i = 0; i < g.ndim; i++) {
    const want = i < off ? 1 : shape[i - off]!;
    if (want === 1 && g.shape[i] !== 1) {
      const next = sum(cur, i, true);
      if (cur !== g) cur.dispose();
      cur = next;
    }
  }
  const out = reshape(cur, shape);
  if (cur !== g) cur.dispose();
  return out;
}

/** sumToShape for an intermediate `t` owned by the caller: frees t when a new tensor replaces it. */
export function reduceTo(t: Tensor, shape: Shape, upstream: Tensor): Tensor {
  const out = sumToShape(t, shape);
  if (out !== t && t !== upstream) t.dispose();
  return out;
}
