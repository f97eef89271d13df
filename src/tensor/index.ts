/** The tensor engine's public API: tensors, ops, autograd, scopes. */
export { Tensor, Storage } from './tensor.js';
export type { GradNode } from './autograd.js';
export { copyInto } from './autograd.js';
export { getBackend, setBackend, hasBackend, isGradEnabled, enableGrad, keep, noGrad, tidy, tidyAsync, isTensor } from './runtime.js';
export { checkpoint } from './checkpoint.js';
export { numel, contiguousStrides, broadcastShapes, formatShape, type Shape } from './shape.js';
export { tensor, full, zeros, ones, scalar, zerosLike, type HostData } from './ops/creation.js';
export { contiguous, reshape, permute, transpose, slice, expand, concat } from './ops/movement.js';
export {
  add, sub, mul, div, maximum, minimum, neg, exp, log, sqrt, rsqrt, silu, sigmoid, abs, square, reciprocal, affine, clamp,
  eq, gt, ge, lt, where,
} from './ops/elementwise.js';
export { sum, mean, max, sumToShape } from './ops/reduce.js';
export { matmul, linear } from './ops/matmul.js';
export {
  softmax, logSoftmax, embedding, rmsnorm, rope, attention, logprobEntropy, swiglu,
  type AttentionOptions, type LogprobEntropy,
} from './ops/fused.js';
export { linearLogprobEntropy } from './ops/linear-logprob.js';
export { sampleTokens, validateSampleArgs, type SampledTokens } from './ops/sample.js';
export { linearGroup, ropeKvWrite, recordsGrad, type LinearGroupLayer, type LinearGroupOptions } from './ops/decode.js';
