/**
 * Matmul with f16 weights against the same product with f32 weights, on shapes of a linear layer
 * (x @ W^T with W [out, in]) of Qwen2.5-0.5B: decoding (m = 1..64 rows, one token per sequence;
 * bandwidth-bound at small m, where half the bytes should show) and training (m = 512 rows: the forward x @ W^T and the backward
 * dY @ W, where B is packed to f32 panels once and the f32 micro-kernel runs).
 */
import type { Backend, DeviceBuffer, MatmulArgs } from '../backend/backend.js';
import { f32ArrayToF16 } from '../models/dtype.js';
import type { BackendPair } from './setup.js';
import { race, round, type RaceOptions } from './timing.js';

export interface HalfMatmulRow {
  kind: 'decode' | 'training';
  /** m x n x k, and whether B is read transposed (the forward of a linear). */
  shape: string;
  transB: boolean;
  msF32: number;
  msF16: number;
  /** f32 time over f16 time: above 1, the f16 weights are faster. */
  speedup: number;
}

export interface HalfShape { kind: 'decode' | 'training'; m: number; n: number; k: number; transB: boolean }

export const HALF_SHAPES: HalfShape[] = [
  { kind: 'decode', m: 1, n: 4864, k: 896, transB: true },
  { kind: 'decode', m: 1, n: 896, k: 4864, transB: true },
  { kind: 'decode', m: 4, n: 4864, k: 896, transB: true },
  { kind: 'decode', m: 16, n: 4864, k: 896, transB: true },
  { kind: 'decode', m: 64, n: 4864, k: 896, transB: true },
  { kind: 'training', m: 512, n: 4864, k: 896, transB: true },
  { kind: 'training', m: 512, n: 896, k: 4864, transB: true },
  { kind: 'training', m: 512, n: 896, k: 4864, transB: false },
];
export const HALF_SHAPES_QUICK: HalfShape[] = [
  { kind: 'decode', m: 1, n: 256, k: 128, transB: true },
  { kind: 'training', m: 64, n: 128, k: 256, transB: false },
];

function weights(be: Backend, n: number, half: boolean): DeviceBuffer {
  const data = Float32Array.from({ length: n }, () => Math.random() - 0.5);
  const buf = be.alloc(half ? Math.ceil(n / 2) * 4 : n * 4);
  be.write(buf, half ? f32ArrayToF16(data) : data);
  return buf;
}

/** Null where the backend has no f16 storage. */
export async function benchHalfMatmul(pair: BackendPair, shapes: HalfShape[], opts: RaceOptions): Promise<HalfMatmulRow[] | null> {
  const be = pair.pool;
  if (!be.halfStorage) return null;
  const rows: HalfMatmulRow[] = [];
  for (const s of shapes) {
    const a = weights(be, s.m * s.k, false);
    const out = be.alloc(s.m * s.n * 4);
    const b32 = weights(be, s.k * s.n, false);
    const b16 = weights(be, s.k * s.n, true);
    const args: MatmulArgs = { batch: 1, m: s.m, n: s.n, k: s.k, transA: false, transB: s.transB, aBatchStride: 0, bBatchStride: 0, accumulate: false };
    const [t32, t16] = await race([
      { run: () => be.matmul(a, b32, out, args), sync: pair.sync },
      { run: () => be.matmul(a, b16, out, { ...args, bDtype: 'f16' }), sync: pair.sync },
    ], opts);
    rows.push({ kind: s.kind, shape: `${s.m}x${s.n}x${s.k}`, transB: s.transB, msF32: round(t32! * 1e3, 3), msF16: round(t16! * 1e3, 3),
      speedup: round(t32! / t16!, 2) });
    for (const b of [a, out, b32, b16]) be.free(b);
  }
  return rows;
}
