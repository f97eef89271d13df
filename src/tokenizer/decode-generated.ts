/**
 * Text of token ids a model generated. A model's vocabulary can be larger than its tokenizer's:
 * Qwen2.5's embedding has 151,936 rows, its tokenizer 151,665 ids, and a model with random (or
 * badly trained) weights can draw one of the rows in between. Those ids decode as empty text, as
 * transformers' decode skips ids its tokenizer does not know; `Tokenizer.decode` itself still
 * rejects them, since any other caller passing one has a bug.
 */
import type { DecodeOptions, Tokenizer } from './types.js';

export function decodeGenerated(tokenizer: Tokenizer, ids: readonly number[], options?: DecodeOptions): string {
  return tokenizer.decode(ids.filter((id) => id < tokenizer.vocabSize), options);
}
