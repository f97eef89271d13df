/** RL core: advantages, losses with their gradients, KL, metrics, DAPO helpers. Engine-independent. */
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
