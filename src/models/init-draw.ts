/**
 * Drawing one tensor of init-model's random weights: its own stream (seeded by the run's seed and
 * the tensor's name), a million values at a time, converted to the file's dtype. The same code runs
 * on the calling thread and in the draw workers (init-weights-worker.ts), so both write the same
 * bytes.
 */
import { Prng } from '../util/prng.js';
import { f32ArrayToBf16 } from './dtype.js';

/** Values converted and written at a time. */
export const DRAW_CHUNK = 1 << 20;
/** Values one worker job draws (even, so every job starts at an even value). */
export const JOB_VALUES = 1 << 22;

/** FNV-1a of the seed and the name: the tensor's own stream. */
export function streamSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5;
  for (const ch of `${seed}:${name}`) {
    hash ^= ch.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * normal(0, std) values `start` to `start + count` of the stream `seed` (`start` even: one uniform
 * per value, so the stream's part can be reached with skipUniforms), handed to `sink` chunk by
 * chunk as bytes in `dtype`, with their byte offset from `start`.
 */
export function drawNormal(seed: number, std: number, start: number, count: number, dtype: 'BF16' | 'F32',
  sink: (bytes: Uint8Array, byteOffset: number) => void): void {
  if (start % 2 !== 0) throw new Error(`drawNormal: start must be even, got ${start}`);
  const rng = new Prng(seed);
  rng.skipUniforms(start);
  const values = new Float32Array(Math.min(DRAW_CHUNK, count));
  const size = dtype === 'F32' ? 4 : 2;
  for (let done = 0; done < count; done += DRAW_CHUNK) {
    sink(valueBytes(rng.fillNormal(values.subarray(0, Math.min(DRAW_CHUNK, count - done)), std), dtype), done * size);
  }
}

/** `values` as the file's bytes: themselves in F32, converted to BF16 otherwise. */
export function valueBytes(values: Float32Array, dtype: 'BF16' | 'F32'): Uint8Array {
  const out = dtype === 'F32' ? values : f32ArrayToBf16(values);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** What a draw worker is asked for: values start..start+count of a tensor's stream as bytes into `out`, then flag[0] = 1 (and a notify). */
export interface DrawJob {
  seed: number;
  std: number;
  start: number;
  count: number;
  dtype: 'BF16' | 'F32';
  out: SharedArrayBuffer;
  flag: SharedArrayBuffer;
}
