/**
 * The WebGPU side of the kernel comparison: like cpu-harness's runCase, but reading back with
 * `await read` (WebGPU has no synchronous read), and opening the backend once per test file with
 * the reason to skip when this machine has no adapter at all.
 */
import assert from 'node:assert/strict';
import type { Backend, DeviceBuffer } from '../../src/backend/backend.js';
import type { WebGpuBackend } from '../../src/backend/webgpu/index.js';
import { createNodeWebGpuBackend, type NodeWebGpuOptions } from '../../src/backend/webgpu/node.js';
import { relError, runCase, setUpCase, type Case } from './cpu-harness.js';

/** The backend, or the reason there is none (shown as the skip message). */
export async function openWebGpu(options: NodeWebGpuOptions = {}): Promise<{ gpu: WebGpuBackend | null; skip: string | false }> {
  try {
    const gpu = await createNodeWebGpuBackend(options);
    if (gpu) return { gpu, skip: false };
    return { gpu: null, skip: 'no WebGPU adapter on this machine (Dawn found neither a native nor an OpenGL ES adapter)' };
  } catch (e) {
    return { gpu: null, skip: `WebGPU unavailable: ${(e as Error).message}` };
  }
}

/**
 * Points Dawn's Vulkan backend at Mesa's lavapipe where scripts/lavapipe.sh unpacked it: the test
 * runner passes its driver manifest as TINYZERO_LAVAPIPE_ICD (and its libraries on
 * LD_LIBRARY_PATH). Only the files that test optional features call this, so the other WebGPU
 * tests keep running on the OpenGL ES adapter. Must run before Dawn starts. Returns the manifest.
 */
export function useLavapipe(): string | null {
  const icd = process.env.TINYZERO_LAVAPIPE_ICD;
  if (!icd) return null;
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES) process.env.VK_ICD_FILENAMES = icd;
  return icd;
}

export async function runCaseAsync(be: Backend, c: Case): Promise<Record<string, Float32Array>> {
  const { bufs, sizes } = setUpCase(be, c);
  c.call(be, bufs);
  const out: Record<string, Float32Array> = {};
  // Compare only the elements the case defined: pooled device buffers are larger than asked for.
  for (const name of c.compare) out[name] = (await be.read(bufs[name]!, 'f32', 0, sizes[name]!)) as Float32Array;
  for (const buf of Object.values(bufs)) be.free(buf);
  return out;
}

/** Runs `c` on the WebGPU backend and the reference; every compared output must agree within `tol`. */
export async function assertSameAsync(gpu: Backend, ref: Backend, label: string, c: Case, tol = 1e-5): Promise<void> {
  const got = await runCaseAsync(gpu, c);
  const want = runCase(ref, c);
  for (const name of c.compare) {
    const w = want[name]!.subarray(0, got[name]!.length);
    const err = relError(got[name]!, w);
    assert.ok(err <= tol, `${label}: ${name} differs from the reference by ${err.toExponential(2)} (tolerance ${tol})`);
  }
}

/**
 * softmax, its backward, logSoftmax and its backward on rows×cols inputs, as one case: the row
 * kernels every WebGPU variant (workgroup or subgroup reductions) must agree on.
 */
export function softmaxFamilyCase(rng: { floats(n: number, scale?: number): Float32Array }, rows: number, cols: number): Case {
  const n = rows * cols;
  return {
    inputs: { x: rng.floats(n, 4), dy: rng.floats(n) }, outputs: { y: n, dx: n, ly: n, ldx: n }, compare: ['y', 'dx', 'ly', 'ldx'],
    call: (be, b) => {
      be.softmax(b.x!, b.y!, rows, cols);
      be.softmaxBackward(b.y!, b.dy!, b.dx!, rows, cols);
      be.logSoftmax(b.x!, b.ly!, rows, cols);
      be.logSoftmaxBackward(b.ly!, b.dy!, b.ldx!, rows, cols);
    },
  };
}

