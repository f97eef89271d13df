/**
 * The fused decoding routines (Backend.linearGroup, Backend.ropeKvWrite) as tensor ops: several
 * projections of one input in one backend call, and the rotary embedding written straight into a
 * KV cache. Their results are those of the unfused ops bit for bit (the contract says so), but they
 * have no backward: they refuse inputs that would record a gradient, and callers keep the unfused
 * ops for training (`recordsGrad` tells them which to use).
 */
import type { LinearGroupArgs } from '../../backend/backend.js';
import { formatShape } from '../shape.js';
import { isGradEnabled } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { denseAtZero } from './elementwise.js';

/** Whether an op on these inputs would be recorded for the backward pass. */
export function recordsGrad(inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!isGradEnabled()) return false;
  for (const t of inputs) if (t?.requiresGrad) return true;
  return false;
}

function refuseGrad(op: string, inputs: readonly (Tensor | null | undefined)[]): void {
  if (recordsGrad(inputs)) throw new Error(`${op}: has no backward; use the unfused ops where a gradient is recorded (see recordsGrad)`);
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** One projection of a linearGroup: an HF Linear's weight [out, in] and optional bias [out]. */
export interface LinearGroupLayer {
  weight: Tensor;
  bias: Tensor | null;
}

export interface LinearGroupOptions {
  /** Added to the (single) projection: residual + x @ W^T (+ bias), of the output's shape. */
  residual?: Tensor | null;
  /** 'swiglu': two layers (gate, up), one output silu(gate(x)) * up(x). Default 'none'. */
  epilogue?: LinearGroupArgs['epilogue'];
}

/** Runs fn on dense-from-zero versions of the tensors and frees the copies afterwards. */
function withDense<T>(ts: Tensor[], fn: (dense: Tensor[]) => T): T {
  const dense = ts.map(denseAtZero);
  try {
    return fn(dense);
  } finally {
    dense.forEach((d, i) => { if (d !== ts[i]) d.dispose(); });
  }
}

/**
 * x [..., in] through 1-3 Linear layers sharing it: one output [..., out_w] per layer
 * ('none'), or the one SwiGLU output ('swiglu'). Equal to linear(x, W_w, b_w) (then + residual,
 * or silu(.) * .) bit for bit.
 */
export function linearGroup(x: Tensor, layers: readonly LinearGroupLayer[], options: LinearGroupOptions = {}): Tensor[] {
  const op = 'linearGroup';
  const epilogue = options.epilogue ?? 'none';
  const residual = options.residual ?? null;
  x.assertAlive(op);
  if (x.dtype !== 'f32' || x.ndim < 1) throw new Error(`${op}: x must be f32 [..., in], got ${x.dtype} ${formatShape(x.shape)}`);
  const k = x.shape[x.ndim - 1]!;
  const lead = x.shape.slice(0, -1);
  const m = lead.reduce((a, b) => a * b, 1);
  layers.forEach(({ weight: w, bias: b }, i) => {
    w.assertAlive(op);
    if (w.ndim !== 2 || w.shape[1] !== k || (w.dtype !== 'f32' && w.dtype !== 'f16')) {
      throw new Error(`${op}: weight ${i} must be f32 or f16 [out, ${k}], got ${w.dtype} ${formatShape(w.shape)}`);
    }
    if (w.dtype === 'f16' && !(w.isContiguous() && w.offset === 0)) throw new Error(`${op}: f16 weight ${i} must be a dense matrix`);
    if (b && (b.dtype !== 'f32' || b.ndim !== 1 || b.shape[0] !== w.shape[0])) {
      throw new Error(`${op}: bias ${i} must be f32 [${w.shape[0]}], got ${b.dtype} ${formatShape(b.shape)}`);
    }
  });
  if (isGradEnabled()) refuseGrad(op, [x, residual, ...layers.flatMap((l) => [l.weight, l.bias])]);
  const n = layers.map((l) => l.weight.shape[0]!);
  const outShapes = epilogue === 'swiglu' ? [[...lead, n[0]!]] : n.map((w) => [...lead, w]);
  if (residual && (residual.dtype !== 'f32' || !sameShape(residual.shape, outShapes[0]!))) {
    throw new Error(`${op}: residual must be f32 ${formatShape(outShapes[0]!)}, got ${residual.dtype} ${formatShape(residual.shape)}`);
  }
  const outs = outShapes.map((s) => Tensor.empty(s, 'f32', x.backend));
  // Decoding's inputs are dense already (parameters, fresh outputs): copies only for views.
  const copies: Tensor[] = [];
  const buf = (t: Tensor) => {
    const d = denseAtZero(t);
    if (d !== t) copies.push(d);
    return d.buffer;
  };
  try {
    x.backend.linearGroup(buf(x), layers.map((l) => buf(l.weight)), layers.map((l) => (l.bias ? buf(l.bias) : null)),
      residual ? buf(residual) : null, outs.map((o) => o.buffer),
      { m, k, n, wDtype: layers.map((l) => (l.weight.dtype === 'f16' ? 'f16' : 'f32')), epilogue });
  } catch (e) {
    for (const o of outs) o.dispose();
    throw e;
  } finally {
    for (const c of copies) c.dispose();
  }
  return outs;
}

/**
 * Rotary embedding of q [B, T, H, D] and k [B, T, Hkv, D] at `positions` [B, T] (tables cos, sin
 * [maxPos, D/2]), with the rotated k and v written to positions [pastLen, pastLen + T) of the caches
 * kCache, vCache [B, maxLen, Hkv, D]. Returns the rotated q. Equal to rope + copies bit for bit.
 */
export function ropeKvWrite(q: Tensor, k: Tensor, v: Tensor, positions: Tensor, cos: Tensor, sin: Tensor,
  kCache: Tensor, vCache: Tensor, pastLen: number): Tensor {
  const op = 'ropeKvWrite';
  for (const t of [q, k, v, positions, cos, sin, kCache, vCache]) t.assertAlive(op);
  if (q.ndim !== 4 || k.ndim !== 4 || !sameShape(k.shape, v.shape)) {
    throw new Error(`${op}: q [B, T, H, D] and k, v [B, T, Hkv, D] expected, got ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`);
  }
  const [B, T, H, D] = q.shape as [number, number, number, number];
  const Hkv = k.shape[2]!;
  if (k.shape[0] !== B || k.shape[1] !== T || k.shape[3] !== D) {
    throw new Error(`${op}: k ${formatShape(k.shape)} does not match q ${formatShape(q.shape)}`);
  }
  const maxLen = kCache.shape[1]!;
  const cacheShape = [B, maxLen, Hkv, D];
  for (const [name, c] of [['kCache', kCache], ['vCache', vCache]] as const) {
    if (!sameShape(c.shape, cacheShape) || c.dtype !== 'f32' || !c.isContiguous() || c.offset !== 0) {
      throw new Error(`${op}: ${name} must be a dense f32 ${formatShape(cacheShape)}, got ${c.dtype} ${formatShape(c.shape)}`);
    }
  }
  for (const [name, t] of [['q', q], ['k', k], ['v', v], ['cos', cos], ['sin', sin]] as const) {
    if (t.dtype !== 'f32') throw new Error(`${op}: ${name} must be f32, got ${t.dtype}`);
  }
  if (positions.dtype !== 'i32' || positions.size !== B * T) {
    throw new Error(`${op}: positions must be i32 [${B}, ${T}], got ${positions.dtype} ${formatShape(positions.shape)}`);
  }
  if (D % 2 !== 0 || cos.ndim !== 2 || cos.shape[1] !== D / 2 || sin.ndim !== 2 || sin.shape[1] !== D / 2) {
    throw new Error(`${op}: tables ${formatShape(cos.shape)} need [maxPos, ${D / 2}] for head dim ${D}`);
  }
  if (isGradEnabled()) refuseGrad(op, [q, k, v]);
  const out = Tensor.empty(q.shape, 'f32', q.backend);
  try {
    withDense([q, k, v, positions, cos, sin], ([qd, kd, vd, pd, cd, sd]) => {
      q.backend.ropeKvWrite(qd!.buffer, kd!.buffer, vd!.buffer, pd!.buffer, cd!.buffer, sd!.buffer, out.buffer,
        kCache.buffer, vCache.buffer, { B, T, H, Hkv, D, pastLen, maxLen });
    });
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}
