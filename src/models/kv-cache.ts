/**
 * Per-layer key/value cache for decoding: k, v [B, maxLen, Hkv, D], filled left to right. Kept outside
 * tidy scopes; dispose() frees it.
 */
import type { Backend } from '../backend/backend.js';
import { copyInto, formatShape, keep, ropeKvWrite, slice, zeros, type Tensor } from '../tensor/index.js';

export class KVCache {
  readonly keys: Tensor[] = [];
  readonly values: Tensor[] = [];
  /** Positions already written (the same for every layer once a forward pass finishes). */
  length = 0;

  #batch: number;

  constructor(readonly numLayers: number, batch: number, readonly maxLen: number,
    readonly numKvHeads: number, readonly headDim: number, backend: Backend) {
    this.#batch = batch;
    for (let i = 0; i < numLayers; i++) {
      this.keys.push(keep(zeros([batch, maxLen, numKvHeads, headDim], 'f32', backend)));
      this.values.push(keep(zeros([batch, maxLen, numKvHeads, headDim], 'f32', backend)));
    }
  }

  /** Rows (sequences) held; keepRows lowers it. */
  get batch(): number {
    return this.#batch;
  }

  /**
   * Keeps `rows` (ascending, distinct) as rows 0, 1, ... in that order and drops the rest; later
   * writes and reads are of rows.length rows. Rows move within the same buffers, through a
   * scratch of a few rows (a backend may not read and write one buffer in one call), and the keys
   * and values become views of their first rows: nothing the size of the cache is allocated, so
   * shrinking a batch step by step leaves no blocks of new sizes behind.
   */
  keepRows(rows: readonly number[]): void {
    rows.forEach((row, i) => {
      if (!Number.isInteger(row) || row < i || row >= this.#batch || (i > 0 && row <= rows[i - 1]!)) {
        throw new Error(`KVCache.keepRows: rows must be ascending and distinct in [0, ${this.#batch}), got ${rows.join(', ')}`);
      }
    });
    if (rows.length === 0) throw new Error('KVCache.keepRows: at least one row must stay');
    if (rows.length === this.#batch) return;
    const count = this.length;
    if (count > 0 && rows.some((row, i) => row !== i)) {
      const scratchRows = Math.min(SCRATCH_ROWS, rows.length);
      const scratch = zeros([scratchRows, this.maxLen, this.numKvHeads, this.headDim], 'f32', this.keys[0]!.backend);
      try {
        for (const t of [...this.keys, ...this.values]) {
          // Runs of rows that stay consecutive move together, a scratch-full at a time.
          let i = 0;
          while (i < rows.length) {
            if (rows[i] === i) { i++; continue; }
            let end = i + 1;
            while (end < rows.length && end - i < scratchRows && rows[end] === rows[i]! + (end - i)) end++;
            copyKvRows(t, rows[i]!, 0, scratch, 0, 0, count, end - i);
            copyKvRows(scratch, 0, 0, t, i, 0, count, end - i);
            i = end;
          }
        }
      } finally {
        scratch.dispose();
      }
    }
    for (const list of [this.keys, this.values]) {
      list.forEach((t, layer) => {
        list[layer] = keep(slice(t, 0, 0, rows.length));
        t.dispose();
      });
    }
    this.#batch = rows.length;
  }

  /** Writes k, v [B, T, Hkv, D] of `layer` at positions [length, length + T). */
  write(layer: number, k: Tensor, v: Tensor): void {
    this.#check(k);
    const T = k.shape[1]!;
    const kSlot = slice(this.keys[layer]!, 1, this.length, this.length + T);
    const vSlot = slice(this.values[layer]!, 1, this.length, this.length + T);
    copyInto(k, kSlot, false);
    copyInto(v, vSlot, false);
    kSlot.dispose();
    vSlot.dispose();
  }

  /**
   * `write` of rope(k) and v after rotating q and k at `positions` with the tables cos, sin, all in
   * one backend call (Backend.ropeKvWrite); returns rope(q). Only where no gradient is recorded.
   */
  writeRotated(layer: number, q: Tensor, k: Tensor, v: Tensor, positions: Tensor, cos: Tensor, sin: Tensor): Tensor {
    this.#check(k);
    return ropeKvWrite(q, k, v, positions, cos, sin, this.keys[layer]!, this.values[layer]!, this.length);
  }

  #check(k: Tensor): void {
    const T = k.shape[1]!;
    if (this.length + T > this.maxLen) {
      throw new Error(`KVCache: ${this.length} cached + ${T} new positions exceed the cache length ${this.maxLen}`);
    }
    if (k.shape[0] !== this.batch || k.shape[2] !== this.numKvHeads || k.shape[3] !== this.headDim) {
      throw new Error(`KVCache: keys ${formatShape(k.shape)} do not fit a cache of [${this.batch}, ${this.maxLen}, ${this.numKvHeads}, ${this.headDim}]`);
    }
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t.dispose();
    this.keys.length = 0;
    this.values.length = 0;
  }
}

/** Rows of keepRows' scratch: each move of a run costs two copies, so a few rows per copy suffice. */
const SCRATCH_ROWS = 16;

/**
 * Copies `count` positions of `slots` consecutive rows of a k or v tensor [B, L, H, D]: from row
 * `fromSlot`, column `fromCol` of `from` to row `toSlot`, column `toCol` of `to`.
 */
export function copyKvRows(from: Tensor, fromSlot: number, fromCol: number, to: Tensor, toSlot: number, toCol: number, count: number, slots: number): void {
  if (count === 0 || slots === 0) return;
  const a = slice(from, 0, fromSlot, fromSlot + slots);
  const src = slice(a, 1, fromCol, fromCol + count);
  const b = slice(to, 0, toSlot, toSlot + slots);
  const dst = slice(b, 1, toCol, toCol + count);
  try {
    copyInto(src, dst, false);
  } finally {
    for (const t of [a, src, b, dst]) t.dispose();
  }
}
