/**
 * Models: Hugging Face checkpoint formats (safetensors, config.json), the Llama/Qwen2 architectures
 * with their KV cache, and loading/saving whole model folders.
 */
export * from './dtype.js';
export * from './safetensors-header.js';
export * from './safetensors.js';
export * from './safetensors-write.js';
export * from './safetensors-sharded.js';
export * from './config.js';
export type { Json } from './config-keys.js';
export { CausalLM, ValueModel, DecoderModel, type ForwardOptions, type BuildOptions } from './llama.js';
export { KVCache } from './kv-cache.js';
export { makeRopeTables, type RopeTables } from './rope-tables.js';
export { loadCausalLM, loadValueModel, saveModel, countParameters, checkFits, type LoadModelOptions, type SaveModelOptions } from './load.js';
export {
  LoraModel, loadLora, mergeLora, mergedWeight, readLoraConfig, checkLoraConfig, targetLinears,
  ADAPTER_CONFIG, ADAPTER_WEIGHTS, type LoraConfig,
} from './lora.js';
