/** Rollouts: batched generation with a KV cache and token sampling. */
export { generate, MASKED_KEY_BIAS, type GenerateOptions, type GenerationOutput } from './generate.js';
export { sampleToken, validateSampling, type SamplingParams, type Sampled } from './sampler.js';
