// Entry point of the WebAssembly kernels; scripts/build-kernels.mjs compiles it twice (plain SIMD
// and relaxed SIMD). Every export takes byte pointers into the one shared memory and element
// counts; nothing here allocates. Pooled kernels end with (start, end, tid): the unit range the
// calling thread owns and its index (for per-thread scratch).
export { fill, unary, stridedMap, adamw, swiglu, swigluBackward } from './elementwise';
export { reduceRows, reduceCols, softmax, softmaxBackward, logSoftmax, logSoftmaxBackward } from './reduce';
export { packB, gemm, gemvN, gemvT, gemmTN, gemmTNNarrow } from './matmul';
export { rmsnorm, rmsnormBackwardRows, rmsnormBackwardDw, rope, embedding, embeddingBackward } from './norm';
export { attention, attentionBlocks, attentionBackward, attentionBackwardRows } from './attention';
export { logprobEntropy, logprobEntropyBackward } from './logprob';
export { packBHalf, gemvNHalf, gemvTHalf, embeddingHalf } from './half';
export { sample } from './sample';
export { linearGroup, linearGroupRows, ropeKvWrite } from './decode';
