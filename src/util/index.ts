export { Prng, permutation, type PrngState } from './prng.js';
export * from './float16.js';
export * from './atomic-file.js';
