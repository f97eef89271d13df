/**
 * Models: Hugging Face checkpoint formats (safetensors, config.json) and, later, the architectures.
 */
export * from './dtype.js';
export * from './safetensors-header.js';
export * from './safetensors.js';
export * from './safetensors-write.js';
export * from './safetensors-sharded.js';
export * from './config.js';
export type { Json } from './config-keys.js';
export { writeFileAtomic, writeTextAtomic } from './atomic-file.js';
