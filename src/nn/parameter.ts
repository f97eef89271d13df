/**
 * Parameters are plain tensors with requiresGrad = true, created with keep() so that no tidy()
 * scope frees them; they live until their module is disposed. Values are replaced in place (the
 * buffer is rewritten) so that modules and optimizers holding the tensor stay valid.
 */
import type { Backend } from '../backend/backend.js';
import { f32ArrayToF16 } from '../util/float16.js';
import { getBackend, keep, formatShape, numel, type Shape, type Tensor } from '../tensor/index.js';
import { initTensor, type Init } from './init.js';

/** A trainable leaf tensor. Same type as Tensor: the name documents intent. */
export type Parameter = Tensor;

/**
 * A new parameter of `shape` holding `init`'s values. An f16 parameter is a frozen weight: stored
 * as f16 (backends with halfStorage), read by matmul and embedding, never trained (no gradient).
 */
export function createParameter(shape: Shape, init: Init, backend: Backend = getBackend(), dtype: 'f32' | 'f16' = 'f32'): Parameter {
  const p = keep(initTensor(shape, init, backend, dtype));
  p.requiresGrad = dtype === 'f32';
  return p;
}

/** Turns an existing dense f32 tensor into a parameter (kept, requiresGrad). */
export function asParameter(t: Tensor): Parameter {
  t.assertAlive('asParameter');
  if (t.dtype !== 'f32') throw new Error(`asParameter: parameters are f32, got ${t.dtype} of shape ${formatShape(t.shape)}`);
  if (!t.isContiguous() || t.offset !== 0 || t.storage.length !== t.size) {
    // The fused AdamW kernel updates whole buffers: a view into a larger buffer cannot be a parameter.
    throw new Error(`asParameter: tensor of shape ${formatShape(t.shape)} is a view; parameters must own a dense buffer`);
  }
  if (t.node) throw new Error(`asParameter: tensor of shape ${formatShape(t.shape)} has autograd history (made by ${t.node.op}); detach it first`);
  keep(t);
  t.requiresGrad = true;
  return t;
}

/**
 * Overwrites the values of `p` (named `name` in errors) with `data`. When `shape` is given it must
 * equal the parameter's shape; otherwise only the element count is checked. An f16 parameter takes
 * f32 values (rounded to nearest even here) or f16 bits as a Uint16Array.
 */
export function writeParameter(p: Parameter, data: Float32Array | Uint16Array, name: string, shape?: Shape): void {
  p.assertAlive(`load ${name}`);
  if (shape && (shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i]))) {
    throw new Error(`load ${name}: expected shape ${formatShape(p.shape)}, got ${formatShape(shape)}`);
  }
  if (data.length !== numel(p.shape)) {
    throw new Error(`load ${name}: expected ${numel(p.shape)} values for shape ${formatShape(p.shape)}, got ${data.length}`);
  }
  if (p.dtype === 'f16') {
    if (data.length > 0) p.backend.write(p.buffer, data instanceof Float32Array ? f32ArrayToF16(data) : data, p.offset);
    return;
  }
  if (!(data instanceof Float32Array)) throw new Error(`load ${name}: values must be a Float32Array`);
  if (data.length > 0) p.backend.write(p.buffer, data, p.offset);
}
