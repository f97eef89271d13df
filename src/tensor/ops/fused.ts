/**
 * Fused routines with hand-written backward kernels: softmax, log-softmax, embedding, RMSNorm,
 * rotary embedding, causal attention with grouped KV heads, log-prob + entropy from logits, and
 * SwiGLU's activation.
 */
import { copyInto, record } from '../autograd.js';
import { formatShape, sameShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { zeros } from './creation.js';
import { denseAtZero } from './elementwise.js';
import { reshape, slice } from './movement.js';

function requireDtype(t: Tensor, dtype: 'f32' | 'i32', op: string, name: string): void {
  t.assertAlive(op);
  if (t.dtype !== dtype) throw new Error(`${op}: ${name} must be ${dtype}, got ${t.dtype} of shape ${formatShape(t.shape)}`);
}

/** Runs fn with dense-from-zero versions of the tensors, freeing the copies afterwards. */
function withDense<T>(ts: Tensor[], fn: (...dense: Tensor[]) => T): T {
  const dense = ts.map(denseAtZero);
  try {
    return fn(...dense);
  } finally {
    dense.forEach((d, i) => { if (d !== ts[i]) d.dispose(); });
  }
}

function lastAxisRows(x: Tensor, op: string): { rows: number; cols: number } {
  if (x.ndim === 0) throw new Error(`${op}: needs at least one dimension`);
  const cols = x.shape[x.ndim - 1]!;
  return { rows: cols === 0 ? 0 : x.size / cols, cols };
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  requireDtype(x, 'f32', 'softmax', 'input');
  const { rows, cols } = lastAxisRows(x, 'softmax');
  const out = Tensor.empty(x.shape, 'f32', x.backend);
  if (out.size > 0) withDense([x], (xd) => x.backend.softmax(xd!.buffer, out.buffer, rows, cols));
  return record(out, 'softmax', [x], (g) => {
    const dx = Tensor.empty(x.shape, 'f32', x.backend);
    if (dx.size > 0) withDense([g], (gd) => x.backend.softmaxBackward(out.buffer, gd!.buffer, dx.buffer, rows, cols));
    return [dx];
  });
}

/** Log-softmax over the last axis. */
export function logSoftmax(x: Tensor): Tensor {
  requireDtype(x, 'f32', 'logSoftmax', 'input');
  const { rows, cols } = lastAxisRows(x, 'logSoftmax');
  const out = Tensor.empty(x.shape, 'f32', x.backend);
  if (out.size > 0) withDense([x], (xd) => x.backend.logSoftmax(xd!.buffer, out.buffer, rows, cols));
  return record(out, 'logSoftmax', [x], (g) => {
    const dx = Tensor.empty(x.shape, 'f32', x.backend);
    if (dx.size > 0) withDense([g], (gd) => x.backend.logSoftmaxBackward(out.buffer, gd!.buffer, dx.buffer, rows, cols));
    return [dx];
  });
}

/** Rows of `table` [vocab, dim] picked by integer `ids` [...]: out [..., dim]. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  // An f16 table (frozen weights on a backend with halfStorage) is read in place and widened.
  if (table.dtype !== 'f16') requireDtype(table, 'f32', 'embedding', 'table');
  requireDtype(ids, 'i32', 'embedding', 'ids');
  if (table.ndim !== 2) throw new Error(`embedding: table must be [vocab, dim], got ${formatShape(table.shape)}`);
  const dim = table.shape[1]!;
  const rows = ids.size;
  const out = Tensor.empty([...ids.shape, dim], 'f32', table.backend);
  const tableDtype = table.dtype === 'f16' ? 'f16' : 'f32';
  if (out.size > 0) withDense([table, ids], (t, i) => table.backend.embedding(t!.buffer, i!.buffer, out.buffer, rows, dim, tableDtype));
  return record(out, 'embedding', [table], (g) => {
    const dTable = zeros(table.shape, 'f32', table.backend);
    if (g.size > 0) withDense([g, ids], (gd, i) => table.backend.embeddingBackward(gd!.buffer, i!.buffer, dTable.buffer, rows, dim));
    return [dTable];
  });
}

/** RMSNorm over the last axis with weight [dim]: x * rsqrt(mean(x^2) + eps) * w. */
export function rmsnorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  requireDtype(x, 'f32', 'rmsnorm', 'input');
  requireDtype(weight, 'f32', 'rmsnorm', 'weight');
  const { rows, cols } = lastAxisRows(x, 'rmsnorm');
  if (weight.ndim !== 1 || weight.shape[0] !== cols) {
    throw new Error(`rmsnorm: weight ${formatShape(weight.shape)} does not match the last axis of ${formatShape(x.shape)}`);
  }
  const out = Tensor.empty(x.shape, 'f32', x.backend);
  const rstd = Tensor.empty([rows], 'f32', x.backend);
  if (out.size > 0) withDense([x, weight], (xd, wd) => x.backend.rmsnorm(xd!.buffer, wd!.buffer, out.buffer, rstd.buffer, rows, cols, eps));
  return record(out, 'rmsnorm', [x, weight], (g) => {
    const dx = Tensor.empty(x.shape, 'f32', x.backend);
    const dw = zeros(weight.shape, 'f32', x.backend);
    if (dx.size > 0) {
      withDense([g, x, weight], (gd, xd, wd) =>
        x.backend.rmsnormBackward(gd!.buffer, xd!.buffer, wd!.buffer, rstd.buffer, dx.buffer, dw.buffer, rows, cols));
    }
    return [dx, dw];
  });
}

