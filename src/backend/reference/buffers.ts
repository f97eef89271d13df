import type { DeviceBuffer, DType } from '../backend.js';

/**
 * A reference-backend buffer: a plain ArrayBuffer seen as f32 and as i32. In float64 mode (for
 * gradient checks against finite differences) each 4-byte element is held as a float64 instead,
 * and integers are stored exactly in the same array.
 */
export class HostBuffer implements DeviceBuffer {
  readonly f32: Float32Array | Float64Array;
  readonly i32: Int32Array | Float64Array;
  freed = false;
  constructor(readonly byteLength: number, float64: boolean) {
    const elements = Math.ceil(byteLength / 4);
    if (float64) {
      this.f32 = new Float64Array(elements);
      this.i32 = this.f32;
    } else {
      const storage = new ArrayBuffer(elements * 4);
      this.f32 = new Float32Array(storage);
      this.i32 = new Int32Array(storage);
    }
  }
}

export function host(buf: DeviceBuffer, op: string): HostBuffer {
  if (!(buf instanceof HostBuffer)) throw new Error(`${op}: buffer does not belong to the reference backend`);
  if (buf.freed) throw new Error(`${op}: buffer used after it was freed`);
  return buf;
}

export function view(buf: DeviceBuffer, dtype: DType, op: string): Float32Array | Float64Array | Int32Array {
  const h = host(buf, op);
  return dtype === 'f32' ? h.f32 : h.i32;
}

/** Calls fn(outIndex, aIndex, bIndex...) for every index of `shape`, walking each strided operand. */
export function forEachIndex(shape: number[], strides: number[][], offsets: number[], fn: (linear: number, idx: number[]) => void): void {
  const rank = shape.length;
  const total = shape.reduce((a, b) => a * b, 1);
  if (total === 0) return;
  const counter = new Array<number>(rank).fill(0);
  const pos = offsets.slice();
  for (let linear = 0; linear < total; linear++) {
    fn(linear, pos);
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]!++;
      for (let s = 0; s < strides.length; s++) pos[s]! += strides[s]![d]!;
      if (counter[d]! < shape[d]!) break;
      for (let s = 0; s < strides.length; s++) pos[s]! -= strides[s]![d]! * shape[d]!;
      counter[d] = 0;
    }
  }
}
