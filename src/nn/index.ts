/** Neural-network building blocks: modules and parameters, layers, initialisers, AdamW, clipping, LR schedules. */
export { normalInit, constantInit, zerosInit, onesInit, uninitialized, initTensor, type Init } from './init.js';
export { createParameter, asParameter, writeParameter, type Parameter } from './parameter.js';
export { Module, ModuleList, copyParameters, type ParameterData, type LoadOptions, type LoadReport } from './module.js';
export { Linear, type LinearOptions } from './linear.js';
export { Embedding } from './embedding.js';
export { LoraAdapter, LoraSwitch } from './lora.js';
export { RMSNorm } from './rmsnorm.js';
export { AdamW, type AdamWOptions, type AdamWState, type AdamWParamState } from './adamw.js';
export { clipGradNorm, clipGradNormAsync } from './clip.js';
export {
  constantWithWarmup, cosineWithWarmup, lrFactorAt, warmupStepsFromRatio, LrScheduler,
  type LrSchedule, type LrSchedulerState,
} from './schedule.js';