/** rmsnorm and its backward on rows×dim inputs (dw starts non-zero: the backward accumulates into it). */
export function rmsnormCase(rng: { floats(n: number, scale?: number): Float32Array }, rows: number, dim: number): Case {
  const n = rows * dim;
  return {
    inputs: { x: rng.floats(n), w: rng.floats(dim), dy: rng.floats(n), dw: rng.floats(dim) },
    outputs: { y: n, rstd: rows, dx: n }, compare: ['y', 'rstd', 'dx', 'dw'],
    call: (be, b) => {
      be.rmsnorm(b.x!, b.w!, b.y!, b.rstd!, rows, dim, 1e-6);
      be.rmsnormBackward(b.dy!, b.x!, b.w!, b.rstd!, b.dx!, b.dw!, rows, dim);
    },
  };
}

/** A linearGroup call's shape: rows, inner size, the weights' widths, which have biases, residual, epilogue. */
export interface LinearGroupShape {
  m: number;
  k: number;
  n: number[];
  bias: boolean[];
  residual: boolean;
  epilogue: 'none' | 'swiglu';
  /** The residual's buffer is also the output (an in-place residual add). */
  inPlace?: boolean;
}

/**
 * linearGroup as a case: x, weights w0..w2 (HF's [out, in]), biases b0..b2, residual r; outputs
 * o0..o2 (or r itself, in place). `weights` turns the f32 weights into what the backend is given
 * (f16 bits, say), with `wDtype` to match.
 */
export function linearGroupCase(rng: { floats(n: number, scale?: number): Float32Array }, s: LinearGroupShape,
  weights: (w: Float32Array) => Float32Array | Uint16Array = (w) => w, wDtype: 'f32' | 'f16' = 'f32'): Case {
  const widths = s.epilogue === 'swiglu' ? [s.n[0]!] : s.n;
  const inputs: Case['inputs'] = { x: rng.floats(s.m * s.k) };
  s.n.forEach((n, i) => {
    inputs[`w${i}`] = weights(rng.floats(n * s.k, 0.3));
    if (s.bias[i]) inputs[`b${i}`] = rng.floats(n, 0.5);
  });
  if (s.residual) inputs.r = rng.floats(s.m * s.n[0]!);
  const outputs: Record<string, number> = {};
  if (!s.inPlace) widths.forEach((n, i) => { outputs[`o${i}`] = s.m * n; });
  return {
    inputs, outputs, compare: s.inPlace ? ['r'] : widths.map((_, i) => `o${i}`),
    call: (be, b) => be.linearGroup(b.x!, s.n.map((_, i) => b[`w${i}`]!), s.n.map((_, i) => b[`b${i}`] ?? null), b.r ?? null,
      s.inPlace ? [b.r!] : widths.map((_, i) => b[`o${i}`]!), { m: s.m, k: s.k, n: s.n, wDtype: s.n.map(() => wDtype), epilogue: s.epilogue }),
  };
}

/**
 * Groups for the WebGPU linearGroup: split along K (its fused path) and too short to split (the
 * plain kernels), one to three weights, several row and column tiles with a weight's columns
 * ending mid-tile, every epilogue, biases on some weights, an in-place residual.
 */
export const WEBGPU_LINEAR_GROUPS: LinearGroupShape[] = [
  { m: 1, k: 37, n: [16, 8, 8], bias: [true, true, true], residual: false, epilogue: 'none' },
  { m: 2, k: 384, n: [40, 8, 8], bias: [true, true, true], residual: false, epilogue: 'none' },
  { m: 3, k: 300, n: [12, 5, 5], bias: [false, true, false], residual: false, epilogue: 'none' },
  { m: 4, k: 19, n: [23], bias: [true], residual: true, epilogue: 'none' },
  { m: 64, k: 1000, n: [70], bias: [false], residual: true, epilogue: 'none' },
  { m: 5, k: 260, n: [30], bias: [true], residual: true, epilogue: 'none', inPlace: true },
  { m: 9, k: 520, n: [14, 14], bias: [true, true], residual: false, epilogue: 'swiglu' },
  { m: 70, k: 400, n: [66, 66], bias: [false, false], residual: false, epilogue: 'swiglu' },
  { m: 130, k: 300, n: [65, 3, 130], bias: [true, false, true], residual: false, epilogue: 'none' },
];
