/**
 * The safetensors header: parsing with the validation rules of the reference (Rust) implementation,
 * and building a header for writing.
 *
 * Layout: u64 little-endian N, then N bytes of JSON (UTF-8, may be padded with spaces), then the data
 * buffer. Each tensor's `data_offsets` are [begin, end) relative to the start of the data buffer.
 * The reference reader insists the tensors tile the buffer exactly (no gaps, no overlaps, nothing
 * trailing), so we do too: a file that passes here loads in Hugging Face tooling as well.
 */
import { dtypeSize, isSafetensorsDtype, safetensorsDtypes, type SafetensorsDtype } from './dtype.js';

/** One tensor's entry; offsets are absolute in the file (header already added). */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Absolute byte offset of the first element in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  /** Tensors in file order (by offset). */
  readonly tensors: readonly TensorInfo[];
  readonly metadata: Readonly<Record<string, string>> | null;
  /** 8 + header length: where the data buffer starts. */
  readonly dataStart: number;
}

/** The reference implementation refuses headers above 100 MB; a larger one means a corrupt length. */
export const maxHeaderBytes = 100_000_000;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Reads the 8-byte length prefix; `fileSize` bounds it. */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) throw new Error(`${file}: not a safetensors file: ${fileSize} bytes, fewer than the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(maxHeaderBytes)) throw new Error(`${file}: header length ${n} exceeds the ${maxHeaderBytes}-byte limit (corrupt file?)`);
  if (Number(n) + 8 > fileSize) {
    throw new Error(`${file}: header length ${n} runs past the end of the file (${fileSize} bytes): truncated or corrupt`);
  }
  return Number(n);
}

/** Parses and validates the JSON header; `fileSize` is the whole file's size. */
export function parseHeader(json: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const dataStart = 8 + json.length;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw new Error(`${file}: header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file}: header must be a JSON object`);
  }
  let metadata: Record<string, string> | null = null;
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, file);
      continue;
    }
    tensors.push(parseEntry(name, entry, dataStart, file));
  }
  tensors.sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  checkTiling(tensors, dataStart, fileSize, file);
  return { tensors, metadata, dataStart };
}

function parseMetadata(entry: unknown, file: string): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new Error(`${file}: __metadata__ must be an object of strings`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new Error(`${file}: __metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}

function parseEntry(name: string, entry: unknown, dataStart: number, file: string): TensorInfo {
  const where = `${file}: tensor '${name}'`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error(`${where}: entry must be an object`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (!isSafetensorsDtype(dtype)) {
    throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)} (known: ${safetensorsDtypes.join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new Error(`${where}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new Error(`${where}: data_offsets [${begin}, ${end}] end before begin`);
  const expected = numel(shape as number[]) * dtypeSize(dtype);
  if (end - begin !== expected) {
    throw new Error(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${expected}`);
  }
  return { name, dtype, shape: shape as number[], offset: dataStart + begin, byteLength: end - begin };
}

/** Tensors sorted by offset must cover the data buffer exactly. */
function checkTiling(tensors: readonly TensorInfo[], dataStart: number, fileSize: number, file: string): void {
  let cursor = dataStart;
  let prev: TensorInfo | null = null;
  for (const t of tensors) {
    if (t.offset < cursor) {
      throw new Error(`${file}: tensor '${t.name}' [${t.offset - dataStart}, ${t.offset - dataStart + t.byteLength}) overlaps tensor '${prev?.name}'`);
    }
    if (t.offset > cursor) {
      throw new Error(`${file}: gap of ${t.offset - cursor} bytes before tensor '${t.name}' (data_offsets must be contiguous)`);
    }
    if (t.offset + t.byteLength > fileSize) {
      throw new Error(`${file}: tensor '${t.name}' data_offsets end ${t.offset + t.byteLength - dataStart} past the data buffer (${fileSize - dataStart} bytes): truncated file?`);
    }
    cursor = t.offset + t.byteLength;
    prev = t;
  }
  if (cursor !== fileSize) {
    throw new Error(`${file}: ${fileSize - cursor} trailing bytes after the last tensor (header describes ${cursor - dataStart} data bytes, file has ${fileSize - dataStart})`);
  }
}

/**
 * Builds the header bytes for tensors laid out in the given order, padded with spaces so the data
 * buffer starts at a multiple of 8 (what the reference writer does, keeping every dtype aligned).
 */
export function buildHeader(
  entries: readonly { name: string; dtype: SafetensorsDtype; shape: readonly number[] }[],
  metadata: Readonly<Record<string, string>> | null,
): { bytes: Uint8Array; offsets: number[] } {
  const obj: Record<string, unknown> = {};
  if (metadata !== null) obj.__metadata__ = metadata;
  const offsets: number[] = [];
  let cursor = 0;
  for (const e of entries) {
    if (e.name === '__metadata__') throw new Error(`safetensors: '__metadata__' cannot name a tensor`);
    const size = numel(e.shape) * dtypeSize(e.dtype);
    obj[e.name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [cursor, cursor + size] };
    offsets.push(cursor);
    cursor += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const padded = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(json, 8);
  return { bytes, offsets };
}
