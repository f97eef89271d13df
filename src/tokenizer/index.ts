/**
 * Tokenizers: Hugging Face `tokenizer.json` folders and veRL's character tokenizer, behind one interface.
 */
export * from './types.js';
export * from './chat-template.js';
export * from './char-tokenizer.js';
export * from './hf-tokenizer.js';
export * from './load.js';
export * from './phrase-tokenizer.js';
export * from './decode-generated.js';
