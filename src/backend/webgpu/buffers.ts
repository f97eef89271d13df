/// <reference types="@webgpu/types" />
/**
 * Device buffers and their reuse. Every allocation is rounded up to a size bucket (256 bytes, then
 * four buckets per power of two, so at most 25% is wasted; near the adapter's limit, the exact
 * size); a freed buffer goes back to its bucket's free list and the next allocation of that bucket
 * takes it instead of asking the device. Reuse is safe without waiting: every command runs in queue
 * order, so work queued after a free sees the buffer only after the work queued before it.
 */
import type { DeviceBuffer } from '../backend.js';

export class GpuBuffer implements DeviceBuffer {
  freed = false;
  constructor(readonly gpu: GPUBuffer, readonly byteLength: number) {}
}

/** The bucket an allocation of `bytes` is rounded up to. */
export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const octave = 2 ** Math.floor(Math.log2(bytes - 1));
  const step = octave / 4;
  return Math.ceil(bytes / step) * step;
}

/** A buffer size of at least `bytes` that WebGPU takes as a storage binding (a multiple of 4; 256 here, as the buckets). */
export function exactSize(bytes: number): number {
  return Math.max(256, Math.ceil(bytes / 256) * 256);
}

/**
 * The largest buffer WebGPU lets this project use, and the limit's name: every buffer is bound
 * whole as storage, so the smaller of maxBufferSize and maxStorageBufferBindingSize.
 */
export function storageBufferLimit(maxBufferSize: number, maxStorageBufferBindingSize = maxBufferSize): { bytes: number; name: string } {
  return maxStorageBufferBindingSize < maxBufferSize
    ? { bytes: maxStorageBufferBindingSize, name: 'maxStorageBufferBindingSize' }
    : { bytes: maxBufferSize, name: 'maxBufferSize' };
}

export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  #live = new Set<GpuBuffer>();
  #inUse = 0;
  #peak = 0;
  #pooled = 0;

  /** The largest buffer the pool makes (storageBufferLimit). */
  readonly maxBytes: number;
  readonly #limitName: string;

  constructor(readonly device: GPUDevice, maxBufferSize: number, maxStorageBufferBindingSize = maxBufferSize) {
    ({ bytes: this.maxBytes, name: this.#limitName } = storageBufferLimit(maxBufferSize, maxStorageBufferBindingSize));
  }

  alloc(byteLength: number, op: string): GpuBuffer {
    if (!Number.isInteger(byteLength) || byteLength < 0) throw new Error(`${op}: invalid byte length ${byteLength}`);
    let size = bucketSize(byteLength);
    // Near the limit the bucket's rounding must not refuse a buffer that fits: take the exact size
    // (its own free list, like any other size).
    if (size > this.maxBytes) size = exactSize(byteLength);
    if (size > this.maxBytes) {
      throw new Error(`${op}: ${byteLength} bytes exceed the adapter's ${this.#limitName} of ${this.maxBytes}`);
    }
    let gpu = this.#free.get(size)?.pop();
    if (gpu) {
      this.#pooled -= size;
    } else {
      gpu = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
    }
    const buf = new GpuBuffer(gpu, size);
    this.#live.add(buf);
    this.#inUse += size;
    this.#peak = Math.max(this.#peak, this.#inUse);
    return buf;
  }

  free(buf: GpuBuffer): void {
    buf.freed = true;
    this.#live.delete(buf);
    this.#inUse -= buf.byteLength;
    const list = this.#free.get(buf.byteLength) ?? [];
    list.push(buf.gpu);
    this.#free.set(buf.byteLength, list);
    this.#pooled += buf.byteLength;
  }

  /** Destroys the pooled (free) buffers, returning their memory to the device. */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#pooled = 0;
  }

  owns(buf: GpuBuffer): boolean {
    return this.#live.has(buf);
  }

  get bytesInUse(): number { return this.#inUse; }
  get peakBytesInUse(): number { return this.#peak; }
  get bytesReserved(): number { return this.#inUse + this.#pooled; }
  get liveBuffers(): number { return this.#live.size; }
  resetPeak(): void { this.#peak = this.#inUse; }

  destroy(): void {
    for (const b of this.#live) {
      b.freed = true;
      b.gpu.destroy();
    }
    this.#live.clear();
    this.#inUse = 0;
    this.trim();
  }
}
