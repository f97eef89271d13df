/** Copies between KV caches, for the decoders that rearrange rows (step-decoder.ts, prefix-cache.ts). */
import type { KVCache } from '../models/kv-cache.js';
import { copyInto, slice, type Tensor } from '../tensor/index.js';

/**
 * Copies `count` positions of `slots` consecutive rows, every layer's keys and values: from row
 * `fromSlot`, column `fromCol` of `from` to row `toSlot`, column `toCol` of `to`.
 */
export function copyKvRegion(from: KVCache, fromSlot: number, fromCol: number, to: KVCache, toSlot: number, toCol: number, count: number, slots = 1): void {
  for (let layer = 0; layer < from.numLayers; layer++) {
    copyRegion(from.keys[layer]!, fromSlot, fromCol, to.keys[layer]!, toSlot, toCol, count, slots);
    copyRegion(from.values[layer]!, fromSlot, fromCol, to.values[layer]!, toSlot, toCol, count, slots);
  }
}

/** One tensor's part of copyKvRegion; k/v [B, L, H, D]. */
function copyRegion(from: Tensor, fromSlot: number, fromCol: number, to: Tensor, toSlot: number, toCol: number, count: number, slots: number): void {
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
