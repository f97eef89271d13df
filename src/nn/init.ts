/**
 * Initialisers: descriptions of a parameter's starting values, turned into tensors by initTensor.
 * HF models use normal(0, initializer_range) for Linear/Embedding weights, zeros for biases and
 * ones for norm weights. `uninitialized` skips the work for weights that are loaded right after.
 */
import type { Backend } from '../backend/backend.js';
import { f32ArrayToF16 } from '../util/float16.js';
import { getBackend, Tensor, formatShape, numel, type Shape } from '../tensor/index.js';
import type { Prng } from '../util/prng.js';

export type Init =
  | { readonly kind: 'normal'; readonly rng: Prng; readonly std: number; readonly mean: number }
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'uninitialized' };

/** normal(mean, std) drawn from `rng` in row-major order. HF's default std is initializer_range = 0.02. */
export function normalInit(rng: Prng, std = 0.02, mean = 0): Init {
  if (!(std >= 0) || !Number.isFinite(std)) throw new Error(`normalInit: std must be finite and >= 0, got ${std}`);
  return { kind: 'normal', rng, std, mean };
}

export function constantInit(value: number): Init {
  return { kind: 'constant', value };
}

export function zerosInit(): Init {
  return constantInit(0);
}

export function onesInit(): Init {
  return constantInit(1);
}

/** Contents unspecified: for parameters that are overwritten from a checkpoint before use. */
export function uninitialized(): Init {
  return { kind: 'uninitialized' };
}

/**
 * A new dense f32 tensor of `shape` holding `init`'s values (tracked by the current scope like any
 * tensor). An f16 tensor (frozen weights, backends with halfStorage) gets the same values rounded
 * to f16 on the host.
 */
export function initTensor(shape: Shape, init: Init, backend: Backend = getBackend(), dtype: 'f32' | 'f16' = 'f32'): Tensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`initTensor: invalid shape ${formatShape(shape)}`);
  }
  const out = Tensor.empty(shape, dtype, backend);
  const n = numel(shape);
  if (n === 0) return out;
  if (dtype === 'f16') {
    const values = init.kind === 'normal' ? init.rng.fillNormal(new Float32Array(n), init.std, init.mean)
      : init.kind === 'constant' ? new Float32Array(n).fill(init.value) : null;
    if (values) backend.write(out.buffer, f32ArrayToF16(values), 0);
    return out;
  }
  switch (init.kind) {
    case 'normal':
      backend.write(out.buffer, init.rng.fillNormal(new Float32Array(n), init.std, init.mean), 0);
      break;
    case 'constant':
      backend.fill(out.buffer, n, init.value, 'f32');
      break;
    case 'uninitialized':
      break;
  }
  return out;
}
