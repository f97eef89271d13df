/**
 * Gradient checking against central finite differences in float64: the engine runs on the reference
 * backend in float64 mode, so both the analytic gradient (autograd + backward kernels) and the
 * numeric one are computed at full precision and can be compared tightly.
 */
import assert from 'node:assert/strict';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import type { HostBuffer } from '../../src/backend/reference/buffers.js';
import { noGrad, setBackend, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { Rng } from './rng.js';

export const f64Backend = new ReferenceBackend({ float64: true });

export interface InputSpec {
  shape: number[];
  /** Integer inputs (ids, positions) get no gradient. */
  ints?: { max: number };
  /** Values to use instead of random normals. */
  values?: number[];
  /** Random values in [lo, hi) instead of normals. */
  range?: [number, number];
  /** Inputs without gradient (masks, biases). */
  noGrad?: boolean;
}

function hostOf(t: Tensor): Float64Array {
  return (t.buffer as HostBuffer).f32 as Float64Array;
}

function lossOf(out: Tensor, weights: Float64Array): number {
  const data = f64Backend.readF64(out.contiguous().buffer, 0, out.size);
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i]! * weights[i]!;
  return s;
}

/**
 * Checks d(sum(fn(inputs) * W))/d(input) for every float input against central differences.
 * Returns the largest relative error seen.
 */
export function gradCheck(specs: InputSpec[], fn: (...xs: Tensor[]) => Tensor, opts: { seed?: number; eps?: number; tol?: number } = {}): number {
  setBackend(f64Backend);
  const rng = new Rng(opts.seed ?? 1);
  const eps = opts.eps ?? 1e-6;
  const tol = opts.tol ?? 1e-6;
  let worst = 0;
  tidy(() => {
    const inputs = specs.map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (s.ints) return tensor(Int32Array.from({ length: n }, () => rng.int(s.ints!.max)), s.shape, 'i32');
      const values = s.values ?? Array.from({ length: n }, () => (s.range ? s.range[0] + (s.range[1] - s.range[0]) * rng.uniform() : rng.normal()));
      const t = tensor(Float32Array.from(values), s.shape);
      t.requiresGrad = !s.noGrad;
      return t;
    });
    const out = fn(...inputs);
    const weights = Float64Array.from({ length: out.size }, () => rng.normal());
    const seed = tensor(Float32Array.from(weights), out.shape);
    // The seed as stored (f32-rounded) is what the backward sees; use the same for the numeric loss.
    const w = hostOf(seed).slice(0, out.size);
    out.backward(seed);
    inputs.forEach((x, idx) => {
      if (!x.requiresGrad) return;
      assert.ok(x.grad, `input ${idx} received no gradient`);
      const analytic = f64Backend.readF64(x.grad.buffer, 0, x.size);
      const buf = hostOf(x);
      for (let i = 0; i < x.size; i++) {
        const orig = buf[i]!;
        buf[i] = orig + eps;
        const plus = noGrad(() => tidy(() => lossOf(fn(...inputs), w)));
        buf[i] = orig - eps;
        const minus = noGrad(() => tidy(() => lossOf(fn(...inputs), w)));
        buf[i] = orig;
        const numeric = (plus - minus) / (2 * eps);
        const err = Math.abs(analytic[i]! - numeric) / Math.max(1, Math.abs(numeric));
        worst = Math.max(worst, err);
        assert.ok(err <= tol, `input ${idx} element ${i}: analytic ${analytic[i]} vs numeric ${numeric} (error ${err.toExponential(2)})`);
      }
    });
  });
  return worst;
}
