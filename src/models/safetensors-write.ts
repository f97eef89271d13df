/**
 * Writing `.safetensors` files the way the reference writer does: tensors ordered by element size
 * (largest first, so every tensor stays aligned) then by name, header padded with spaces to a multiple
 * of 8, `__metadata__` {"format": "pt"} by default (transformers refuses other formats), written to a
 * temp file and renamed into place.
 */
import { dtypeSize, f32ArrayToBf16, f32ArrayToF16, isFloatDtype, type FloatDtype, type SafetensorsDtype } from './dtype.js';
import { writeFileAtomic, writeFully } from '../util/atomic-file.js';
import { rawToFloat32, type RawTensor } from './safetensors.js';
import { buildHeader, numel } from './safetensors-header.js';

/** A float32 tensor, or raw bytes with their dtype (copied unchanged when the dtype already matches). */
export type WritableTensor = { readonly shape: readonly number[]; readonly data: Float32Array } | RawTensor;

export type TensorMap = ReadonlyMap<string, WritableTensor> | Readonly<Record<string, WritableTensor>>;

export interface WriteOptions {
  /** Dtype of every float tensor in the file; default: F32 for float32 data, the stored dtype for raw data. */
  readonly dtype?: FloatDtype;
  /** Default {"format": "pt"}; null writes no `__metadata__`. */
  readonly metadata?: Readonly<Record<string, string>> | null;
}

export const defaultMetadata: Readonly<Record<string, string>> = { format: 'pt' };

function isRaw(t: WritableTensor): t is RawTensor {
  return 'dtype' in t;
}

export function tensorEntries(tensors: TensorMap): [string, WritableTensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Readonly<Record<string, WritableTensor>>);
}

/** The dtype a tensor will be stored as. */
export function storedDtype(t: WritableTensor, dtype: FloatDtype | undefined): SafetensorsDtype {
  if (!isRaw(t)) return dtype ?? 'F32';
  return dtype !== undefined && isFloatDtype(t.dtype) ? dtype : t.dtype;
}

/** The bytes to store; shares memory with the input when no conversion is needed. */
export function encodeTensor(name: string, t: WritableTensor, dtype: SafetensorsDtype, file: string): Uint8Array {
  const n = numel(t.shape);
  if (isRaw(t)) {
    if (t.data.length !== n * dtypeSize(t.dtype)) {
      throw new Error(`${file}: tensor '${name}' has ${t.data.length} bytes, shape [${t.shape.join(', ')}] of ${t.dtype} needs ${n * dtypeSize(t.dtype)}`);
    }
    if (t.dtype === dtype) return t.data;
  } else if (t.data.length !== n) {
    throw new Error(`${file}: tensor '${name}' has ${t.data.length} values, shape [${t.shape.join(', ')}] needs ${n}`);
  }
  const f32 = isRaw(t) ? rawToFloat32(t, `${file}: tensor '${name}'`) : t.data;
  switch (dtype) {
    case 'F32':
      return new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
    case 'BF16': {
      const h = f32ArrayToBf16(f32);
      return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    }
    case 'F16': {
      const h = f32ArrayToF16(f32);
      return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    }
    default:
      throw new Error(`${file}: tensor '${name}': cannot convert to ${dtype}`);
  }
}

/** Writes one safetensors file atomically. */
export function writeSafetensors(file: string, tensors: TensorMap, options: WriteOptions = {}): void {
  const metadata = options.metadata === undefined ? defaultMetadata : options.metadata;
  const entries = tensorEntries(tensors).map(([name, t]) => {
    if (name === '') throw new Error(`${file}: a tensor name must not be empty`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${file}: tensor '${name}' has an invalid shape [${t.shape.join(', ')}]`);
    }
    return { name, tensor: t, dtype: storedDtype(t, options.dtype), shape: t.shape };
  });
  entries.sort((a, b) => dtypeSize(b.dtype) - dtypeSize(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const { bytes } = buildHeader(entries, metadata);
  writeFileAtomic(file, (fd) => {
    writeFully(fd, bytes);
    // Convert one tensor at a time, so at most one converted copy is alive.
    for (const e of entries) writeFully(fd, encodeTensor(e.name, e.tensor, e.dtype, file));
  });
}
