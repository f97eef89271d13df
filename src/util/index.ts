export { Rng } from './rng.js';
export * from './float16.js';
export * from './atomic-file.js';
