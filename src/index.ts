/**
 * tinyzero as a library: each layer under its own namespace, from the engine up to the trainer.
 *   import { tensor, nn, models, trainer } from 'tinyzero';
 */
export * as util from './util/index.js';
export * as tensor from './tensor/index.js';
export * as backend from './backend/index.js';
export * as nn from './nn/index.js';
export * as models from './models/index.js';
export * as tokenizer from './tokenizer/index.js';
export * as generation from './generation/index.js';
export * as rl from './rl/index.js';
export * as tasks from './tasks/index.js';
export * as data from './data/index.js';
export * as config from './config/index.js';
export * as tracking from './tracking/index.js';
export * as checkpoint from './checkpoint/index.js';
export * as trainer from './trainer/index.js';
