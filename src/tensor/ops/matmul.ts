/**
 * Batched matrix product with NumPy batch broadcasting. Operands whose last two axes are a
 * transposed view are passed to the kernel with transA/transB instead of being copied; a 2-D right
 * operand (weights) folds the left operand's batch into its rows, so x[B,T,K] @ W^T is one GEMM.
 * The right operand may be f16 (frozen weights on a backend with halfStorage): it is read in place,
 * never copied, and the product is f32.
 */
import type { MatmulArgs } from '../../backend/backend.js';
import { record } from '../autograd.js';
import { broadcastShapes, formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { contiguous, expand, reshape, transpose } from './movement.js';
import { reduceTo } from './reduce.js';

interface Operand {
  tensor: Tensor;
  /** The kernel reads the last two axes transposed. */
  trans: boolean;
  batchStride: number;
}

/** Describes `t` (broadcast to `batchShape`) for the kernel, or null when a copy is needed. */
function describe(t: Tensor, batchShape: number[]): Operand | null {
  const r = t.ndim;
  const rows = t.shape[r - 2]!;
  const cols = t.shape[r - 1]!;
  const sRow = t.strides[r - 2]!;
  const sCol = t.strides[r - 1]!;
  let trans: boolean;
  if ((sCol === 1 || cols === 1) && (sRow === cols || rows === 1)) trans = false;
  else if ((sRow === 1 || rows === 1) && (sCol === rows || cols === 1)) trans = true;
  else return null;
  // The batch axes must collapse to one stride: all broadcast (0) or dense over the batch.
  const off = batchShape.length - (r - 2);
  let stride: number | null = null;
  let expected = rows * cols;
  for (let i = batchShape.length - 1; i >= 0; i--) {
    const dim = i < off ? 1 : t.shape[i - off]!;
    if (batchShape[i] === 1) continue;
    const s = dim === 1 ? 0 : t.strides[i - off]!;
    if (stride === null) {
      stride = s;
      if (s !== 0 && s !== expected) return null;
    } else if (stride === 0 ? s !== 0 : s !== expected) {
      return null;
    }
    expected *= batchShape[i]!;
  }
  return { tensor: t, trans, batchStride: stride ?? 0 };
}

/** Copies `t` broadcast over the full batch into a dense buffer, which the kernel can always read. */
function describeDense(t: Tensor, batchShape: number[]): Operand {
  const full = expand(t, [...batchShape, ...t.shape.slice(-2)]);
  const dense = contiguous(full);
  full.dispose();
  return describe(dense, batchShape)!;
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  a.assertAlive('matmul');
  b.assertAlive('matmul');
  if (a.ndim < 2 || b.ndim < 2) {
    throw new Error(`matmul: operands need at least 2 dimensions, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  if (a.dtype !== 'f32' || (b.dtype !== 'f32' && b.dtype !== 'f16')) {
    throw new Error(`matmul: expected f32 operands (or an f16 right operand), got ${a.dtype} and ${b.dtype}`);
  }
  if (a.backend !== b.backend) throw new Error(`matmul: operands live on different backends (${a.backend.name}, ${b.backend.name})`);
  const m = a.shape[a.ndim - 2]!;
  const k = a.shape[a.ndim - 1]!;
  const n = b.shape[b.ndim - 1]!;
  if (b.shape[b.ndim - 2] !== k) {
    throw new Error(`matmul: inner dimensions differ: ${formatShape(a.shape)} @ ${formatShape(b.shape)}`);
  }
  const batchShape = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul');
  const batch = batchShape.reduce((x, y) => x * y, 1);
  const out = Tensor.empty([...batchShape, m, n], 'f32', a.backend);

  const da = describe(a, batchShape);
  const db = describe(b, batchShape);
  const ta = da ?? describeDense(a, batchShape);
  if (!db && b.dtype === 'f16') {
    throw new Error(`matmul: an f16 right operand must be a plain or transposed matrix view, got shape ${formatShape(b.shape)} with strides [${b.strides.join(', ')}]`);
  }
  const tb = db ?? describeDense(b, batchShape);
  if (out.size > 0) {
    if (k === 0) {
      a.backend.fill(out.buffer, out.size, 0, 'f32');
    } else {
      const fold = tb.batchStride === 0 && !ta.trans && batch > 1 && ta.batchStride === m * k;
      const args: MatmulArgs = {
        batch: fold ? 1 : batch,
        m: fold ? batch * m : m,
        n,
        k,
        transA: ta.trans,
        transB: tb.trans,
        aBatchStride: ta.batchStride,
        bBatchStride: tb.batchStride,
        aOffset: ta.tensor.offset,
        bOffset: tb.tensor.offset,
        accumulate: false,
        ...(b.dtype === 'f16' ? { bDtype: 'f16' as const } : {}),
      };
      a.backend.matmul(ta.tensor.buffer, tb.tensor.buffer, out.buffer, args);
    }
  }
  if (ta.tensor !== a) ta.tensor.dispose();
  if (tb.tensor !== b) tb.tensor.dispose();

  return record(out, 'matmul', [a, b], (g) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      const bt = transpose(b);
      ga = reduceTo(matmul(g, bt), a.shape, g);
      bt.dispose();
    }
    if (b.requiresGrad) {
      if (b.ndim === 2 && a.ndim > 2) {
        // Weights: fold the batch into the rows, dW = A^T G over all rows.
        const a2 = reshape(a, [-1, k]);
        const g2 = reshape(g, [-1, n]);
        const a2t = transpose(a2);
        gb = matmul(a2t, g2);
        for (const t of [a2, g2, a2t]) t.dispose();
      } else {
        const at = transpose(a);
        gb = reduceTo(matmul(at, g), b.shape, g);
        at.dispose();
      }
    }
    return [ga, gb];
  });
}

/** x @ W^T (+ bias): HF Linear with W of shape [out, in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  // While recording, the transposed view is read again by matmul's backward: the scope frees it.
  const wt = transpose(weight);
  const y = matmul(x, wt);
  if (!y.requiresGrad) wt.dispose();
  if (!bias) return y;
  const out = y.add(bias);
  y.dispose();
  return out;
}