/**
 * Rotary embedding (HF rotate-half) of x [B, T, H, D] at integer `positions` [B, T], with
 * `cos`, `sin` tables [maxPos, D/2] (no gradient through the tables).
 */
export function rope(x: Tensor, positions: Tensor, cos: Tensor, sin: Tensor): Tensor {
  requireDtype(x, 'f32', 'rope', 'input');
  requireDtype(positions, 'i32', 'rope', 'positions');
  if (x.ndim !== 4) throw new Error(`rope: input must be [B, T, H, D], got ${formatShape(x.shape)}`);
  const [B, T, H, D] = x.shape as [number, number, number, number];
  if (positions.size !== B * T) throw new Error(`rope: positions ${formatShape(positions.shape)} do not match [B, T] = [${B}, ${T}]`);
  if (D % 2 !== 0 || cos.ndim !== 2 || cos.shape[1] !== D / 2 || sin.shape[1] !== D / 2) {
    throw new Error(`rope: tables ${formatShape(cos.shape)} need [maxPos, ${D / 2}] for head dim ${D}`);
  }
  const out = Tensor.empty(x.shape, 'f32', x.backend);
  const run = (src: Tensor, dst: Tensor, inverse: boolean): void => {
    if (dst.size > 0) {
      withDense([src, positions, cos, sin], (s, p, c, n) =>
        x.backend.rope(s!.buffer, p!.buffer, c!.buffer, n!.buffer, dst.buffer, B * T, H, D, inverse));
    }
  };
  run(x, out, false);
  return record(out, 'rope', [x], (g) => {
    const dx = Tensor.empty(x.shape, 'f32', x.backend);
    run(g, dx, true);
    return [dx];
  });
}

export interface AttentionOptions {
  /** Positions already in the KV cache before these queries (0 in training). */
  pastLen?: number;
  /** Additive bias per key [B, pastLen + Tq]: 0 for real tokens, a large negative value for padding. */
  keyBias?: Tensor | null;
  /** Softmax scale; 1/sqrt(D) by default. */
  scale?: number;
  /**
   * First key of each query [B, Tq] (i32), keyStart[b, i] <= pastLen + i: query i attends to keys
   * keyStart[b, i]..pastLen + i. Sequences packed into one row get block-diagonal causal attention
   * with keyStart = where each query's sequence begins (AttentionArgs.keyStart).
   */
  keyStart?: Tensor | null;
}

