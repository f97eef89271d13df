/** Rollouts: batched generation with a KV cache and token sampling; the client of remote inference servers. */
export { generate, MASKED_KEY_BIAS, type GenerateOptions, type GenerationOutput } from './generate.js';
export { rowSeed, sampleToken, validateSampling, type SamplingParams, type Sampled } from './sampler.js';
export { normalizeServerUrl, RemoteServer, RemoteServerError, type RemoteFailure, type RemoteServerOptions } from './remote-client.js';
export { completeOnServer, completionBody, parseCompletion, type RemoteSample, type RemoteSampling } from './remote-completion.js';
export { ServerPool, type ServerPoolOptions } from './remote-pool.js';
export { PrefixCache, type PrefixHit } from './prefix-cache.js';
export { StepDecoder, topLogprobs, type DecodeRequest, type RowToken, type StepDecoderOptions, type TopLogprob } from './step-decoder.js';
