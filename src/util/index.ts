export { Rng } from './rng.js';
export * from './float16.js';