/**
 * Causal attention with grouped KV heads. q [B, Tq, H, D]; k, v [B, Tk, Hkv, D] where Tk may exceed
 * pastLen + Tq (a preallocated cache: only the first pastLen + Tq positions are read). out [B, Tq, H, D].
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  for (const [t, name] of [[q, 'q'], [k, 'k'], [v, 'v']] as const) {
    requireDtype(t, 'f32', 'attention', name);
    if (t.ndim !== 4) throw new Error(`attention: ${name} must be 4-D [B, T, heads, D], got ${formatShape(t.shape)}`);
  }
  const [B, Tq, H, D] = q.shape as [number, number, number, number];
  const [Bk, Tmax, Hkv, Dk] = k.shape as [number, number, number, number];
  const pastLen = options.pastLen ?? 0;
  const shapesOk = Bk === B && Dk === D && v.shape.every((d, i) => d === k.shape[i]) && H % Hkv === 0 && pastLen + Tq <= Tmax;
  if (!shapesOk) {
    throw new Error(`attention: q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)} with pastLen ${pastLen} do not fit`);
  }
  const bias = options.keyBias ?? null;
  if (bias) {
    requireDtype(bias, 'f32', 'attention', 'keyBias');
    if (bias.size !== B * (pastLen + Tq)) throw new Error(`attention: keyBias ${formatShape(bias.shape)} must hold [B, pastLen + Tq] = [${B}, ${pastLen + Tq}]`);
  }
  const keyStart = options.keyStart ?? null;
  if (keyStart) {
    requireDtype(keyStart, 'i32', 'attention', 'keyStart');
    if (keyStart.size !== B * Tq) throw new Error(`attention: keyStart ${formatShape(keyStart.shape)} must hold [B, Tq] = [${B}, ${Tq}]`);
  }
  const args = { B, Tq, H, Hkv, D, pastLen, kvBatchStride: Tmax * Hkv * D, scale: options.scale ?? 1 / Math.sqrt(D) };
  const out = Tensor.empty(q.shape, 'f32', q.backend);
  const lse = Tensor.empty([B, H, Tq], 'f32', q.backend);
  // The optional inputs ride at the end of the dense list: bias (when given), then keyStart (when given).
  const inputs = [q, k, v, ...(bias ? [bias] : []), ...(keyStart ? [keyStart] : [])];
  const unpack = (dense: Tensor[]): { bd: Tensor | null; kd: Tensor | null } =>
    ({ bd: bias ? dense[3]! : null, kd: keyStart ? dense[bias ? 4 : 3]! : null });
  if (out.size > 0) {
    withDense(inputs, (...dense) => {
      const { bd, kd } = unpack(dense);
      q.backend.attention(dense[0]!.buffer, dense[1]!.buffer, dense[2]!.buffer, bd ? bd.buffer : null, out.buffer, lse.buffer,
        kd ? { ...args, keyStart: kd.buffer } : args);
    });
  }
  return record(out, 'attention', [q, k, v], (g) => {
    const dq = Tensor.empty(q.shape, 'f32', q.backend);
    const dk = zeros(k.shape, 'f32', q.backend);
    const dv = zeros(v.shape, 'f32', q.backend);
    if (dq.size > 0) {
      withDense([g, ...inputs], (gd, ...dense) => {
        const { bd, kd } = unpack(dense);
        q.backend.attentionBackward(dense[0]!.buffer, dense[1]!.buffer, dense[2]!.buffer, bd ? bd.buffer : null,
          out.buffer, lse.buffer, gd!.buffer, dq.buffer, dk.buffer, dv.buffer, kd ? { ...args, keyStart: kd.buffer } : args);
      });
    }
    return [dq, dk, dv];
  });
}

export interface LogprobEntropy {
  /** log p(ids) under softmax(logits / temperature), shape of ids. */
  logp: Tensor;
  /** Entropy of softmax(logits / temperature), shape of ids. */
  entropy: Tensor;
}

/**
 * Log-prob of the chosen ids and the entropy from logits [..., V] at a temperature, without
 * materialising the softmax. Both outputs are differentiable and share one backward kernel.
 */
