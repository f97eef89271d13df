/**
 * The output layer and the log-prob/entropy of the chosen tokens, a chunk of rows at a time
 * (`actor_rollout_ref.model.use_fused_kernels`, docs/verl-compat.md#fused-kernels): the logits of
 * at most `chunkRows` rows exist at once, where logprobEntropy(linear(hidden, weight)) keeps the
 * whole [rows, vocab] logits for the backward and then allocates their gradient beside them
 * (2 x 1.2 GiB for 2048 tokens of Qwen2.5's 151,936-token vocabulary). The backward recomputes
 * each chunk's logits, so the output layer's forward runs twice per update.
 */
import { copyInto, record } from '../autograd.js';
import { noGrad } from '../runtime.js';
import { formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { zeros } from './creation.js';
import { denseAtZero } from './elementwise.js';
import { jointColumns, type LogprobEntropy } from './fused.js';
import { linear, matmul } from './matmul.js';
import { contiguous, reshape, slice } from './movement.js';

/**
 * log p(ids) and entropy of softmax(hidden @ weight^T / temperature): hidden [..., D] (f32),
 * weight [V, D] (f32, or a frozen f16 table), ids of hidden's leading shape. The same values as
 * logprobEntropy(linear(hidden, weight), ids, temperature) up to float rounding (each chunk's
 * matmul is the same product over fewer rows), and the same gradients for hidden and weight.
 */
export function linearLogprobEntropy(hidden: Tensor, weight: Tensor, ids: Tensor, temperature: number, chunkRows: number): LogprobEntropy {
  const op = 'linearLogprobEntropy';
  for (const [t, name] of [[hidden, 'hidden'], [weight, 'weight'], [ids, 'ids']] as const) t.assertAlive(`${op} ${name}`);
  const D = hidden.shape[hidden.ndim - 1]!;
  if (hidden.dtype !== 'f32') throw new Error(`${op}: hidden must be f32, got ${hidden.dtype} of shape ${formatShape(hidden.shape)}`);
  if (ids.dtype !== 'i32') throw new Error(`${op}: ids must be i32, got ${ids.dtype} of shape ${formatShape(ids.shape)}`);
  if (weight.ndim !== 2 || weight.shape[1] !== D || (weight.dtype !== 'f32' && weight.dtype !== 'f16')) {
    throw new Error(`${op}: weight must be [vocab, ${D}] (f32 or f16) for hidden ${formatShape(hidden.shape)}, got ${weight.dtype} ${formatShape(weight.shape)}`);
  }
  const rows = ids.size;
  if (hidden.ndim !== ids.ndim + 1 || hidden.size !== rows * D) {
    throw new Error(`${op}: hidden ${formatShape(hidden.shape)} does not match ids ${formatShape(ids.shape)}`);
  }
  if (!(temperature > 0)) throw new Error(`${op}: temperature must be > 0, got ${temperature}`);
  if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new Error(`${op}: chunkRows must be a positive integer, got ${chunkRows}`);
  const V = weight.shape[0]!;
  const invT = 1 / temperature;
  const be = hidden.backend;
  // Rows as one dense [rows, D] matrix (a copy when hidden is a view, recorded so gradients reach it).
  const h2 = contiguous(reshape(hidden, [rows, D]));
  const idsFlat = denseAtZero(reshape(ids, [rows]));
  const logp = Tensor.empty(ids.shape, 'f32', be);
  const entropy = Tensor.empty(ids.shape, 'f32', be);
  // Each row's log-sum-exp, which the backward needs beside the entropy (the forward's own outputs).
  const lse = Tensor.empty([rows], 'f32', be);

  /** The logits of rows [r0, r1). */
  const chunkLogits = (r0: number, r1: number): Tensor => noGrad(() => {
    const h = slice(h2, 0, r0, r1);
    const logits = linear(h, weight);
    h.dispose();
    return logits;
  });
  /** Rows [r0, r1) of `t` (one value a row: [rows] or ids' shape), dense from element 0 as the kernels read them. */
  const rowsOf = (t: Tensor, r0: number, r1: number): Tensor => noGrad(() => {
    const flat = reshape(t, [rows]);
    const part = slice(flat, 0, r0, r1);
    const dense = denseAtZero(part);
    if (part !== dense) part.dispose();
    flat.dispose();
    return dense;
  });

  // Chunks of equal size (within a row), as few as chunkRows allows: 512 rows in two of 256, not 441 and 71.
  const parts = Math.max(1, Math.ceil(rows / chunkRows));
  const bounds = Array.from({ length: parts + 1 }, (_, i) => Math.round((i * rows) / parts));

  for (let i = 0; i < parts; i++) {
    const r0 = bounds[i]!, r1 = bounds[i + 1]!;
    const n = r1 - r0;
    const logits = chunkLogits(r0, r1);
    const idc = rowsOf(idsFlat, r0, r1);
    const lp = Tensor.empty([n], 'f32', be), ent = Tensor.empty([n], 'f32', be), lsec = Tensor.empty([n], 'f32', be);
    be.logprobEntropy(logits.buffer, idc.buffer, lp.buffer, ent.buffer, lsec.buffer, n, V, invT);
    noGrad(() => {
      for (const [src, dst] of [[lp, logp], [ent, entropy], [lsec, lse]] as const) {
        const flat = reshape(dst, [rows]);
        const region = slice(flat, 0, r0, r1);
        copyInto(src, region, false);
        region.dispose();
        flat.dispose();
      }
    });
    for (const t of [logits, idc, lp, ent, lsec]) t.dispose();
  }

  const joint = Tensor.empty([rows, 2], 'f32', be);
  record(joint, op, [h2, weight], (g) => {
    const dH = h2.requiresGrad ? Tensor.empty([rows, D], 'f32', be) : null;
    const dW = weight.requiresGrad ? zeros([V, D], 'f32', be) : null;
    for (let i = 0; i < parts; i++) {
      const r0 = bounds[i]!, r1 = bounds[i + 1]!;
      const n = r1 - r0;
      // Only the logits are recomputed: the log-sum-exps and entropies are the forward's.
      const logits = chunkLogits(r0, r1);
      const [idc, lsec, entc] = [rowsOf(idsFlat, r0, r1), rowsOf(lse, r0, r1), rowsOf(entropy, r0, r1)];
      const gc = slice(g, 0, r0, r1);
      const gl = denseAtZero(slice(gc, 1, 0, 1)), ge = denseAtZero(slice(gc, 1, 1, 2));
      const dLogits = Tensor.empty([n, V], 'f32', be);
      be.logprobEntropyBackward(logits.buffer, idc.buffer, lsec.buffer, entc.buffer, gl.buffer, ge.buffer, dLogits.buffer, n, V, invT);
      for (const t of [logits, idc, lsec, entc, gc, gl, ge]) t.dispose();
      if (dH) {
        const dh = matmul(dLogits, weight);
        const region = slice(dH, 0, r0, r1);
        copyInto(dh, region, false);
        region.dispose();
        dh.dispose();
      }
      if (dW) {
        // dW += dLogits^T h over the chunk's rows: one product accumulated in place, never a
        // [V, D] temporary per chunk.
        be.matmul(dLogits.buffer, h2.buffer, dW.buffer, {
          batch: 1, m: V, n: D, k: n, transA: true, transB: false, aBatchStride: 0, bBatchStride: 0,
          aOffset: 0, bOffset: h2.offset + r0 * D, accumulate: true,
        });
      }
      dLogits.dispose();
    }
    return [dH, dW];
  });
  // The backward reads the ids and log-sum-exps again; without one, nothing does.
  if (!joint.requiresGrad) {
    idsFlat.dispose();
    lse.dispose();
  }
  return jointColumns(joint, logp, entropy, rows);
}
