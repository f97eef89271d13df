/**
 * RoPE cos/sin tables [maxPos, headDim/2], as HF's LlamaRotaryEmbedding computes them:
 * inv_freq[j] = 1 / theta^(2j/D) in float32, angle = pos * inv_freq[j].
 */
import type { Backend } from '../backend/backend.js';
import { keep, tensor, type Tensor } from '../tensor/index.js';

export interface RopeTables {
  cos: Tensor;
  sin: Tensor;
  length: number;
}

export function makeRopeTables(headDim: number, theta: number, length: number, backend: Backend): RopeTables {
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let j = 0; j < half; j++) invFreq[j] = 1 / theta ** ((2 * j) / headDim);
  const cos = new Float32Array(length * half);
  const sin = new Float32Array(length * half);
  for (let p = 0; p < length; p++) {
    for (let j = 0; j < half; j++) {
      // HF multiplies in float32 before cos/sin; round the angle the same way.
      const angle = Math.fround(p * invFreq[j]!);
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return {
    cos: keep(tensor(cos, [length, half], 'f32', backend)),
    sin: keep(tensor(sin, [length, half], 'f32', backend)),
    length,
  };
}
