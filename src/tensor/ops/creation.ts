/** Tensors from host data and constants. */
import type { Backend, DType } from '../../backend/backend.js';
import { f32ArrayToF16 } from '../../util/float16.js';
import { getBackend } from '../runtime.js';
import { formatShape, numel, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

export type HostData = Float32Array | Int32Array | readonly number[];

/**
 * A tensor holding `data` (row-major). `shape` defaults to [data.length]; dtype follows the array
 * type (Int32Array -> i32), or is given. 'f16' rounds the values to nearest-even on the host.
 */
export function tensor(data: HostData, shape?: Shape, dtype?: DType, backend: Backend = getBackend()): Tensor {
  const dt: DType = dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
  const s = shape ?? [data.length];
  if (numel(s) !== data.length) throw new Error(`tensor: ${data.length} values do not fill shape ${formatShape(s)}`);
  const typed = dt === 'i32'
    ? (data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>))
    : (data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>));
  const out = Tensor.empty(s, dt, backend);
  if (typed.length > 0) backend.write(out.buffer, dt === 'f16' ? f32ArrayToF16(typed as Float32Array) : typed, 0);
  return out;
}

export function full(shape: Shape, value: number, dtype: DType = 'f32', backend: Backend = getBackend()): Tensor {
  const out = Tensor.empty(shape, dtype, backend);
  if (out.size > 0) backend.fill(out.buffer, out.size, value, dtype);
  return out;
}

export function zeros(shape: Shape, dtype: DType = 'f32', backend: Backend = getBackend()): Tensor {
  return full(shape, 0, dtype, backend);
}

export function ones(shape: Shape, dtype: DType = 'f32', backend: Backend = getBackend()): Tensor {
  return full(shape, 1, dtype, backend);
}

export function scalar(value: number, backend: Backend = getBackend()): Tensor {
  return full([], value, 'f32', backend);
}

export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0, t.dtype, t.backend);
}
