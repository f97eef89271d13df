/**
 * The fused decoding routines of the contract (linearGroup, ropeKvWrite) written as the plain
 * kernels the tensor layer would otherwise run, in the same order: the definition the reference
 * backend uses, and the path of the other backends where they have no fused kernel (WebGPU, or the
 * CPU past its decode sizes). Temporaries are allocated from the backend and freed before return.
 */
import type { Backend, DeviceBuffer, LinearGroupArgs, RopeKvWriteArgs } from './backend.js';

/** Throws unless the buffers and args of a linearGroup call agree. */
export function checkLinearGroup(weights: DeviceBuffer[], biases: (DeviceBuffer | null)[], residual: DeviceBuffer | null,
  outs: DeviceBuffer[], args: LinearGroupArgs): void {
  const { m, k, n, wDtype, epilogue } = args;
  const count = weights.length;
  for (const [name, v] of Object.entries({ m, k })) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`linearGroup: ${name} must be a non-negative integer, got ${v}`);
  }
  if (count < 1 || count > 3) throw new Error(`linearGroup: takes 1 to 3 weights, got ${count}`);
  if (n.length !== count || wDtype.length !== count || biases.length !== count) {
    throw new Error(`linearGroup: ${count} weights need as many widths, dtypes and biases (got ${n.length}, ${wDtype.length}, ${biases.length})`);
  }
  if (n.some((w) => !Number.isInteger(w) || w < 0)) throw new Error(`linearGroup: widths must be non-negative integers, got [${n.join(', ')}]`);
  if (epilogue === 'swiglu') {
    if (count !== 2 || n[0] !== n[1]) throw new Error(`linearGroup: 'swiglu' needs two weights of equal width, got [${n.join(', ')}]`);
    if (outs.length !== 1) throw new Error(`linearGroup: 'swiglu' writes one output, got ${outs.length}`);
    if (residual) throw new Error("linearGroup: 'swiglu' takes no residual");
  } else if (epilogue === 'none') {
    if (outs.length !== count) throw new Error(`linearGroup: ${count} weights need ${count} outputs, got ${outs.length}`);
    if (residual && count !== 1) throw new Error(`linearGroup: a residual needs exactly one weight, got ${count}`);
  } else {
    throw new Error(`linearGroup: unknown epilogue ${String(epilogue)}`);
  }
}

/** x @ W^T (+ bias) as matmul and then a broadcast add, into `dst` or else a new buffer. */
function project(be: Backend, x: DeviceBuffer, w: DeviceBuffer, bias: DeviceBuffer | null, m: number, k: number, n: number,
  dtype: 'f32' | 'f16', dst: DeviceBuffer | null): DeviceBuffer {
  const y = dst && !bias ? dst : be.alloc(m * n * 4);
  be.matmul(x, w, y, {
    batch: 1, m, n, k, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, accumulate: false,
    ...(dtype === 'f16' ? { bDtype: 'f16' as const } : {}),
  });
  if (!bias) return y;
  const out = dst ?? be.alloc(m * n * 4);
  be.binary('add', { buf: y, offset: 0, strides: [n, 1] }, { buf: bias, offset: 0, strides: [0, 1] }, out, [m, n]);
  be.free(y);
  return out;
}

export function linearGroupComposed(be: Backend, x: DeviceBuffer, weights: DeviceBuffer[], biases: (DeviceBuffer | null)[],
  residual: DeviceBuffer | null, outs: DeviceBuffer[], args: LinearGroupArgs): void {
  checkLinearGroup(weights, biases, residual, outs, args);
  const { m, k, n, wDtype, epilogue } = args;
  if (m === 0) return;
  if (epilogue === 'none' && !residual) {
    weights.forEach((w, i) => project(be, x, w, biases[i]!, m, k, n[i]!, wDtype[i]!, outs[i]!));
    return;
  }
  const ys = weights.map((w, i) => project(be, x, w, biases[i]!, m, k, n[i]!, wDtype[i]!, null));
  try {
    const cols = n[0]!;
    const dense = { offset: 0, strides: [cols, 1] };
    if (epilogue === 'swiglu') {
      be.swiglu(ys[0]!, ys[1]!, outs[0]!, m * cols);
    } else {
      be.binary('add', { buf: residual!, ...dense }, { buf: ys[0]!, ...dense }, outs[0]!, [m, cols]);
    }
  } finally {
    for (const y of ys) be.free(y);
  }
}

/** Throws unless the sizes of a ropeKvWrite call are positive integers that fit together. */
export function checkRopeKvWrite(args: RopeKvWriteArgs): void {
  for (const [name, v] of Object.entries(args)) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`ropeKvWrite: ${name} must be a non-negative integer, got ${v}`);
  }
  if (args.D % 2 !== 0) throw new Error(`ropeKvWrite: head dim D must be even, got ${args.D}`);
  if (args.pastLen + args.T > args.maxLen) {
    throw new Error(`ropeKvWrite: positions ${args.pastLen}..${args.pastLen + args.T} exceed the cache length ${args.maxLen}`);
  }
}

export function ropeKvWriteComposed(be: Backend, q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, positions: DeviceBuffer,
  cos: DeviceBuffer, sin: DeviceBuffer, qOut: DeviceBuffer, kCache: DeviceBuffer, vCache: DeviceBuffer, args: RopeKvWriteArgs): void {
  checkRopeKvWrite(args);
  const { B, T, H, Hkv, D, pastLen, maxLen } = args;
  const rows = B * T;
  if (rows === 0) return;
  be.rope(q, positions, cos, sin, qOut, rows, H, D, false);
  const kRot = be.alloc(rows * Hkv * D * 4);
  try {
    be.rope(k, positions, cos, sin, kRot, rows, Hkv, D, false);
    const row = Hkv * D;
    const shape = [B, T * row];
    const slot = { offset: pastLen * row, strides: [maxLen * row, 1] };
    be.copyStrided({ buf: kRot, offset: 0, strides: [T * row, 1] }, { buf: kCache, ...slot }, shape, false);
    be.copyStrided({ buf: v, offset: 0, strides: [T * row, 1] }, { buf: vCache, ...slot }, shape, false);
  } finally {
    be.free(kRot);
  }
}
