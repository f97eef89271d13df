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

  constructor(readonly numLayers: number, readonly batch: number, readonly maxLen: number,
    readonly numKvHeads: number, readonly headDim: number, backend: Backend) {
    for (let i = 0; i < numLayers; i++) {
      this.keys.push(keep(zeros([batch, maxLen, numKvHeads, headDim], 'f32', backend)));
      this.values.push(keep(zeros([batch, maxLen, numKvHeads, headDim], 'f32', backend)));
    }
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
