/**
 * Reading `.safetensors` files lazily: the header is parsed on open, each tensor is read by offset
 * through a file descriptor when asked for, so a large checkpoint is never held in memory twice.
 *
 * Synchronous on purpose: loading happens once at startup, and a sync API is usable from both sync
 * and async callers.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { bf16ArrayToF16, bf16ArrayToF32, dtypeSize, f16ArrayToF32, f32ArrayToF16, type SafetensorsDtype } from './dtype.js';
import { numel, parseHeader, parseHeaderLength, type SafetensorsHeader, type TensorInfo } from './safetensors-header.js';

/** A tensor's raw little-endian bytes, as stored. */
export interface RawTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** Where tensors come from: one file or a sharded folder. Names are the checkpoint's names. */
export interface WeightSource {
  readonly names: readonly string[];
  readonly metadata: Readonly<Record<string, string>> | null;
  has(name: string): boolean;
  info(name: string): TensorInfo;
  readRaw(name: string): RawTensor;
  /** Widens BF16/F16 to float32 (exact); F32 is read straight into the result. */
  readFloat32(name: string): Float32Array;
  close(): void;
}

// Typed-array views over file bytes assume the host is little-endian, like the format.
if (endianness() !== 'LE') throw new Error('safetensors: a big-endian host is not supported');

/** Reads at most 1 GiB per call: `readSync` lengths are limited to 2 GiB. */
const chunkBytes = 1 << 30;

function readFully(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, Math.min(chunkBytes, target.length - done), position + done);
    if (n === 0) throw new Error(`${file}: unexpected end of file at byte ${position + done} (file truncated while open?)`);
    done += n;
  }
}

export class SafetensorsFile implements WeightSource {
  readonly file: string;
  readonly header: SafetensorsHeader;
  readonly names: readonly string[];
  readonly #byName: ReadonlyMap<string, TensorInfo>;
  #fd: number | null;

  private constructor(file: string, fd: number, header: SafetensorsHeader) {
    this.file = file;
    this.#fd = fd;
    this.header = header;
    this.#byName = new Map(header.tensors.map((t) => [t.name, t]));
    this.names = [...this.#byName.keys()].sort();
  }

  /** Opens and validates the header; the file stays open until `close()`. */
  static open(file: string): SafetensorsFile {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const prefix = new Uint8Array(8);
      if (size >= 8) readFully(fd, prefix, 0, file);
      const n = parseHeaderLength(prefix, size, file);
      const json = new Uint8Array(n);
      readFully(fd, json, 8, file);
      return new SafetensorsFile(file, fd, parseHeader(json, size, file));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  get metadata(): Readonly<Record<string, string>> | null {
    return this.header.metadata;
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.#byName.get(name);
    if (t === undefined) throw new Error(`${this.file}: no tensor named '${name}'`);
    return t;
  }

  readRaw(name: string): RawTensor {
    const t = this.info(name);
    // A fresh ArrayBuffer per tensor: offset 0, so any typed view over it is aligned.
    const data = new Uint8Array(t.byteLength);
    readFully(this.#open(), data, t.offset, this.file);
    return { dtype: t.dtype, shape: t.shape, data };
  }

  readFloat32(name: string): Float32Array {
    const t = this.info(name);
    const n = numel(t.shape);
    const out = new Float32Array(n);
    const bytes = new Uint8Array(out.buffer);
    switch (t.dtype) {
      case 'F32':
        readFully(this.#open(), bytes, t.offset, this.file);
        return out;
      case 'BF16':
      case 'F16': {
        // Read the 16-bit values into the upper half of the output buffer, then widen in place front
        // to back: writing element i (bytes 4i..4i+3) never reaches a value not yet read (2n+2j, j > i).
        const half = new Uint16Array(out.buffer, 2 * n, n);
        readFully(this.#open(), new Uint8Array(out.buffer, 2 * n, 2 * n), t.offset, this.file);
        return t.dtype === 'BF16' ? bf16ArrayToF32(half, out) : f16ArrayToF32(half, out);
      }
      default:
        throw new Error(`${this.file}: tensor '${name}' has dtype ${t.dtype}; only BF16, F16 and F32 widen to float32`);
    }
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  #open(): number {
    if (this.#fd === null) throw new Error(`${this.file}: read after close()`);
    return this.#fd;
  }
}

/** Reads every tensor of one file as raw bytes (small files, tests). */
export function readSafetensors(file: string): { tensors: Map<string, RawTensor>; metadata: Record<string, string> | null } {
  const f = SafetensorsFile.open(file);
  try {
    const tensors = new Map<string, RawTensor>();
    for (const name of f.names) tensors.set(name, f.readRaw(name));
    return { tensors, metadata: f.metadata === null ? null : { ...f.metadata } };
  } finally {
    f.close();
  }
}

/**
 * A raw tensor's element count and bytes, checked against its shape and dtype; typed views need an
 * offset that is a multiple of the element size, so the bytes are copied only when it is not.
 */
function checkedBytes(t: RawTensor, what: string): { n: number; aligned: Uint8Array } {
  const n = numel(t.shape);
  if (t.data.length !== n * dtypeSize(t.dtype)) {
    throw new Error(`${what}: ${t.data.length} bytes, but shape [${t.shape.join(', ')}] of ${t.dtype} needs ${n * dtypeSize(t.dtype)}`);
  }
  return { n, aligned: t.data.byteOffset % 4 === 0 ? t.data : t.data.slice() };
}

/** Widens a raw tensor to float32 (copies). */
export function rawToFloat32(t: RawTensor, what = 'tensor'): Float32Array {
  const { n, aligned } = checkedBytes(t, what);
  switch (t.dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer, aligned.byteOffset, n).slice();
    case 'BF16':
      return bf16ArrayToF32(new Uint16Array(aligned.buffer, aligned.byteOffset, n));
    case 'F16':
      return f16ArrayToF32(new Uint16Array(aligned.buffer, aligned.byteOffset, n));
    default:
      throw new Error(`${what}: dtype ${t.dtype} does not widen to float32 (only BF16, F16, F32)`);
  }
}

/**
 * A raw tensor as F16 bits (for f16 weights on the device): F16 as stored, BF16 narrowed straight
 * from its bits, F32 rounded to nearest even. BF16 is narrowed in place (no second copy of a large
 * checkpoint), so `t.data` no longer holds BF16 afterwards.
 */
export function rawToFloat16(t: RawTensor, what = 'tensor'): Uint16Array {
  const { n, aligned } = checkedBytes(t, what);
  switch (t.dtype) {
    case 'F16':
      return new Uint16Array(aligned.buffer, aligned.byteOffset, n);
    case 'BF16':
      // In place: each element is read before it is overwritten.
      return bf16ArrayToF16(new Uint16Array(aligned.buffer, aligned.byteOffset, n), new Uint16Array(aligned.buffer, aligned.byteOffset, n));
    case 'F32':
      return f32ArrayToF16(new Float32Array(aligned.buffer, aligned.byteOffset, n));
    default:
      throw new Error(`${what}: dtype ${t.dtype} does not convert to float16 (only BF16, F16, F32)`);
  }
}