export function logprobEntropy(logits: Tensor, ids: Tensor, temperature = 1): LogprobEntropy {
  requireDtype(logits, 'f32', 'logprobEntropy', 'logits');
  requireDtype(ids, 'i32', 'logprobEntropy', 'ids');
  const vocab = logits.shape[logits.ndim - 1]!;
  const rows = ids.size;
  if (logits.size !== rows * vocab || logits.ndim !== ids.ndim + 1) {
    throw new Error(`logprobEntropy: logits ${formatShape(logits.shape)} do not match ids ${formatShape(ids.shape)}`);
  }
  if (!(temperature > 0)) throw new Error(`logprobEntropy: temperature must be > 0, got ${temperature}`);
  const invT = 1 / temperature;
  const logp = Tensor.empty(ids.shape, 'f32', logits.backend);
  const entropy = Tensor.empty(ids.shape, 'f32', logits.backend);
  const lse = Tensor.empty([rows], 'f32', logits.backend);
  if (rows > 0) {
    withDense([logits, ids], (ld, idd) => logits.backend.logprobEntropy(ld!.buffer, idd!.buffer, logp.buffer, entropy.buffer, lse.buffer, rows, vocab, invT));
  }
  // Both outputs hang off one joint node [rows, 2] (column 0: logp, column 1: entropy), so their
  // gradients meet there and the logits gradient is computed once.
  const joint = Tensor.empty([rows, 2], 'f32', logits.backend);
  record(joint, 'logprobEntropy', [logits], (g) => {
    const dLogits = Tensor.empty(logits.shape, 'f32', logits.backend);
    if (rows > 0) {
      const gl = slice(g, 1, 0, 1);
      const ge = slice(g, 1, 1, 2);
      withDense([logits, ids, gl, ge], (ld, idd, gld, ged) => logits.backend.logprobEntropyBackward(ld!.buffer, idd!.buffer, lse.buffer,
        entropy.buffer, gld!.buffer, ged!.buffer, dLogits.buffer, rows, vocab, invT));
      gl.dispose();
      ge.dispose();
    }
    return [dLogits];
  });
  return jointColumns(joint, logp, entropy, rows);
}

/**
 * logp and entropy as the two columns of `joint` [rows, 2] in the graph, so that their gradients
 * meet at joint's node and one backward computes the logits' (or the hidden states') gradient.
 */
export function jointColumns(joint: Tensor, logp: Tensor, entropy: Tensor, rows: number): LogprobEntropy {
  const column = (out: Tensor, col: number): Tensor =>
    record(out, col === 0 ? 'logprob' : 'entropy', [joint], (g) => {
      const gj = zeros([rows, 2], 'f32', joint.backend);
      const region = slice(gj, 1, col, col + 1);
      const g2 = reshape(g, [rows, 1]);
      copyInto(g2, region, false);
      region.dispose();
      g2.dispose();
      return [gj];
    });
  return { logp: column(logp, 0), entropy: column(entropy, 1) };
}

/**
 * SwiGLU's activation silu(gate) * up (gate and up of one shape), the values of
 * mul(silu(gate), up) bit for bit on the CPU. One kernel each way: the forward keeps no silu(gate)
 * for the backward, which reads gate, up and the gradient once for both gradients, where silu,
 * mul and their backwards ran six passes (docs/benchmarks.md).
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  requireDtype(gate, 'f32', 'swiglu', 'gate');
  requireDtype(up, 'f32', 'swiglu', 'up');
  if (gate.backend !== up.backend) throw new Error(`swiglu: gate and up live on different backends (${gate.backend.name}, ${up.backend.name})`);
  if (!sameShape(gate.shape, up.shape)) {
    throw new Error(`swiglu: gate and up must have the same shape, got ${formatShape(gate.shape)} and ${formatShape(up.shape)}`);
  }
  const be = gate.backend;
  const out = Tensor.empty(gate.shape, 'f32', be);
  if (out.size > 0) withDense([gate, up], (g, u) => be.swiglu(g!.buffer, u!.buffer, out.buffer, out.size));
  return record(out, 'swiglu', [gate, up], (grad) => {
    const dGate = Tensor.empty(gate.shape, 'f32', be);
    const dUp = Tensor.empty(gate.shape, 'f32', be);
    if (out.size > 0) {
      withDense([gate, up, grad], (g, u, d) => be.swigluBackward(g!.buffer, u!.buffer, d!.buffer, dGate.buffer, dUp.buffer, out.size));
    }
    return [dGate, dUp];
  });
}
