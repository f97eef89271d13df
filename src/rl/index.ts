/**
 * RL core: advantage estimators, losses, KL, data metrics and DAPO helpers, as pure functions over
 * flat `[batch, responseLength]` arrays. Engine-independent by design.
 *
 * Gradient contract: each loss returns ∂loss/∂x for the per-token tensors the engine produced
 * (`dLogProb`, `dEntropy`, `dVpreds`). The trainer back-propagates by seeding the engine's backward
 * pass at those tensors with these upstream gradients, or equivalently by calling backward on the
 * surrogate scalar `Σ logProb·stopGrad(dLogProb) + Σ entropy·stopGrad(dEntropy)`, which has the
 * same gradient with respect to every parameter.
 */
export * from './types.js';
export * from './masked.js';
export * from './advantages.js';
export * from './estimators.js';
export * from './agg.js';
export * from './policy-loss.js';
export * from './value-loss.js';
export * from './entropy.js';
export * from './kl.js';
export * from './kl-controller.js';
export * from './kl-reward.js';
export * from './actor-loss.js';
export * from './metrics.js';
export * from './dapo.js';
