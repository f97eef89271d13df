/** Copies between KV caches, for the decoders that rearrange rows (step-decoder.ts, prefix-cache.ts). */
import { copyKvRows, type KVCache } from '../models/kv-cache.js';

/**
 * Copies `count` positions of `slots` consecutive rows, every layer's keys and values: from row
 * `fromSlot`, column `fromCol` of `from` to row `toSlot`, column `toCol` of `to`.
 */
export function copyKvRegion(from: KVCache, fromSlot: number, fromCol: number, to: KVCache, toSlot: number, toCol: number, count: number, slots = 1): void {
  for (let layer = 0; layer < from.numLayers; layer++) {
    copyKvRows(from.keys[layer]!, fromSlot, fromCol, to.keys[layer]!, toSlot, toCol, count, slots);
    copyKvRows(from.values[layer]!, fromSlot, fromCol, to.values[layer]!, toSlot, toCol, count, slots);
  }
}
